"""The endpoint API: admin scope, secrets shown once, rotation, enable/disable, test sends,
the event log, redelivery, recovery and auto-disable."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import FastAPI

from service.webhooks import signing
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig, asyncpg_dsn
from tests.conftest import Tenant, emit
from tests.receiver import Receiver, Reply

URL = "http://127.0.0.1:9/hook"


async def test_create_returns_the_secret_once(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/webhook-endpoints",
        json={
            "url": URL,
            "description": "ops",
            "event_types": ["kpi.*", "kpi.*", "objective.created"],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["kpi.*", "objective.created"]
    assert response.headers["location"] == f"/v1/webhook-endpoints/{created['id']}"
    read = await tenant.get(f"/v1/webhook-endpoints/{created['id']}")
    assert read.status_code == 200 and "secret" not in read.json()
    listed = (await tenant.get("/v1/webhook-endpoints")).json()["items"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert created["secret"] not in (await tenant.get("/v1/webhook-endpoints")).text


async def test_a_caller_may_bring_a_secret(tenant: Tenant) -> None:
    secret = signing.generate_secret()
    created = await tenant.create("/v1/webhook-endpoints", {"url": URL, "secret": secret})
    assert created["secret"] == secret
    bad = await tenant.post("/v1/webhook-endpoints", json={"url": URL, "secret": "whsec_c2hvcnQ="})
    assert bad.status_code == 422


async def test_endpoints_need_the_admin_scope(tenant: Tenant) -> None:
    created = await tenant.create("/v1/webhook-endpoints", {"url": URL})
    writer = await tenant.key_with("write")
    for method, path in [
        ("GET", "/v1/webhook-endpoints"),
        ("POST", "/v1/webhook-endpoints"),
        ("GET", f"/v1/webhook-endpoints/{created['id']}"),
        ("POST", f"/v1/webhook-endpoints/{created['id']}/secret/rotate"),
        ("POST", f"/v1/webhook-endpoints/{created['id']}/test"),
        ("DELETE", f"/v1/webhook-endpoints/{created['id']}"),
    ]:
        body = {"url": URL} if path == "/v1/webhook-endpoints" else {}
        response = await writer.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
    assert (await tenant.get(f"/v1/webhook-endpoints/{created['id']}")).status_code == 200


async def test_bad_input_is_a_problem_and_changes_nothing(tenant: Tenant) -> None:
    for body in [
        {"url": "not a url"},
        {"url": URL, "event_types": ["Bad Type"]},
        {"url": URL, "event_types": ["kpi.*.x"]},
        {"url": URL, "unknown": 1},
        {"url": "javascript:alert(1)"},
        {},
    ]:
        response = await tenant.post("/v1/webhook-endpoints", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await tenant.get("/v1/webhook-endpoints")).json()["items"] == []


async def test_update_checks_if_match_and_vets_the_new_url(tenant: Tenant) -> None:
    created = await tenant.create("/v1/webhook-endpoints", {"url": URL})
    path = f"/v1/webhook-endpoints/{created['id']}"
    stale = await tenant.patch(path, json={"description": "x"}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    private = await tenant.patch(path, json={"url": "https://10.0.0.8/"})
    assert private.status_code == 422
    updated = await tenant.patch(path, json={"event_types": ["kpi.breached"], "description": "d"})
    assert updated.status_code == 200
    assert updated.json()["event_types"] == ["kpi.breached"]
    assert updated.json()["url"] == URL
    assert (await tenant.delete(path)).status_code == 204
    assert (await tenant.get(path)).status_code == 404


async def test_rotation_signs_with_both_keys_during_the_grace_then_only_the_new(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as receiver:
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        path = f"/v1/webhook-endpoints/{created['id']}/secret/rotate"
        rotated = await tenant.post(path, json={"grace_period_seconds": 3600})
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        await emit(app, tenant.organization_id, "kpi.breached")
        await dispatcher.dispatch_once()
        immediate = await tenant.post(path, json={"grace_period_seconds": 0})
        newest = immediate.json()["secret"]
        await emit(app, tenant.organization_id, "kpi.breached")
        await dispatcher.dispatch_once()
    during, after = receiver.received
    now = int(time.time())
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], new):
        signing.verify(secret, during.headers, during.body, now=now)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    signing.verify(newest, after.headers, after.body, now=now)
    too_long = await tenant.post(path, json={"grace_period_seconds": 8 * 24 * 3600})
    assert too_long.status_code == 422


async def test_old_keys_are_capped_at_ten(tenant: Tenant, app: FastAPI) -> None:
    created = await tenant.create("/v1/webhook-endpoints", {"url": URL})
    for _ in range(14):
        response = await tenant.post(
            f"/v1/webhook-endpoints/{created['id']}/secret/rotate", json={}
        )
        assert response.status_code == 200
    from service.webhooks import repository

    async with app.state.sessionmaker() as session:
        secrets = await repository.signing_secrets(session, created["id"])
    assert len(secrets) == 11  # the current key and ten older ones still in their grace


async def test_test_events_go_to_that_endpoint_only(tenant: Tenant, dispatcher: Dispatcher) -> None:
    async with Receiver() as target, Receiver() as bystander:
        created = await tenant.create("/v1/webhook-endpoints", {"url": target.url})
        await tenant.create("/v1/webhook-endpoints", {"url": bystander.url})
        response = await tenant.post(f"/v1/webhook-endpoints/{created['id']}/test")
        assert response.status_code == 202
        await dispatcher.dispatch_once()
    [request] = target.received
    assert json.loads(request.body)["type"] == "webhook.test"
    assert request.headers["webhook-id"] == response.json()["event_id"]
    assert bystander.received == []


async def test_disable_cancels_the_queue_and_enable_with_recover_sends_it(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as receiver:
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        path = f"/v1/webhook-endpoints/{created['id']}"
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")
        disabled = (await tenant.post(f"{path}/disable")).json()
        assert disabled["disabled"] is True and disabled["disabled_reason"] == "manual"
        assert await dispatcher.dispatch_once() == 0
        assert (await tenant.get(f"/v1/events/{event_id}")).json()["deliveries"][0][
            "status"
        ] == "canceled"
        assert (await tenant.post(f"{path}/test")).status_code == 409
        enabled = (await tenant.post(f"{path}/enable")).json()
        assert enabled["disabled"] is False and enabled["disabled_reason"] is None
        # Redelivery sends the canceled message once, by hand.
        redeliver = await tenant.post(f"/v1/events/{event_id}/deliveries/{created['id']}/redeliver")
        assert redeliver.status_code == 202, redeliver.text
        await dispatcher.dispatch_once()
        [request] = receiver.received
    assert request.headers["webhook-id"] == event_id


async def test_recover_requeues_failed_messages_with_the_same_ids(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    failing = True

    def script(_: object) -> Reply:
        return Reply(500) if failing else Reply(200)

    async with Receiver(script) as receiver:  # type: ignore[arg-type]
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        ids = await emit(app, tenant.organization_id, "kpi.breached", count=3)
        for _ in range(3):  # the first attempt and the two retries of the test schedule
            await dispatcher.dispatch_once()
            await asyncio.sleep(0.45)
        states = {
            d["status"]
            for i in ids
            for d in (await tenant.get(f"/v1/events/{i}")).json()["deliveries"]
        }
        assert states == {"failed"}
        failing = False
        response = await tenant.post(
            f"/v1/webhook-endpoints/{created['id']}/recover",
            json={"since": "2026-01-01T00:00:00Z", "until": "2026-12-31T00:00:00Z"},
        )
        assert response.status_code == 422  # more than 14 days
        since = (await tenant.get(f"/v1/events/{ids[0]}")).json()["created_at"]
        response = await tenant.post(
            f"/v1/webhook-endpoints/{created['id']}/recover", json={"since": since}
        )
        assert response.status_code == 202 and response.json() == {"requeued": 3}
        await dispatcher.dispatch_once()
    delivered = [r.headers["webhook-id"] for r in receiver.received if r is receiver.received[-1]]
    assert set(ids) <= set(receiver.ids()) and delivered
    assert sorted(receiver.ids()[-3:]) == sorted(ids)


async def test_a_failed_manual_redelivery_is_not_retried(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver(lambda _: Reply(500)) as receiver:
        created = await tenant.create(
            "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["x.y"]}
        )
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")  # not subscribed
        assert (await tenant.get(f"/v1/events/{event_id}")).json()["deliveries"] == []
        response = await tenant.post(f"/v1/events/{event_id}/deliveries/{created['id']}/redeliver")
        assert response.status_code == 202
        await dispatcher.dispatch_once()
        await asyncio.sleep(0.5)
        assert await dispatcher.dispatch_once() == 0
    assert len(receiver.received) == 1
    [delivery] = (await tenant.get(f"/v1/events/{event_id}")).json()["deliveries"]
    assert (delivery["status"], delivery["trigger"]) == ("failed", "manual")


async def test_continuous_failure_disables_the_endpoint(
    app: FastAPI, tenant: Tenant, settings: Any, database_url: str
) -> None:
    config = DispatcherConfig.from_settings(
        settings.model_copy(
            update={
                "webhook_disable_after_seconds": 0.5,
                "webhook_retry_schedule": "0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1",
            }
        )
    )
    async with (
        Dispatcher(asyncpg_dsn(database_url), config) as dispatcher,
        Receiver(lambda _: Reply(500)) as receiver,
    ):
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        await emit(app, tenant.organization_id, "kpi.breached")
        for _ in range(12):
            await dispatcher.dispatch_once()
            await asyncio.sleep(0.12)
    state = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}")).json()
    assert state["disabled"] is True and state["disabled_reason"] == "failing"
    assert state["failing_since"] is not None


async def test_sporadic_failure_does_not_disable(
    app: FastAPI, tenant: Tenant, settings: Any, database_url: str
) -> None:
    config = DispatcherConfig.from_settings(
        settings.model_copy(update={"webhook_disable_after_seconds": 0.3})
    )
    replies = iter([Reply(500), Reply(200)] * 10)
    async with (
        Dispatcher(asyncpg_dsn(database_url), config) as dispatcher,
        Receiver(lambda _: next(replies)) as receiver,
    ):
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        for _ in range(4):
            await emit(app, tenant.organization_id, "kpi.breached")
            await dispatcher.dispatch_once()
            await asyncio.sleep(0.25)
            await dispatcher.dispatch_once()
    state = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}")).json()
    assert state["disabled"] is False and state["failing_since"] is None


async def test_the_event_log_lists_filters_and_pages(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    await emit(app, tenant.organization_id, "kpi.breached", count=3)
    await emit(app, tenant.organization_id, "objective.created", count=2)
    await emit(app, other_tenant.organization_id, "kpi.breached", count=4)
    kpi = (await tenant.get("/v1/events", params={"type": "kpi.*"})).json()["items"]
    assert [e["type"] for e in kpi] == ["kpi.breached"] * 3
    exact = (await tenant.get("/v1/events", params={"type": "objective.created"})).json()
    assert len(exact["items"]) == 2
    first = (await tenant.get("/v1/events", params={"limit": 2})).json()
    second = (
        await tenant.get("/v1/events", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await tenant.get("/v1/events", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    seen = [e["id"] for e in first["items"] + second["items"] + third["items"]]
    assert len(seen) == len(set(seen)) == 5 and third["next_cursor"] is None
    later = (await tenant.get("/v1/events", params={"since": "2999-01-01T00:00:00Z"})).json()
    assert later["items"] == []
    assert (await tenant.get("/v1/events", params={"type": "Not A Type"})).status_code == 422
    assert (await tenant.get("/v1/events", params={"cursor": "garbage"})).status_code == 400
    one = (await tenant.get(f"/v1/events/{seen[0]}")).json()
    assert one["body"]["type"] == one["type"] and one["body"]["data"] == {"n": 0}
    assert (await other_tenant.get(f"/v1/events/{seen[0]}")).status_code == 404
