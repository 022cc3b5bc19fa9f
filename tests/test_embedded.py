"""The embedded PostgreSQL's own settings."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

from service.embedded import start_embedded, stop_embedded
from service.migrate import upgrade

# What each reading's foreign-key check asks (PostgreSQL's RI trigger, ``ri_PerformCheck``).
FOREIGN_KEY_PROBE = (
    "SELECT 1 FROM ONLY kpis x WHERE id = $1 AND organization_id = $2 FOR KEY SHARE OF x"
)


async def test_a_readings_foreign_key_check_probes_the_index_of_a_small_kpis_table(
    tmp_path: Path,
) -> None:
    """With PostgreSQL's default ``random_page_cost`` a two-page ``kpis`` table is scanned
    whole for every reading stored (a bare COPY ran at 71,000 readings/s instead of
    127,000); the embedded server is set to probe the index."""
    database_url = start_embedded(tmp_path, database="meridian")
    try:
        upgrade(database_url)
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            org = uuid.uuid4()
            await connection.execute("INSERT INTO organizations (id, name) VALUES ($1, 'Org')", org)
            await connection.executemany(
                "INSERT INTO kpis (id, organization_id, key, name, unit, direction, version)"
                " VALUES ($1, $2, $3, $3, 'n', 'higher_is_better', 1)",
                [(uuid.uuid4(), org, f"kpi-{i}") for i in range(100)],
            )
            await connection.execute("ANALYZE kpis")
            pages = await connection.fetchval(
                "SELECT relpages FROM pg_class WHERE oid = 'kpis'::regclass"
            )
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE probe(uuid, uuid) AS {FOREIGN_KEY_PROBE}")
            plan = "\n".join(
                row[0] for row in await connection.fetch(f"EXPLAIN EXECUTE probe('{org}', '{org}')")
            )
        finally:
            await connection.close()
    finally:
        stop_embedded(tmp_path)
    assert pages <= 3
    assert "Index Scan using uq_kpis_id_organization_id" in plan, plan
