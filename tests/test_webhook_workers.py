"""`meridian worker` processes killed with SIGKILL mid-delivery lose nothing; SIGTERM
finishes what is in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import Tenant, emit
from tests.receiver import Received, Receiver, Reply


def start_worker(database_url: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MERIDIAN_DATABASE_URL": database_url,
        "MERIDIAN_WEBHOOK_ALLOW_HTTP": "true",
        "MERIDIAN_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "MERIDIAN_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2,0.2,0.2",
        "MERIDIAN_WEBHOOK_RETRY_JITTER": "0",
        "MERIDIAN_WEBHOOK_POLL_INTERVAL": "0.1",
        "MERIDIAN_WEBHOOK_LEASE_SECONDS": "1",
        "MERIDIAN_WEBHOOK_BATCH_SIZE": "20",
        "MERIDIAN_EVALUATION_INTERVAL": "60",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_until(predicate: Any, within: float) -> None:
    for _ in range(int(within / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def unfinished(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM webhook_messages WHERE status <> 'succeeded'")
        )
    return int(count or 0)


async def statuses(app: FastAPI) -> list[tuple[str, int, int]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT status, attempt_count, retry_index FROM webhook_messages "
                "WHERE status <> 'succeeded'"
            )
        )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_workers_killed_mid_delivery_lose_nothing(
    app: FastAPI, tenant: Tenant, database_url: str
) -> None:
    seen: set[str] = set()

    def flaky(request: Received) -> Reply:
        """A third of the messages fail their first attempt, then succeed."""
        msg_id = request.headers["webhook-id"]
        first = msg_id not in seen
        seen.add(msg_id)
        failing = first and hash(msg_id) % 3 == 0
        return Reply(500 if failing else 200, delay=0.02)

    async with Receiver(flaky) as receiver:
        await tenant.create("/v1/webhook-endpoints", {"url": receiver.url})
        ids = await emit(app, tenant.organization_id, "kpi.breached", count=300)
        for round_ in range(3):
            worker = start_worker(database_url)
            try:
                target = 60 * (round_ + 1)
                await wait_until(lambda t=target: len(set(receiver.ids())) >= t, within=60)
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
        survivors = [start_worker(database_url), start_worker(database_url)]
        try:
            await wait_until(lambda: set(receiver.ids()) >= set(ids), within=90)
            for _ in range(600):  # and every message is recorded as delivered
                if await unfinished(app) == 0:
                    break
                await asyncio.sleep(0.1)
        finally:
            for worker in survivors:
                worker.send_signal(signal.SIGTERM)
            for worker in survivors:
                assert worker.wait(timeout=30) == 0  # a clean, graceful exit
    assert set(receiver.ids()) == set(ids)  # every event arrived; duplicates share the id
    assert await unfinished(app) == 0, await statuses(app)
