"""The asyncpg hot path runs inside the session's transaction, whatever ran before it, and
stores each reading once however a batch goes in (``COPY``, or the insert after it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from service.common.driver import driver_of
from service.kpis.readings_repository import Newest, ReadingColumns, insert_only
from tests.conftest import Tenant

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def test_raw_statements_first_in_a_session_still_roll_back(
    app: FastAPI, tenant: Tenant
) -> None:
    async with app.state.sessionmaker() as session:
        driver = await driver_of(session)  # nothing has gone through SQLAlchemy yet
        await driver.execute(
            "UPDATE organizations SET name = 'changed' WHERE id = $1", tenant.organization_id
        )
        await session.rollback()
    async with app.state.sessionmaker() as session:
        name = await session.scalar(
            text("SELECT name FROM organizations WHERE id = :id"), {"id": tenant.organization_id}
        )
    assert name == "Acme"


async def test_raw_row_locks_are_held_until_the_session_ends(app: FastAPI, tenant: Tenant) -> None:
    async with app.state.sessionmaker() as holder, app.state.sessionmaker() as other:
        driver = await driver_of(holder)
        await driver.fetch(
            "SELECT id FROM organizations WHERE id = $1 FOR UPDATE", tenant.organization_id
        )
        probe = await driver_of(other)
        skipped = await probe.fetch(
            "SELECT id FROM organizations WHERE id = $1 FOR UPDATE SKIP LOCKED",
            tenant.organization_id,
        )
        assert skipped == []
        await holder.rollback()
        assert (
            len(
                await probe.fetch(
                    "SELECT id FROM organizations WHERE id = $1 FOR UPDATE SKIP LOCKED",
                    tenant.organization_id,
                )
            )
            == 1
        )


async def _stored(app: FastAPI, kpi_id: uuid.UUID) -> list[tuple[str, datetime, float]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT source, observed_at, value FROM kpi_readings WHERE kpi_id = :kpi "
                "ORDER BY observed_at, source"
            ),
            {"kpi": kpi_id},
        )
        return [(r.source, r.observed_at, r.value) for r in rows]


async def test_a_copy_that_repeats_a_reading_fails_and_the_insert_stores_the_rest_once(
    app: FastAPI, tenant: Tenant
) -> None:
    kpi_id = uuid.UUID((await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"}))["id"])
    org = tenant.organization_id
    at = [T0 + timedelta(minutes=n) for n in range(4)]
    async with app.state.sessionmaker() as session:
        first = ReadingColumns([kpi_id] * 2, [], at[:2], [1.0, 2.0], "crm")
        assert await insert_only(session, org, first, copy=True) == (
            [0, 1],
            Newest([kpi_id], [at[1]], [2.0]),
        )
        await session.commit()
    # New, a repeat of a stored reading (same source, other value), new.
    again = ReadingColumns(
        [kpi_id] * 3, [None, "crm", "crm"], [at[2], at[1], at[3]], [3.0, 9.0, 4.0], "crm"
    )
    async with app.state.sessionmaker() as session:
        with pytest.raises(asyncpg.UniqueViolationError) as failed:
            await insert_only(session, org, again, copy=True)
        assert failed.value.table_name.startswith("kpi_readings")
    assert len(await _stored(app, kpi_id)) == 2  # nothing of the failed copy
    async with app.state.sessionmaker() as session:
        created, newest = await insert_only(session, org, again)
        assert created == [0, 2]
        assert newest == Newest([kpi_id], [at[3]], [4.0])
        await session.commit()
    assert await _stored(app, kpi_id) == [
        ("crm", at[0], 1.0), ("crm", at[1], 2.0), ("crm", at[2], 3.0), ("crm", at[3], 4.0)
    ]  # fmt: skip


async def test_a_batch_repeating_itself_keeps_its_first_item(app: FastAPI, tenant: Tenant) -> None:
    kpi_id = uuid.UUID((await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS"}))["id"])
    rows = ReadingColumns([kpi_id] * 3, ["a", "b", "a"], [T0] * 3, [1.0, 2.0, 3.0])
    async with app.state.sessionmaker() as session:
        created, _ = await insert_only(session, tenant.organization_id, rows)
        await session.commit()
    assert created == [0, 1]
    assert await _stored(app, kpi_id) == [("a", T0, 1.0), ("b", T0, 2.0)]


async def test_a_clean_batch_is_copied_in_key_order_with_each_kpis_newest(
    app: FastAPI, tenant: Tenant
) -> None:
    kpis = [
        uuid.UUID((await tenant.create("/v1/kpis", {"key": f"k{n}", "name": "K"}))["id"])
        for n in range(3)
    ]
    at = [T0 + timedelta(seconds=n) for n in range(9)]
    ids = [kpis[n % 3] for n in range(9)][::-1]
    rows = ReadingColumns(ids, [], at, [float(n) for n in range(9)], "etl")
    async with app.state.sessionmaker() as session:
        created, newest = await insert_only(session, tenant.organization_id, rows, copy=True)
        await session.commit()
    assert created == list(range(9))
    assert newest.kpi_ids == sorted(kpis, key=lambda k: k.bytes)
    for kpi_id, observed_at, value in zip(
        newest.kpi_ids, newest.observed_at, newest.values, strict=True
    ):
        last = max(n for n in range(9) if ids[n] == kpi_id)
        assert (observed_at, value) == (at[last], float(last))
        assert len(await _stored(app, kpi_id)) == 3


async def test_readings_leave_the_kpi_row_itself_untouched(app: FastAPI, tenant: Tenant) -> None:
    """Batches move ``latest`` in ``kpi_reading_versions``: the KPI row keeps its one
    version, so the foreign-key check of every later reading finds it at once."""
    await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR", "target": 10})

    async def kpi_row_version() -> str:
        async with app.state.sessionmaker() as session:
            xmin = await session.scalar(text("SELECT xmin::text FROM kpis WHERE key = 'mrr'"))
        return str(xmin)

    before = await kpi_row_version()
    for day, value in ((2, 12.0), (3, 8.0), (1, 99.0)):  # the last one is late
        items = [{"kpi": "mrr", "value": value, "observed_at": f"2026-11-0{day}T00:00:00Z"}]
        answer = await tenant.post("/v1/readings", json={"readings": items})
        assert answer.json()["created"] == 1
    assert await kpi_row_version() == before
    kpi = (await tenant.get("/v1/kpis/mrr")).json()
    assert kpi["latest"] == {"value": 8.0, "observed_at": "2026-11-03T00:00:00Z"}
    assert kpi["health"] == "unhealthy"
