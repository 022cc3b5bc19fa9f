"""One message's trouble is its own: a receiver's odd answer, a URL the sender refuses, a
bug, or a result the database will not store costs that message an attempt, never the
other messages of its batch (other tenants' too) or the dispatcher."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from service.webhooks import queue_repository as queue
from service.webhooks import sender
from service.webhooks.dispatcher import (
    Dispatcher,
    DispatcherConfig,
    asyncpg_dsn,
    run_dispatcher,
)
from tests.conftest import Tenant, dispatching, emit
from tests.receiver import Receiver, Reply


async def delivery(tenant: Tenant, event_id: str) -> dict[str, Any]:
    [one] = (await tenant.get(f"/v1/events/{event_id}")).json()["deliveries"]
    return one  # type: ignore[no-any-return]


async def attempts(tenant: Tenant, endpoint_id: str) -> list[dict[str, Any]]:
    response = await tenant.get(f"/v1/webhook-endpoints/{endpoint_id}/attempts")
    return response.json()["items"]  # type: ignore[no-any-return]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


def instant(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value.replace("Z", "+00:00"))


@pytest.mark.parametrize("retry_after", ["9" * 20, "²", "9" * 5000])
async def test_a_retry_after_no_one_can_read_costs_nothing(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, dispatcher: Dispatcher, retry_after: str
) -> None:
    """Was: OverflowError (or ValueError) out of the batch; every message stayed `sending`."""
    overloaded = Reply(503, headers={"retry-after": retry_after})
    async with Receiver(lambda _: overloaded) as bad, Receiver() as good:
        await tenant.create("/v1/webhook-endpoints", {"url": bad.url})
        await other_tenant.create("/v1/webhook-endpoints", {"url": good.url})
        [mine] = await emit(app, tenant.organization_id, "kpi.breached")
        [theirs] = await emit(app, other_tenant.organization_id, "kpi.breached")
        assert await dispatcher.dispatch_once() == 2
    assert len(good.received) == 1
    assert (await delivery(other_tenant, theirs))["status"] == "succeeded"
    retrying = await delivery(tenant, mine)
    assert retrying["status"] == "retrying"
    # Clamped to [60 s, 120 s]: the overload penalty and its double.
    wait = instant(retrying["next_attempt_at"]) - instant(retrying["updated_at"])
    assert timedelta(seconds=59) <= wait <= timedelta(seconds=121)


async def test_the_dispatcher_loop_outlives_a_poison_answer(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, settings: Any, database_url: str
) -> None:
    """The reviewer's case: the process's dispatcher died, and the next one, and so on."""
    config = dataclasses.replace(DispatcherConfig.from_settings(settings), lease_seconds=0.5)
    overloaded = Reply(503, headers={"retry-after": "9" * 20})
    async with Receiver(lambda _: overloaded) as bad, Receiver() as good:
        await tenant.create("/v1/webhook-endpoints", {"url": bad.url})
        await other_tenant.create("/v1/webhook-endpoints", {"url": good.url})
        [mine] = await emit(app, tenant.organization_id, "kpi.breached")
        [theirs] = await emit(app, other_tenant.organization_id, "kpi.breached")
        stop = asyncio.Event()
        task = asyncio.create_task(run_dispatcher(asyncpg_dsn(database_url), config, stop))
        try:

            async def both_recorded() -> bool:
                return (await delivery(tenant, mine))["status"] == "retrying" and (
                    await delivery(other_tenant, theirs)
                )["status"] == "succeeded"

            await eventually(both_recorded)
            assert not task.done()
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)
    assert len(bad.received) == 1 and len(good.received) == 1  # nothing sent twice


async def test_a_nul_in_a_response_body_is_stored_replaced(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, dispatcher: Dispatcher
) -> None:
    """Was: the batch's INSERT failed (PostgreSQL text holds no NUL) and rolled back every
    outcome, so every message of the batch was sent again after its lease, forever."""
    async with Receiver(lambda _: Reply(500, body=b"oops\x00!")) as bad, Receiver() as good:
        created = await tenant.create("/v1/webhook-endpoints", {"url": bad.url})
        await other_tenant.create("/v1/webhook-endpoints", {"url": good.url})
        [mine] = await emit(app, tenant.organization_id, "kpi.breached")
        [theirs] = await emit(app, other_tenant.organization_id, "kpi.breached")
        assert await dispatcher.dispatch_once() == 2
    assert (await delivery(other_tenant, theirs))["status"] == "succeeded"
    assert (await delivery(tenant, mine))["status"] == "retrying"
    [attempt] = await attempts(tenant, created["id"])
    assert attempt["response_body"] == "oops\ufffd!" and attempt["response_status"] == 500


async def test_a_stored_url_the_sender_refuses_fails_only_its_message(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant, dispatcher: Dispatcher
) -> None:
    """A URL stored before registration refused control characters: httpx's InvalidURL (not
    an HTTPError) escaped the attempt and failed the batch."""
    async with Receiver() as good:
        created = await tenant.create("/v1/webhook-endpoints", {"url": good.url})
        await other_tenant.create("/v1/webhook-endpoints", {"url": good.url})
        async with app.state.sessionmaker() as session:
            await session.execute(
                text("UPDATE webhook_endpoints SET url = url || chr(1) WHERE id = :id"),
                {"id": uuid.UUID(created["id"])},
            )
            await session.commit()
        [mine] = await emit(app, tenant.organization_id, "kpi.breached")
        [theirs] = await emit(app, other_tenant.organization_id, "kpi.breached")
        assert await dispatcher.dispatch_once() == 2
    assert [r.headers["webhook-id"] for r in good.received] == [theirs]
    assert (await delivery(tenant, mine))["status"] == "failed"  # until the URL changes
    [attempt] = await attempts(tenant, created["id"])
    assert attempt["error_class"] == "ssrf_blocked" and "control" in attempt["error"]


async def test_an_unexpected_error_while_sending_is_one_failed_attempt(
    app: FastAPI,
    tenant: Tenant,
    other_tenant: Tenant,
    dispatcher_config: DispatcherConfig,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Anything the sender does not expect (here a resolver that breaks in a way no
    resolver should) is recorded as that message's failed attempt and retried on the
    schedule; its batch is recorded as usual."""

    async def broken_for_one_name(host: str, port: int) -> list[str]:
        if host == "broken.example":
            raise RuntimeError("resolver bug")
        return ["127.0.0.1"]

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    # Registration resolved the name with a resolver that worked then.
    app.state.url_policy = dataclasses.replace(app.state.url_policy, resolver=loopback)
    caplog.set_level(logging.INFO, logger="meridian.webhooks")
    dsn = asyncpg_dsn(database_url)
    async with (
        Dispatcher(dsn, dispatcher_config, resolver=broken_for_one_name) as dispatcher,
        Receiver() as good,
    ):
        created = await tenant.create(
            "/v1/webhook-endpoints", {"url": f"http://broken.example:{good.port}/hook"}
        )
        await other_tenant.create("/v1/webhook-endpoints", {"url": good.url})
        [mine] = await emit(app, tenant.organization_id, "kpi.breached")
        [theirs] = await emit(app, other_tenant.organization_id, "kpi.breached")
        assert await dispatcher.dispatch_once() == 2
    assert [r.headers["webhook-id"] for r in good.received] == [theirs]
    assert (await delivery(tenant, mine))["status"] == "retrying"
    [attempt] = await attempts(tenant, created["id"])
    assert attempt["error_class"] == "internal_error"
    assert attempt["error"] == "RuntimeError: resolver bug"
    [logged] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert logged.getMessage() == "webhook message handling failed; retrying"
    assert logged.exc_info is not None  # the traceback, once


class RefusedOnce(Dispatcher):
    """Gives one message's result an error text longer than its column (what a NUL did
    before ``queue_repository.storable``): the database refuses that row, and with it the
    batch's statement."""

    def __init__(self, *args: Any, refuse: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refuse = refuse

    def _decided(
        self, message: queue.Claimed, started_at: datetime, sent: sender.Sent
    ) -> tuple[queue.Recorded, str | None]:
        recorded, reason = super()._decided(message, started_at, sent)
        if message.event_id == self.refuse:
            recorded = dataclasses.replace(recorded, error="x" * 600)
        return recorded, reason


async def test_a_result_the_database_refuses_is_recorded_without_its_details(
    app: FastAPI,
    tenant: Tenant,
    other_tenant: Tenant,
    dispatcher_config: DispatcherConfig,
    database_url: str,
) -> None:
    async with Receiver(lambda _: Reply(500, body=b"receiver says no")) as bad, Receiver() as good:
        created = await tenant.create("/v1/webhook-endpoints", {"url": bad.url})
        await other_tenant.create("/v1/webhook-endpoints", {"url": good.url})
        [mine] = await emit(app, tenant.organization_id, "kpi.breached")
        ids = await emit(app, other_tenant.organization_id, "kpi.breached", count=3)
        dsn = asyncpg_dsn(database_url)
        async with RefusedOnce(dsn, dispatcher_config, refuse=mine) as dispatcher:
            assert await dispatcher.dispatch_once() == 4
    for event_id in ids:
        assert (await delivery(other_tenant, event_id))["status"] == "succeeded"
    assert (await delivery(tenant, mine))["status"] == "retrying"
    [attempt] = await attempts(tenant, created["id"])
    assert attempt["response_status"] == 500 and attempt["outcome"] == "retrying"
    assert attempt["response_body"] is None
    assert attempt["error"] == "The attempt's response body and error text could not be stored."


class BrokenOnce(Dispatcher):
    """Its first reap raises what no step of the loop expects."""

    broken = True

    async def reap(self) -> int:
        if self.broken:
            self.broken = False
            raise RuntimeError("a bug in the loop")
        return await super().reap()


async def test_the_loop_logs_an_unexpected_error_and_goes_on(
    app: FastAPI,
    tenant: Tenant,
    dispatcher_config: DispatcherConfig,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="meridian.webhooks")
    async with (
        BrokenOnce(asyncpg_dsn(database_url), dispatcher_config) as dispatcher,
        Receiver() as receiver,
    ):
        await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        [event_id] = await emit(app, tenant.organization_id, "kpi.breached")
        async with dispatching(dispatcher):
            await receiver.wait_for(1)
    assert receiver.ids() == [event_id]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert ("ERROR", "webhook dispatch failed; retrying") in said
    assert ("INFO", "webhook dispatch recovered") in said


async def test_run_dispatcher_outlives_a_database_address_it_cannot_use(
    dispatcher_config: DispatcherConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncpg reads a port that is not a number as a ValueError: logged, and retried until
    the process stops, like an outage."""
    caplog.set_level(logging.INFO, logger="meridian.webhooks")
    config = dataclasses.replace(dispatcher_config, poll_interval=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(run_dispatcher("postgresql://meridian@127.0.0.1:x/m", config, stop))
    await asyncio.sleep(0.3)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    problems = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == [("ERROR", "webhook dispatch failed; retrying")]
