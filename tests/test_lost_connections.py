"""A connection the server cuts under a raw asyncpg statement: the request gets a 503, the
connection leaves the pool, and nothing is leaked or logged as a bug.

A stopping server sends each backend's client a FATAL, then closes the socket. Between the
two, asyncpg's protocol waits for a sync point that never comes, and the next operation
fails before it reaches the server. ``announce_shutdown`` feeds a connection that FATAL
and leaves its socket open, so each test holds that window open instead of racing it
(``tests/test_faults.py`` stops a real server mid-ingestion and hits it now and then).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.common.database_errors import service_error_for
from service.common.driver import driver_of, end_failed
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.errors import ServiceUnavailable
from service.kpis.combiner import IngestCombiner
from service.kpis.readings_repository import ReadingColumns, insert_only
from tests.conftest import Tenant, loop_errors

START = datetime(2026, 5, 4, tzinfo=UTC)


def announce_shutdown(driver: Any) -> None:
    """What PostgreSQL sends each client as it shuts down: ErrorResponse, FATAL, 57P01."""
    fields = b"SFATAL\0C57P01\0Mterminating connection due to administrator command\0\0"
    driver._protocol.data_received(b"E" + struct.pack("!i", len(fields) + 4) + fields)


@asynccontextmanager
async def one_connection(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A pool of one connection: a test can tell the connection it broke from a new one."""
    engine = create_engine(database_url, Settings(database_url=database_url), 1, 0)
    try:
        yield engine
    finally:
        await engine.dispose()


def an_outage(exc: BaseException) -> bool:
    return isinstance(service_error_for(exc), ServiceUnavailable)


async def test_a_copy_sent_after_the_servers_fatal_is_an_outage_and_leaks_nothing(
    tenant: Tenant, database_url: str
) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    shutdown_before_copy = False

    async def store(session: AsyncSession, org: uuid.UUID, rows: Any, *, copy: bool) -> Any:
        driver = await driver_of(session)  # BEGIN
        if shutdown_before_copy:
            announce_shutdown(driver)
        created, _ = await insert_only(session, org, rows, copy=copy)
        return created

    def minutes(first: int) -> ReadingColumns:
        observed = [START + timedelta(minutes=first + n) for n in range(3)]
        return ReadingColumns([uuid.UUID(kpi["id"])] * 3, [], observed, [1.0] * 3, "feed")

    async with one_connection(database_url) as engine:
        combiner = IngestCombiner(create_sessionmaker(engine), store)
        # The first round prepares asyncpg's COPY on the connection: the next COPY goes
        # straight to the protocol, where the FATAL waits.
        assert await combiner.store(tenant.organization_id, minutes(0)) == [0, 1, 2]
        shutdown_before_copy = True
        with loop_errors() as seen:
            with pytest.raises(asyncpg.exceptions.InternalClientError) as failed:
                await combiner.store(tenant.organization_id, minutes(10))
            assert engine.pool.checkedout() == 0  # back to the pool, not held by a leak
        assert seen == []  # asyncpg's abandoned waiter was retrieved
        assert an_outage(failed.value)
        shutdown_before_copy = False
        # The broken connection was dropped: the next round gets a new one.
        assert await combiner.store(tenant.organization_id, minutes(20)) == [0, 1, 2]
    stored = (await tenant.get("/v1/kpis/mrr/readings")).json()["items"]
    assert len(stored) == 6  # the failed round's three were not stored


async def test_a_begin_sent_after_the_servers_fatal_raises_what_asyncpg_raised(
    database_url: str,
) -> None:
    async with one_connection(database_url) as engine:
        async with create_sessionmaker(engine)() as session:
            connection = await session.connection()
            announce_shutdown((await connection.get_raw_connection()).driver_connection)
            try:
                await driver_of(session)
            except Exception as exc:
                failure = exc
                await end_failed(session, exc)
        # Not the SQLAlchemy adapter's DB-API wrapper, which the API would answer with 500.
        assert isinstance(failure, asyncpg.exceptions.InternalClientError)
        assert an_outage(failure)
        async with create_sessionmaker(engine)() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1


async def test_a_request_whose_connection_was_cut_gets_503_and_the_next_a_new_connection(
    app: FastAPI, tenant: Tenant
) -> None:
    await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    body = {"readings": [{"kpi": "mrr", "value": 1.0, "observed_at": START.isoformat()}]}
    cut = []

    def cut_once(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not cut:
            cut.append(dbapi_connection)
            announce_shutdown(dbapi_connection.driver_connection)

    engine: AsyncEngine = app.state.engine
    event.listen(engine.sync_engine, "checkout", cut_once)
    try:
        refused = await tenant.post("/v1/readings", json=body)
        accepted = await tenant.post("/v1/readings", json=body)
    finally:
        event.remove(engine.sync_engine, "checkout", cut_once)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"].isdigit()
    assert refused.json()["code"] == "service_unavailable"
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["created"] == 1
    assert cut[0].driver_connection.is_closed()  # invalidated, not put back in the pool
