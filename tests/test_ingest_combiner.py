"""Group commit of readings (``service/kpis/combiner.py``) against the real database: batches
that wait together are stored in one transaction, each still gets its own answer, and
one batch's failure stays its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg.transaction import Transaction
from fastapi import FastAPI

from service.app import create_app
from service.config import Settings
from service.kpis.combiner import IngestCombiner
from service.kpis.ingest import insert_and_evaluate
from service.kpis.readings_repository import ReadingColumns
from tests.conftest import Tenant, loop_errors, new_tenant

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def batch(kpis: list[str], first: int, count: int) -> dict[str, Any]:
    return {
        "readings": [
            {
                "kpi": kpis[n % len(kpis)],
                "value": float(n),
                "observed_at": (START + timedelta(seconds=n)).isoformat(),
            }
            for n in range(first, first + count)
        ]
    }


async def until(admin: asyncpg.Connection, query: str, at_least: int, *args: Any) -> None:
    """Poll ``query`` (a count) until it reaches ``at_least``, for at most 30 s."""
    for _ in range(3000):
        if await admin.fetchval(query, *args) >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never reached {at_least}: {query}")


@dataclass
class HeldKpi:
    """Another session holding a KPI's row lock (batches touching it wait on it), and a
    connection to watch ``pg_stat_activity`` with."""

    holder: asyncpg.Connection
    admin: asyncpg.Connection
    transaction: Transaction

    async def release(self) -> None:
        await self.transaction.rollback()


@asynccontextmanager
async def kpi_row_held(database_url: str, key: str) -> AsyncIterator[HeldKpi]:
    plain = database_url.replace("+asyncpg", "")
    holder = await asyncpg.connect(plain)
    admin = await asyncpg.connect(plain)
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT id FROM kpis WHERE key = $1 FOR UPDATE", key)
        yield HeldKpi(holder, admin, transaction)
    finally:
        await holder.close()
        await admin.close()


WAITING_ON_LOCKS = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
OPEN_TRANSACTIONS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> $1"
)


async def test_batches_waiting_together_are_stored_in_one_round_with_their_own_answers(
    app: FastAPI, tenant: Tenant, database_url: str
) -> None:
    kpis = ["mrr", "churn", "nps"]
    for key in kpis:
        await tenant.create("/v1/kpis", {"key": key, "name": key})
        rule = {"operator": "gt", "warning": 1e9, "critical": 2e9, "aggregation": "avg"}
        assert (await tenant.post(f"/v1/kpis/{key}/alert-rules", json=rule)).status_code == 201
    # Holding one KPI's row keeps the first round waiting on its lock, so the batches sent
    # after it queue for the next round.
    async with kpi_row_held(database_url, "mrr") as held:
        admin = held.admin
        first = asyncio.create_task(tenant.post("/v1/readings", json=batch(kpis, 0, 30)))
        await until(admin, WAITING_ON_LOCKS, 1)
        # Five more, overlapping one another by half (and the first by 10 readings).
        rest = [
            asyncio.create_task(tenant.post("/v1/readings", json=batch(kpis, 20 + 20 * i, 40)))
            for i in range(5)
        ]
        # The five wait for the next round (their requests' sessions only read, in
        # autocommit: no transaction is open while they wait).
        combiner: IngestCombiner = app.state.ingest_combiner
        for _ in range(3000):
            if combiner.waiting(tenant.organization_id) == 5:
                break
            await asyncio.sleep(0.01)
        assert combiner.waiting(tenant.organization_id) == 5
        assert await admin.fetchval(OPEN_TRANSACTIONS, held.holder.get_server_pid()) == 0
        await held.release()
        answers = [await first] + [await task for task in rest]
        versions = dict(
            await admin.fetch(
                "SELECT k.key, v.readings_version FROM kpi_reading_versions AS v"
                " JOIN kpis AS k ON k.id = v.kpi_id"
            )
        )
        stored = await admin.fetchval("SELECT count(*) FROM kpi_readings")
        evaluated = await admin.fetchval(
            "SELECT count(*) FROM alert_states WHERE last_eval_at IS NOT NULL"
        )
    assert [a.status_code for a in answers] == [200] * 6
    # Two rounds: the first batch alone, then the five that queued behind it, together.
    assert versions == {"mrr": 2, "churn": 2, "nps": 2}
    assert stored == 140  # readings 0..139, each once
    assert evaluated == 3
    bodies = [a.json() for a in answers]
    assert bodies[0]["created"] == 30  # alone in its round
    # Each reading is `created` in exactly one answer (whichever batch the round took
    # first), `duplicate` in the others; every answer is about its own items, in order.
    created = []
    for body, first_n, size in zip(bodies, [0, 20, 40, 60, 80, 100], [30] + [40] * 5, strict=True):
        expected = [iso(START + timedelta(seconds=n)) for n in range(first_n, first_n + size)]
        assert [r["observed_at"] for r in body["results"]] == expected
        assert [r["index"] for r in body["results"]] == list(range(size))
        assert body["created"] + body["duplicates"] == size and body["rejected"] == 0
        created += [r["observed_at"] for r in body["results"] if r["status"] == "created"]
    assert sorted(created) == [iso(START + timedelta(seconds=n)) for n in range(140)]


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


async def test_a_failing_batch_fails_alone_and_the_others_of_its_round_are_stored(
    app: FastAPI, tenant: Tenant
) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    good = ReadingColumns(
        [uuid.UUID(kpi["id"])] * 3, [], [START + timedelta(minutes=n) for n in range(3)],
        [1.0, 2.0, 3.0], "feed",
    )  # fmt: skip
    # A KPI that does not exist (deleted after the request resolved it, say): the foreign
    # key refuses the whole merged insert, so the round is tried again batch by batch.
    bad = ReadingColumns([uuid.uuid4()], ["feed"], [START], [1.0])
    combiner = IngestCombiner(app.state.sessionmaker, insert_and_evaluate)
    # Queued in one loop turn: the round takes both.
    results = await asyncio.gather(
        combiner.store(tenant.organization_id, good),
        combiner.store(tenant.organization_id, bad),
        combiner.store(tenant.organization_id, good),
        return_exceptions=True,
    )
    assert results[0] == [0, 1, 2]
    assert isinstance(results[1], asyncpg.ForeignKeyViolationError)
    assert results[2] == []  # the same readings again: duplicates of the first batch
    listed = await tenant.get("/v1/kpis/mrr/readings")
    assert [r["value"] for r in listed.json()["items"]] == [1.0, 2.0, 3.0]


async def test_a_round_merges_each_batchs_default_source(app: FastAPI, tenant: Tenant) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    kpi_id = uuid.UUID(kpi["id"])
    combiner = IngestCombiner(app.state.sessionmaker, insert_and_evaluate)
    one = ReadingColumns([kpi_id], [], [START], [1.0], "billing")
    two = ReadingColumns([kpi_id, kpi_id], [None, "crm"], [START, START], [2.0, 3.0], "sheet")
    results = await asyncio.gather(
        combiner.store(tenant.organization_id, one), combiner.store(tenant.organization_id, two)
    )
    assert results == [[0], [0, 1]]
    listed = (await tenant.get("/v1/kpis/mrr/readings")).json()["items"]
    assert sorted((r["source"], r["value"]) for r in listed) == [
        ("billing", 1.0),
        ("crm", 3.0),
        ("sheet", 2.0),
    ]


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_keyed_request_is_stored_in_its_own_transaction(
    tenant: Tenant, database_url: str, keyed: bool
) -> None:
    """With an Idempotency-Key the readings and the key's record commit together, so the
    request does not join a round: holding the KPI's lock, its own session is the one
    waiting on it."""
    await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    async with kpi_row_held(database_url, "mrr") as held:
        headers = {"Idempotency-Key": "once"} if keyed else {}
        posted = asyncio.create_task(
            tenant.post("/v1/readings", json=batch(["mrr"], 0, 5), headers=headers)
        )
        await until(held.admin, WAITING_ON_LOCKS, 1)
        # The request's session inserted its idempotency record first, in its transaction.
        record_in_waiting_transaction = await held.admin.fetchval(
            "SELECT count(*) FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)"
            " WHERE a.wait_event_type = 'Lock' AND l.relation = 'idempotency_keys'::regclass"
        )
        await held.release()
        answer = await posted
    assert answer.status_code == 200 and answer.json()["created"] == 5
    assert record_in_waiting_transaction == (1 if keyed else 0)


async def test_requests_waiting_for_a_round_never_starve_it_of_a_connection(
    settings: Settings, database_url: str
) -> None:
    """Each waiting request holds its pool connection (its session is open); with the
    round drawing from the same pool, more waiting requests than connections would leave
    the round none, and everyone would wait for the pool timeout."""
    small = settings.model_copy(update={"db_pool_size": 2, "db_max_overflow": 0})
    application = create_app(small, database_url=database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://m.test") as http:
            tenant = await new_tenant(application, http, "Acme")
            await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
            posts = [tenant.post("/v1/readings", json=batch(["mrr"], 10 * n, 10)) for n in range(6)]
            answers = await asyncio.wait_for(asyncio.gather(*posts), timeout=20)
    assert [a.status_code for a in answers] == [200] * 6
    assert sum(a.json()["created"] for a in answers) == 60


async def test_a_round_that_fails_after_its_caller_went_away_is_logged_not_leaked(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def failing_store(session: Any, org: uuid.UUID, rows: Any, *, copy: bool) -> Any:
        started.set()
        await release.wait()
        raise asyncpg.exceptions.AdminShutdownError("terminating connection")

    combiner = IngestCombiner(app.state.sessionmaker, failing_store)
    rows = ReadingColumns([uuid.uuid4()], [], [START], [1.0], "feed")
    caller = asyncio.create_task(combiner.store(uuid.uuid4(), rows))
    await started.wait()
    caller.cancel()  # the client went away; the round goes on
    with pytest.raises(asyncio.CancelledError):
        await caller
    with loop_errors() as unretrieved:
        release.set()
        for _ in range(100):
            if not combiner._tasks:
                break
            await asyncio.sleep(0.01)
        assert not combiner._tasks
    assert unretrieved == []
    assert "a round failed after its caller went away: AdminShutdownError" in caplog.text
