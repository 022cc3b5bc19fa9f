"""Delivery end to end: the outbox, the dispatcher and a real HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from service.webhooks.dispatcher import Dispatcher, DispatcherConfig, asyncpg_dsn
from tests.conftest import Tenant, dispatching, emit
from tests.receiver import Received, Receiver, Reply


async def endpoint(tenant: Tenant, url: str, **extra: Any) -> dict[str, Any]:
    return await tenant.create("/v1/webhook-endpoints", {"url": url, **extra})


async def deliveries(tenant: Tenant, event_id: str) -> list[dict[str, Any]]:
    response = await tenant.get(f"/v1/events/{event_id}")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["deliveries"]
    return result


async def test_an_event_arrives_signed_with_the_stored_bytes(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as receiver:
        created = await endpoint(tenant, receiver.url)
        [event_id] = await emit(app, tenant.organization_id, "objective.created")
        assert await dispatcher.dispatch_once() == 1
        [request] = receiver.received
    # The reference library verifies exactly what we sent.
    payload = Webhook(created["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "objective.created"
    assert request.headers["webhook-id"] == event_id
    assert request.headers["content-type"] == "application/json"
    stored = (await tenant.get(f"/v1/events/{event_id}")).json()
    assert json.loads(request.body) == stored["body"]
    [delivery] = stored["deliveries"]
    assert delivery["status"] == "succeeded"
    assert delivery["attempt_count"] == 1


async def test_event_type_filters_exact_prefix_and_all(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as exact, Receiver() as prefix, Receiver() as everything:
        await endpoint(tenant, exact.url, event_types=["kpi.breached"])
        await endpoint(tenant, prefix.url, event_types=["objective.*"])
        await endpoint(tenant, everything.url)
        await emit(app, tenant.organization_id, "kpi.breached")
        await emit(app, tenant.organization_id, "objective.status_changed")
        await emit(app, tenant.organization_id, "kpi.recovered")
        while await dispatcher.dispatch_once():
            pass
    types = [[json.loads(r.body)["type"] for r in rec.received] for rec in (exact, prefix)]
    assert types == [["kpi.breached"], ["objective.status_changed"]]
    assert len(everything.received) == 3


async def test_disabled_endpoints_and_muted_events_get_nothing(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as receiver:
        await endpoint(tenant, receiver.url, disabled=True)
        await emit(app, tenant.organization_id, "kpi.breached")
        assert await dispatcher.dispatch_once() == 0
    assert receiver.received == []


async def test_another_organizations_endpoint_never_sees_our_events(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as ours, Receiver() as theirs:
        await endpoint(tenant, ours.url)
        await endpoint(other_tenant, theirs.url)
        await emit(app, tenant.organization_id, "kpi.breached", count=3)
        while await dispatcher.dispatch_once():
            pass
    assert len(ours.received) == 3
    assert theirs.received == []


async def test_a_failing_receiver_that_recovers_gets_every_event(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    calls: dict[str, int] = {}

    def flaky(request: Received) -> Reply:
        msg_id = request.headers["webhook-id"]
        calls[msg_id] = calls.get(msg_id, 0) + 1
        return Reply(500) if calls[msg_id] < 3 else Reply(200)

    async with Receiver(flaky) as receiver:
        created = await endpoint(tenant, receiver.url)
        ids = await emit(app, tenant.organization_id, "kpi.breached", count=5)
        async with dispatching(dispatcher):
            await receiver.wait_for(15)
            await asyncio.sleep(0.2)
    assert sorted(set(receiver.ids())) == sorted(ids)
    assert all(calls[i] == 3 for i in ids)
    # Every retry carried the same id and body.
    bodies = {r.headers["webhook-id"]: set() for r in receiver.received}
    for r in receiver.received:
        bodies[r.headers["webhook-id"]].add(r.body)
    assert all(len(b) == 1 for b in bodies.values())
    attempts = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}/attempts")).json()
    outcomes = sorted(a["outcome"] for a in attempts["items"])
    assert outcomes.count("succeeded") == 5 and outcomes.count("retrying") == 10
    failed = next(a for a in attempts["items"] if a["outcome"] == "retrying")
    assert failed["response_status"] == 500 and failed["error_class"] == "http_status"
    for event_id in ids:
        assert [d["status"] for d in await deliveries(tenant, event_id)] == ["succeeded"]


async def test_the_schedule_runs_out_and_the_message_fails(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    # A 500, not a 503: an overloaded receiver's retries wait the 60 s penalty (§4.4).
    async with Receiver(lambda _: Reply(500)) as receiver:
        await endpoint(tenant, receiver.url)
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")
        async with dispatching(dispatcher):
            await receiver.wait_for(3)
            await asyncio.sleep(0.5)
    assert len(receiver.received) == 3  # first attempt and the two retries of the schedule
    [delivery] = await deliveries(tenant, event_id)
    assert delivery["status"] == "failed" and delivery["last_status_code"] == 500


async def test_redirects_are_failures_and_are_not_followed(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as target:
        redirect = Reply(307, headers={"location": target.url})
        async with Receiver(lambda _: redirect) as receiver:
            created = await endpoint(tenant, receiver.url)
            await emit(app, tenant.organization_id, "kpi.breached")
            await dispatcher.dispatch_once()
    assert target.received == []
    [attempt] = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}/attempts")).json()[
        "items"
    ]
    assert attempt["error_class"] == "redirect" and attempt["outcome"] == "retrying"


async def test_410_disables_the_endpoint_and_cancels_its_queue(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver(lambda _: Reply(410)) as receiver, Receiver() as ops:
        # Receivers often keep a token in the path or query: events must not carry it.
        created = await endpoint(tenant, f"{receiver.url}/t0ken-path?token=s3cret")
        await endpoint(tenant, ops.url, event_types=["webhook_endpoint.*"])
        await emit(app, tenant.organization_id, "kpi.breached")
        await dispatcher.dispatch_once()
        await emit(app, tenant.organization_id, "kpi.breached")
        while await dispatcher.dispatch_once():
            pass
    assert len(receiver.received) == 1
    state = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}")).json()
    assert state["disabled"] is True and state["disabled_reason"] == "gone"
    [notice] = ops.received
    data = json.loads(notice.body)["data"]
    assert data["reason"] == "gone" and data["endpoint_id"] == created["id"]
    assert data["url_origin"] == f"http://127.0.0.1:{receiver.port}" and "url" not in data
    # Read keys see events: neither REST nor GraphQL gives them the endpoint's path or query.
    reader = await tenant.key_with("read")
    [event] = (await reader.get("/v1/events?type=webhook_endpoint.disabled")).json()["items"]
    read = await reader.get(f"/v1/events/{event['id']}")
    assert read.status_code == 200 and read.json()["body"]["data"] == data
    query = '{ events(type: "webhook_endpoint.disabled") { edges { node { body } } } }'
    graphql = await reader.post("/graphql", json={"query": query})
    assert graphql.json()["data"]["events"]["edges"][0]["node"]["body"]["data"] == data
    for text in (notice.body.decode(), read.text, graphql.text):
        assert "t0ken-path" not in text and "s3cret" not in text


async def test_receiver_directives_abort_the_message_or_disable_the_endpoint(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    abort = Reply(500, headers={"webhook-delivery": "abort-message"})
    async with Receiver(lambda _: abort) as aborting:
        await endpoint(tenant, aborting.url)
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")
        await dispatcher.dispatch_once()
        await asyncio.sleep(0.3)
        assert await dispatcher.dispatch_once() == 0
    [delivery] = await deliveries(tenant, event_id)
    assert delivery["status"] == "failed"
    disable = Reply(500, headers={"webhook-delivery": "disable"})
    async with Receiver(lambda _: disable) as leaving:
        created = await endpoint(tenant, leaving.url)
        await tenant.post(f"/v1/webhook-endpoints/{created['id']}/test")
        while await dispatcher.dispatch_once():
            pass
    state = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}")).json()
    assert state["disabled_reason"] == "receiver_requested"


async def test_retry_after_is_honoured(
    app: FastAPI, tenant: Tenant, database_url: str, dispatcher_config: DispatcherConfig
) -> None:
    # The penalty shortened to 1 s: Retry-After 2 is within [1 s, 2 s], so it is kept.
    config = dataclasses.replace(dispatcher_config, overload_penalty=1.0)
    replies = iter([Reply(429, headers={"retry-after": "2"}), Reply(200)])
    async with (
        Dispatcher(asyncpg_dsn(database_url), config) as dispatcher,
        Receiver(lambda _: next(replies)) as receiver,
    ):
        created = await endpoint(tenant, receiver.url)
        await emit(app, tenant.organization_id, "kpi.breached")
        async with dispatching(dispatcher):
            await receiver.wait_for(2, within=10)
    first, second = receiver.received
    assert second.at - first.at >= 1.9  # neither the 0.2 s schedule nor the 1 s penalty
    url = f"/v1/webhook-endpoints/{created['id']}/attempts"
    attempts = (await tenant.get(url)).json()
    assert [a["outcome"] for a in attempts["items"]] == ["succeeded", "retrying"]
    newest = (await tenant.get(url, params={"limit": 1})).json()
    older = (await tenant.get(url, params={"limit": 1, "cursor": newest["next_cursor"]})).json()
    assert [a["id"] for a in newest["items"] + older["items"]] == [
        a["id"] for a in attempts["items"]
    ]
    assert older["next_cursor"] is None


async def test_an_overloaded_receiver_gets_a_minute_whatever_the_schedule_says(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    """§4.4: 429, 502, 503, 504 and timeouts wait at least 60 s (the schedule says 0.2 s)."""
    async with Receiver(lambda _: Reply(429)) as receiver:
        await endpoint(tenant, receiver.url)
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")
        await dispatcher.dispatch_once()
    [delivery] = await deliveries(tenant, event_id)
    assert delivery["status"] == "retrying"
    scheduled = datetime.fromisoformat(delivery["next_attempt_at"].replace("Z", "+00:00"))
    recorded = datetime.fromisoformat(delivery["updated_at"].replace("Z", "+00:00"))
    assert scheduled - recorded >= timedelta(seconds=59)


async def test_a_hanging_receiver_times_out_without_holding_up_others(
    app: FastAPI, tenant: Tenant, settings: Any, database_url: str
) -> None:
    config = DispatcherConfig.from_settings(
        settings.model_copy(update={"webhook_timeout": 1.0, "webhook_connect_timeout": 1.0})
    )
    async with (
        Dispatcher(asyncpg_dsn(database_url), config) as dispatcher,
        Receiver(lambda _: Reply(delay=30)) as hanging,
        Receiver() as healthy,
    ):
        hung = await endpoint(tenant, hanging.url)
        await endpoint(tenant, healthy.url)
        await emit(app, tenant.organization_id, "kpi.breached")
        started = time.monotonic()
        await dispatcher.dispatch_once()
        elapsed = time.monotonic() - started
        assert len(healthy.received) == 1
    assert elapsed < 5
    [attempt] = (await tenant.get(f"/v1/webhook-endpoints/{hung['id']}/attempts")).json()["items"]
    assert attempt["error_class"] == "timeout" and attempt["outcome"] == "retrying"


async def test_a_notification_wakes_the_dispatcher_before_its_poll(
    app: FastAPI, tenant: Tenant, settings: Any, database_url: str
) -> None:
    config = DispatcherConfig.from_settings(
        settings.model_copy(update={"webhook_poll_interval": 30})
    )
    async with Dispatcher(asyncpg_dsn(database_url), config) as dispatcher, Receiver() as receiver:
        await endpoint(tenant, receiver.url)
        async with dispatching(dispatcher):
            await asyncio.sleep(0.3)  # the loop is now waiting up to 30 s
            started = time.monotonic()
            await emit(app, tenant.organization_id, "kpi.breached")
            await receiver.wait_for(1, within=5)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("workers", [2])
async def test_workers_on_one_queue_never_send_a_message_twice_at_once(
    app: FastAPI, tenant: Tenant, settings: Any, database_url: str, workers: int
) -> None:
    config = DispatcherConfig.from_settings(settings.model_copy(update={"webhook_batch_size": 10}))
    async with Receiver(lambda _: Reply(delay=0.01)) as receiver:
        await endpoint(tenant, receiver.url)
        ids = await emit(app, tenant.organization_id, "kpi.breached", count=200)
        dispatchers = [Dispatcher(asyncpg_dsn(database_url), config) for _ in range(workers)]
        for d in dispatchers:
            await d.__aenter__()
        try:
            async with dispatching(dispatchers[0]), dispatching(dispatchers[1]):
                await receiver.wait_for(200, within=30)
                await asyncio.sleep(0.3)
        finally:
            for d in dispatchers:
                await d.__aexit__(None, None, None)
    assert sorted(receiver.ids()) == sorted(ids)  # each exactly once
    assert receiver.max_in_flight_per_id == 1
