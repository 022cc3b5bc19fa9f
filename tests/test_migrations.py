"""Migrations on a fresh database: up, down to nothing, up again; models match the schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service.migrate import downgrade, upgrade
from service.models import Base
from tests.database import DatabaseServer

try:  # the filter env.py uses, when there is one (partitions have no model)
    from service.migrate import include_name
except ImportError:  # pragma: no cover - older layouts
    include_name = None


@pytest.fixture
async def empty_database(database_server: DatabaseServer) -> AsyncIterator[str]:
    """A database created from nothing (not from the migrated template)."""
    name = f"meridian_migrations_{uuid.uuid4().hex[:12]}"
    admin = await database_server.admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    yield database_server.url_for(name)
    await database_server.drop_database(name)


async def query(url: str, sql: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def user_tables(url: str) -> set[str]:
    rows = await query(
        url,
        "SELECT tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    )
    return {r[0] for r in rows}


async def user_types(url: str) -> set[str]:
    """Enums and other types a migration may create (composite row types excluded)."""
    rows = await query(
        url,
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm')",
    )
    return {r[0] for r in rows}


async def user_functions(url: str) -> set[str]:
    rows = await query(
        url,
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public'",
    )
    return {r[0] for r in rows}


def model_tables() -> set[str]:
    return set(Base.metadata.tables)


async def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    url = empty_database
    assert await user_tables(url) == set()

    upgrade(url)
    tables = await user_tables(url)
    assert model_tables() <= tables, f"missing tables: {model_tables() - tables}"
    version = await query(url, "SELECT version_num FROM alembic_version")
    assert len(version) == 1

    downgrade(url, "base")
    assert await user_tables(url) <= {"alembic_version"}, await user_tables(url)
    assert await query(url, "SELECT version_num FROM alembic_version") == []
    assert await user_types(url) == set(), "downgrade left types behind"
    assert await user_functions(url) == set(), "downgrade left functions behind"

    upgrade(url)
    assert await user_tables(url) == tables
    assert await query(url, "SELECT version_num FROM alembic_version") == version


async def test_models_match_the_migrated_schema(empty_database: str) -> None:
    """What `alembic check` does: autogenerate finds nothing to change after upgrade head."""
    upgrade(empty_database)
    engine = create_async_engine(empty_database)
    try:
        async with engine.connect() as connection:

            def compare(sync_connection: Any) -> list[Any]:
                opts: dict[str, Any] = {"compare_type": True, "compare_server_default": False}
                if include_name is not None:
                    opts["include_name"] = include_name
                context = MigrationContext.configure(sync_connection, opts=opts)
                return list(compare_metadata(context, Base.metadata))

            differences = await connection.run_sync(compare)
    finally:
        await engine.dispose()
    assert differences == [], (
        "models and migrations disagree; write a migration for:\n"
        + "\n".join(map(repr, differences))
    )


async def test_each_migration_steps_down_and_up(empty_database: str) -> None:
    """Every revision's downgrade works one step at a time, not only all the way."""
    upgrade(empty_database)
    head_tables = await user_tables(empty_database)
    steps = 0
    while (await query(empty_database, "SELECT version_num FROM alembic_version")) and steps < 50:
        downgrade(empty_database, "-1")
        steps += 1
    assert steps >= 1
    assert await user_tables(empty_database) <= {"alembic_version"}
    upgrade(empty_database)
    assert await user_tables(empty_database) == head_tables


async def test_latest_reading_moves_with_its_kpi_both_ways(empty_database: str) -> None:
    """0017 carries each KPI's newest reading into ``kpi_reading_versions`` (inserting the
    version row a KPI without one lacks) and its downgrade carries it back."""
    url = empty_database
    upgrade(url, "0016_webhook_throttle")

    def day(n: int) -> datetime:
        return datetime(2026, 11, n, tzinfo=UTC)

    org, with_row, without_row, unread = (uuid.uuid4() for _ in range(4))
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO organizations (id, name) VALUES (:org, 'Org')"), {"org": org}
            )
            await connection.execute(
                text(
                    "INSERT INTO kpis (id, organization_id, key, name, unit, direction, "
                    "created_at, updated_at, version, latest_value, latest_observed_at) "
                    "VALUES (:id, :org, :key, :key, 'n', 'up', now(), now(), 1, :value, :at)"
                ),
                [
                    {"id": with_row, "org": org, "key": "a", "value": 1.5, "at": day(1)},
                    {"id": without_row, "org": org, "key": "b", "value": 2.5, "at": day(2)},
                    {"id": unread, "org": org, "key": "c", "value": None, "at": None},
                ],
            )
            await connection.execute(
                text(
                    "INSERT INTO kpi_reading_versions (kpi_id, organization_id, readings_version)"
                    " VALUES (:id, :org, 7)"
                ),
                {"id": with_row, "org": org},
            )
    finally:
        await engine.dispose()
    upgrade(url)
    moved = await query(
        url,
        "SELECT k.key, v.readings_version, v.latest_value, v.latest_observed_at::text "
        "FROM kpis k LEFT JOIN kpi_reading_versions v ON v.kpi_id = k.id ORDER BY k.key",
    )
    assert [tuple(r) for r in moved] == [
        ("a", 7, 1.5, "2026-11-01 00:00:00+00"),
        ("b", 0, 2.5, "2026-11-02 00:00:00+00"),
        ("c", None, None, None),
    ]
    downgrade(url, "0016_webhook_throttle")
    back = await query(
        url, "SELECT key, latest_value, latest_observed_at::text FROM kpis ORDER BY key"
    )
    assert [tuple(r) for r in back] == [
        ("a", 1.5, "2026-11-01 00:00:00+00"),
        ("b", 2.5, "2026-11-02 00:00:00+00"),
        ("c", None, None),
    ]


async def test_alert_events_get_their_kpi_from_their_body(empty_database: str) -> None:
    """0021 keeps each alert event's KPI beside its body, for the history's index; other
    events (and alert bodies without one) get none."""
    url = empty_database
    upgrade(url, "0020_organization_version")
    org, kpi = uuid.uuid4(), uuid.uuid4()
    alert = b'{"type":"kpi.breached","data":{"kpi":{"id":"%s","key":"churn"}}}' % str(kpi).encode()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO organizations (id, name) VALUES (:org, 'Org')"), {"org": org}
            )
            await connection.execute(
                text(
                    "INSERT INTO events (id, organization_id, type, occurred_at, body, "
                    "fingerprint, sequence) VALUES (:id, :org, :type, now(), :body, :fp, :seq)"
                ),
                [
                    {
                        "id": "alert",
                        "org": org,
                        "type": "kpi.breached",
                        "body": alert,
                        "fp": "fp_1",
                        "seq": 1,
                    },
                    {
                        "id": "other",
                        "org": org,
                        "type": "objective.created",
                        "body": b'{"data":{"kpi":{"id":"%s"}}}' % str(kpi).encode(),
                        "fp": None,
                        "seq": None,
                    },
                ],
            )
    finally:
        await engine.dispose()
    upgrade(url)
    got = await query(url, "SELECT id, kpi_id FROM events ORDER BY id")
    assert [tuple(r) for r in got] == [("alert", kpi), ("other", None)]
    downgrade(url, "0020_organization_version")
    assert "kpi_id" not in {
        r[0]
        for r in await query(
            url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'"
        )
    }
