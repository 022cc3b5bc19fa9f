"""Faults on a live ``meridian serve``: PostgreSQL stopped and restarted mid-ingestion, and a
graceful stop (SIGTERM) with requests and webhook deliveries in flight.

Figures at bench scale are in ``bench/faults.py``; these tests hold the contract."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import text

from service.api import problems
from service.auth.service import create_organization
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.embedded import halt_embedded, resume_embedded, start_embedded, stop_embedded
from service.migrate import upgrade
from tests.conftest import Tenant, emit
from tests.receiver import Received, Receiver, Reply
from tests.test_cli import _free_port
from tests.test_webhook_workers import start_worker, wait_until

CLIENTS = 4
BATCHES = 20
PER_BATCH = 250
START = datetime(2026, 1, 1, tzinfo=UTC)


def serve(database_url: str, log: Path, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``meridian serve`` (one process) on ``database_url``; returns it and its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "MERIDIAN_DATABASE_URL": database_url,
        "MERIDIAN_RUN_BACKGROUND": "false",
        "MERIDIAN_LOG_LEVEL": "WARNING",
        **extra,
    }
    process = subprocess.Popen(  # noqa: S603 - our own CLI, arguments we built
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    return process, f"http://127.0.0.1:{port}"


async def until_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        for _ in range(1200):
            assert process.poll() is None, "serve exited before it was ready"
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("serve never became ready")


def error_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if '"level": "error"' in line]


@dataclass
class Ingestion:
    """Clients posting batches and retrying 503s; what they saw."""

    acked: int = 0
    unavailable: int = 0
    created_by_keyed_clients: int = 0
    failures: list[str] = field(default_factory=list)


def batch(client: int, number: int) -> dict[str, Any]:
    first = (client * BATCHES + number) * PER_BATCH
    return {
        "readings": [
            {
                "kpi": "load",
                "value": float(first + n),
                "observed_at": (START + timedelta(seconds=first + n)).isoformat(),
            }
            for n in range(PER_BATCH)
        ]
    }


async def ingest(http: httpx.AsyncClient, client: int, seen: Ingestion) -> None:
    """Half the clients send an Idempotency-Key per batch, half rely on the natural key
    (kpi, source, observed_at). A 503 must carry Retry-After; anything else but 200, a
    reset connection or a timeout is a failure."""
    keyed = client % 2 == 0
    for number in range(BATCHES):
        headers = {"Idempotency-Key": f"c{client}-b{number}"} if keyed else {}
        body = batch(client, number)
        for _ in range(200):
            try:
                response = await http.post("/v1/readings", json=body, headers=headers)
            except httpx.HTTPError as exc:
                seen.failures.append(f"client {client} batch {number}: {exc!r}")
                return
            if response.status_code == 503:
                seen.unavailable += 1
                if not response.headers.get("retry-after", "").isdigit():
                    seen.failures.append(f"503 without Retry-After: {response.headers}")
                    return
                # Retry-After says 5 s; retrying sooner is the client's right, and keeps
                # the test short.
                await asyncio.sleep(min(float(response.headers["retry-after"]), 0.3))
                continue
            if response.status_code != 200:
                seen.failures.append(f"{response.status_code}: {response.text[:300]}")
                return
            if keyed:
                seen.created_by_keyed_clients += response.json()["created"]
            seen.acked += 1
            break
        else:
            seen.failures.append(f"client {client} batch {number}: never accepted")
            return


async def new_key(database_url: str) -> str:
    engine = create_engine(database_url, Settings(database_url=database_url))
    try:
        async with create_sessionmaker(engine)() as session:
            _, key = await create_organization(session, "Faults")
            await session.commit()
    finally:
        await engine.dispose()
    return key


async def test_postgres_restart_mid_ingestion_gives_503s_and_stores_every_reading_once(
    tmp_path: Path,
) -> None:
    # Its own PostgreSQL, so stopping it disturbs nothing else.
    database_url = start_embedded(tmp_path, database="meridian")
    log = tmp_path / "serve.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        upgrade(database_url)
        key = await new_key(database_url)
        process, base_url = serve(database_url, log)
        await until_ready(base_url, process)
        headers = {"Authorization": f"Bearer {key}"}
        # The timeout bounds every request: a hang fails the test instead of stalling it.
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=20) as http:
            created = await http.post("/v1/kpis", json={"key": "load", "name": "Load"})
            assert created.status_code == 201, created.text
            seen = Ingestion()
            clients = [asyncio.create_task(ingest(http, c, seen)) for c in range(CLIENTS)]
            await wait_until(lambda: seen.acked >= CLIENTS * BATCHES // 4 or seen.failures, 120)
            await asyncio.to_thread(halt_embedded, tmp_path)
            readiness = await http.get("/readyz")
            await wait_until(lambda: seen.unavailable >= CLIENTS or seen.failures, 60)
            await asyncio.to_thread(resume_embedded, tmp_path)
            await asyncio.wait_for(asyncio.gather(*clients), timeout=180)
            ready_again = await http.get("/readyz")
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            stored = await connection.fetchval("SELECT count(*) FROM kpi_readings")
            distinct = await connection.fetchval(
                "SELECT count(DISTINCT observed_at) FROM kpi_readings"
            )
        finally:
            await connection.close()
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
        stop_embedded(tmp_path)
    assert seen.failures == [], (seen.failures, error_lines(log))
    assert readiness.status_code == 503 and "retry-after" in readiness.headers
    assert seen.unavailable >= CLIENTS  # the outage was seen, as 503s
    assert ready_again.status_code == 200  # the pool recovered by itself
    assert seen.acked == CLIENTS * BATCHES
    assert stored == distinct == CLIENTS * BATCHES * PER_BATCH  # every reading, once
    # A retried batch whose first try had committed is replayed, not counted again.
    assert seen.created_by_keyed_clients == CLIENTS // 2 * BATCHES * PER_BATCH
    assert error_lines(log) == []  # no 500 and no unhandled error while PostgreSQL was down


async def batches_in_flight(admin: asyncpg.Connection, database: str, holder_pid: int) -> bool:
    """Three readings requests past their KPI lookup, and the round storing them (it may
    hold one or all three, ``kpis/combiner.py``) waiting on the held lock. A request's
    session reads in autocommit and keeps its connection, idle, until it is answered."""
    waiting, requests = await admin.fetchrow(
        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),"
        "       count(*) FILTER (WHERE state = 'idle' AND query LIKE 'SELECT id, key FROM kpis %'"
        "                        AND pid <> $2)"
        " FROM pg_stat_activity WHERE datname = $1",
        database,
        holder_pid,
    )
    return bool(waiting >= 1 and requests >= 3)


async def test_sigterm_finishes_requests_in_flight_and_releases_claimed_webhooks(
    app: FastAPI, tenant: Tenant, database_url: str, tmp_path: Path
) -> None:
    slow = True

    def receiver_script(_: Received) -> Reply:
        return Reply(200, delay=2.0 if slow else 0.0)

    await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    plain_url = database_url.replace("+asyncpg", "")
    database = plain_url.rsplit("/", 1)[1].split("?")[0]
    async with Receiver(receiver_script) as receiver:
        # All 10 in one claimed batch (the default max_in_flight would claim 4 at a time).
        await tenant.create("/v1/webhook-endpoints", {"url": receiver.url, "max_in_flight": 10})
        ids = await emit(app, tenant.organization_id, "kpi.breached", count=10)
        # Holding the KPI's row makes every batch for it wait for its round, so the
        # requests are surely in flight when SIGTERM arrives.
        holder = await asyncpg.connect(plain_url)
        locking = holder.transaction()
        await locking.start()
        await holder.execute("SELECT id FROM kpis WHERE key = 'mrr' FOR UPDATE")
        log = tmp_path / "serve.log"
        process, base_url = serve(
            database_url,
            log,
            MERIDIAN_RUN_BACKGROUND="true",
            MERIDIAN_LOG_LEVEL="INFO",
            MERIDIAN_EVALUATION_INTERVAL="3600",
            MERIDIAN_WEBHOOK_ALLOW_HTTP="true",
            MERIDIAN_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
            MERIDIAN_WEBHOOK_CONCURRENCY="1",
            MERIDIAN_WEBHOOK_BATCH_SIZE="10",
            MERIDIAN_WEBHOOK_LEASE_SECONDS="300",  # only a release, not a lease expiry, frees them
        )
        try:
            await until_ready(base_url, process)
            async with httpx.AsyncClient(
                base_url=base_url, headers=tenant.headers, timeout=60
            ) as http:
                posts = [
                    asyncio.create_task(
                        http.post(
                            "/v1/readings",
                            json={
                                "readings": [
                                    {
                                        "kpi": "mrr",
                                        "value": n,
                                        "observed_at": (
                                            START + timedelta(hours=c, seconds=n)
                                        ).isoformat(),
                                    }
                                    for n in range(1000)
                                ]
                            },
                        )
                    )
                    for c in range(3)
                ]
                admin = await asyncpg.connect(plain_url)
                holder_pid = holder.get_server_pid()
                try:
                    for _ in range(1200):
                        if await batches_in_flight(admin, database, holder_pid):
                            break
                        await asyncio.sleep(0.05)
                    assert await batches_in_flight(admin, database, holder_pid)
                finally:
                    await admin.close()
                await wait_until(lambda: sum(receiver.in_flight.values()) > 0, within=30)
                process.send_signal(signal.SIGTERM)
                await locking.rollback()
                answers = await asyncio.wait_for(asyncio.gather(*posts), timeout=60)
            exit_code = await asyncio.to_thread(process.wait, 60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            await holder.close()
        after_stop = await message_states(plain_url)
        delivered_by_serve = len(receiver.received)
        slow = False
        worker = start_worker(database_url, MERIDIAN_WEBHOOK_LEASE_SECONDS="300")
        try:
            await wait_until(lambda: set(receiver.ids()) >= set(ids), within=60)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
        final = await message_states(plain_url)
    assert exit_code == 0  # a normal exit, so atexit runs (the embedded PostgreSQL stops)
    assert "Application shutdown complete" in log.read_text()
    assert [a.status_code for a in answers] == [200] * 3
    assert [a.json()["created"] for a in answers] == [1000] * 3
    # The delivery in flight finished and was recorded; the rest of the claimed batch went
    # back to the queue unsent (attempt not counted, no lease), not held until expiry.
    assert 1 <= delivered_by_serve < len(ids)
    assert after_stop == Counter(
        {
            ("succeeded", 1, False): delivered_by_serve,
            ("retrying", 0, False): 10 - delivered_by_serve,
        }
    )
    # Another worker then sent the released ones: each message exactly once.
    assert Counter(receiver.ids()) == Counter({i: 1 for i in ids})
    assert final == Counter({("succeeded", 1, False): len(ids)})
    assert error_lines(log) == []


async def message_states(plain_url: str) -> Counter[tuple[str, int, bool]]:
    """(status, attempt_count, leased) of every webhook message, counted."""
    connection = await asyncpg.connect(plain_url)
    try:
        rows = await connection.fetch(
            "SELECT status, attempt_count, locked_until IS NOT NULL AS leased FROM webhook_messages"
        )
    finally:
        await connection.close()
    return Counter((r["status"], r["attempt_count"], r["leased"]) for r in rows)


async def test_a_backend_cut_between_statements_answers_503_and_the_pool_recovers(
    database_url: str, settings: Settings
) -> None:
    """A server going down sends each session an unsolicited FATAL; asyncpg reports it on
    the session's next statement as "connection was closed in the middle of operation" or,
    before it has seen the socket close, "another operation is in progress", neither with a
    SQLSTATE. Both must be 503s like any outage, and the next request must get a working
    connection. Real handlers, real engine, a real backend terminated mid-transaction."""
    engine = create_engine(database_url, settings)
    admin = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    cut_app = FastAPI()
    problems.install(cut_app)

    @cut_app.get("/cut")
    async def cut() -> dict[str, str]:
        async with engine.begin() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
            await connection.execute(text("SELECT 1"))
        return {}

    @cut_app.get("/ok")
    async def ok() -> dict[str, int]:
        async with engine.connect() as connection:
            return {"one": (await connection.execute(text("SELECT 1"))).scalar_one()}

    transport = httpx.ASGITransport(app=cut_app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            answers = [await http.get("/cut") for _ in range(6)]
            after = await http.get("/ok")
    finally:
        await admin.close()
        await engine.dispose()
    assert [a.status_code for a in answers] == [503] * 6, [a.text for a in answers]
    assert all(a.headers["retry-after"].isdigit() for a in answers)
    assert after.status_code == 200 and after.json() == {"one": 1}


async def test_a_connection_closed_while_pooled_is_replaced_on_checkout(
    database_url: str, settings: Settings
) -> None:
    """The server ends an idle pooled connection (a restart, ``pg_terminate_backend``): the
    next checkout must hand out a working connection, not fail the request."""
    engine = create_engine(database_url, settings)
    admin = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert engine.sync_engine.pool.checkedin() == 1
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):  # until the backend is gone and the client has read the close
            gone = await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
            if not gone:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        async with engine.connect() as connection:
            now = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert now != pid
    finally:
        await admin.close()
        await engine.dispose()
