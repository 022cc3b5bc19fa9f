"""Sending again by hand: a redelivery of a message still on its retry schedule keeps the
schedule, and recover brings back what failed, was canceled, or was never queued because
the endpoint was disabled (§4.7's "replay missing")."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from service.events.outbox import record_event
from service.models.base import utcnow
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig, asyncpg_dsn
from tests.conftest import Tenant, emit
from tests.receiver import Receiver, Reply


async def deliveries(tenant: Tenant, event_id: str) -> list[dict[str, Any]]:
    response = await tenant.get(f"/v1/events/{event_id}")
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]  # type: ignore[no-any-return]


def an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


async def test_redelivering_a_message_waiting_for_a_retry_keeps_its_retries(
    app: FastAPI, tenant: Tenant, dispatcher_config: DispatcherConfig, database_url: str
) -> None:
    """Was: the redelivery made it a manual message, whose failure ended it (`failed`)
    with two retries of its schedule left."""
    config = dataclasses.replace(dispatcher_config, schedule=(60.0, 60.0))
    async with (
        Dispatcher(asyncpg_dsn(database_url), config) as dispatcher,
        Receiver(lambda _: Reply(500)) as receiver,
    ):
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")
        assert await dispatcher.dispatch_once() == 1
        assert await dispatcher.dispatch_once() == 0  # its retry is a minute away
        path = f"/v1/events/{event_id}/deliveries/{created['id']}/redeliver"
        response = await tenant.post(path)
        assert response.status_code == 202 and response.json()["status"] == "retrying"
        assert await dispatcher.dispatch_once() == 1  # sent now, not in a minute
        [after] = await deliveries(tenant, event_id)
    assert len(receiver.received) == 2
    assert (after["status"], after["trigger"], after["attempt_count"]) == (
        "retrying",
        "scheduled",
        2,
    )
    # The schedule's second retry, a minute after this attempt.
    next_attempt_at = datetime.fromisoformat(after["next_attempt_at"].replace("Z", "+00:00"))
    assert next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)


async def test_redelivering_a_finished_message_is_one_manual_attempt(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    replies = iter([Reply(200), Reply(500)])
    async with Receiver(lambda _: next(replies)) as receiver:
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")
        await dispatcher.dispatch_once()
        path = f"/v1/events/{event_id}/deliveries/{created['id']}/redeliver"
        assert (await tenant.post(path)).json()["status"] == "pending"
        await dispatcher.dispatch_once()
        [after] = await deliveries(tenant, event_id)
    assert (after["status"], after["trigger"]) == ("failed", "manual")
    assert len(receiver.received) == 2


async def test_recover_brings_back_canceled_messages(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    """Was: `requeued: 0`, though the endpoint's own docs say to recover what was canceled."""
    async with Receiver() as receiver:
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        path = f"/v1/webhook-endpoints/{created['id']}"
        ids = await emit(app, tenant.organization_id, "kpi.breached", count=2)
        assert (await tenant.post(f"{path}/disable")).status_code == 200
        assert {d["status"] for i in ids for d in await deliveries(tenant, i)} == {"canceled"}
        assert (await tenant.post(f"{path}/enable")).status_code == 200
        response = await tenant.post(f"{path}/recover", json={"since": an_hour_ago()})
        assert response.status_code == 202 and response.json() == {"requeued": 2}
        assert await dispatcher.dispatch_once() == 2
    assert sorted(receiver.ids()) == sorted(ids)
    for event_id in ids:
        [delivery] = await deliveries(tenant, event_id)
        assert (delivery["status"], delivery["trigger"]) == ("succeeded", "recover")


async def test_recover_sends_what_was_emitted_while_the_endpoint_was_disabled(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, dispatcher: Dispatcher
) -> None:
    """Only events it subscribes to, of its organization, of the window, not suppressed,
    not aimed at another endpoint, and not from before it existed."""
    async with Receiver() as receiver, Receiver() as bystander:
        [before] = await emit(app, tenant.organization_id, "kpi.breached")
        created = await tenant.create(
            "/v1/webhook-endpoints", {"url": receiver.url, "event_types": ["kpi.*", "webhook.*"]}
        )
        other = await tenant.create("/v1/webhook-endpoints", {"url": bystander.url})
        path = f"/v1/webhook-endpoints/{created['id']}"
        await tenant.post(f"{path}/disable")
        [missed] = await emit(app, tenant.organization_id, "kpi.breached")
        await emit(app, tenant.organization_id, "objective.created")  # not subscribed
        await emit(app, other_tenant.organization_id, "kpi.breached")
        test = await tenant.post(f"/v1/webhook-endpoints/{other['id']}/test")  # not for it
        assert test.status_code == 202
        async with app.state.sessionmaker() as session:
            await record_event(
                session,
                tenant.organization_id,
                "kpi.breached",
                utcnow(),
                {"muted": True},
                suppressed_reason="muted",
            )
            await session.commit()
        while await dispatcher.dispatch_once():
            pass
        await tenant.post(f"{path}/enable")

        body = {"since": an_hour_ago()}
        response = await tenant.post(f"{path}/recover", json=body)
        assert response.status_code == 202 and response.json() == {"requeued": 1}
        assert await dispatcher.dispatch_once() == 1
        assert (await tenant.post(f"{path}/recover", json=body)).json() == {"requeued": 0}
    assert receiver.ids() == [missed]
    assert before not in receiver.ids()
    [delivery] = [d for d in await deliveries(tenant, missed) if d["endpoint_id"] == created["id"]]
    assert (delivery["status"], delivery["trigger"]) == ("succeeded", "recover")


async def test_recover_keeps_to_its_window(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as receiver:
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        path = f"/v1/webhook-endpoints/{created['id']}"
        await tenant.post(f"{path}/disable")
        await emit(app, tenant.organization_id, "kpi.breached")
        await tenant.post(f"{path}/enable")
        until = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
        body = {"since": an_hour_ago(), "until": until}
        response = await tenant.post(f"{path}/recover", json=body)
        assert response.json() == {"requeued": 0}
        assert await dispatcher.dispatch_once() == 0
    assert receiver.received == []


async def test_recover_leaves_out_the_news_of_the_endpoint_own_disabling(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    """The fan-out skipped the endpoint's own ``webhook_endpoint.disabled`` (it was disabled
    by then); that news is for the other endpoints, so recover does not send it either."""
    async with Receiver() as receiver:
        created = await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        path = f"/v1/webhook-endpoints/{created['id']}"
        await tenant.post(f"{path}/disable")
        ids = []
        async with app.state.sessionmaker() as session:
            for about in (created["id"], "00000000-0000-4000-8000-000000000001"):
                event = await record_event(
                    session,
                    tenant.organization_id,
                    "webhook_endpoint.disabled",
                    utcnow(),
                    {"endpoint_id": about, "reason": "failing"},
                )
                ids.append(event.id)
            await session.commit()
        await tenant.post(f"{path}/enable")
        response = await tenant.post(f"{path}/recover", json={"since": an_hour_ago()})
        assert response.json() == {"requeued": 1}
        while await dispatcher.dispatch_once():
            pass
    assert receiver.ids() == [ids[1]]
