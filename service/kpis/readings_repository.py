"""The readings hot path: bulk SQL straight through asyncpg, inside the request's transaction.

Rows go in with one ``INSERT ... SELECT FROM unnest(...)`` per batch (one round trip and one
plan for 10,000 rows, ``ON CONFLICT DO NOTHING`` making repeats harmless), or, where the
caller owns the transaction and can start it again (the group commit, ``combiner.py``),
with ``COPY``, which fails on a repeat. Neither takes a shared lock; a second statement
then locks the KPIs' ``kpi_reading_versions`` rows (and the alert series to evaluate) and
moves their version and ``latest``. Concurrent batches of the same KPIs queue on those
locks until commit, so the insert and its foreign-key checks stay out of the queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.common.driver import copy_records, driver_of
from service.kpis.rule_rows import STATE_COLUMNS, StateRow

INSERT_READINGS = """
WITH input AS (
    -- An empty sources array (shorter arrays are padded with NULL) or a NULL item: the
    -- default source, $6.
    SELECT kpi_id, coalesce(source, $6::text) AS source, observed_at, value, n
    FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::float8[])
         WITH ORDINALITY AS r(kpi_id, source, observed_at, value, n)
), inserted AS (
    INSERT INTO kpi_readings (organization_id, kpi_id, source, observed_at, value)
    SELECT $1::uuid, kpi_id, source, observed_at, value FROM input
    -- In key order: concurrent batches that repeat each other's readings then wait for
    -- one another in one order instead of deadlocking. A reading repeated within the
    -- batch is stored from its first item.
    ORDER BY kpi_id, source, observed_at, n
    ON CONFLICT (kpi_id, source, observed_at) DO NOTHING
    RETURNING kpi_id, source, observed_at, value
), newest AS (
    -- The newest new reading per KPI, for ``LOCK_AND_MOVE``.
    SELECT DISTINCT ON (kpi_id) kpi_id, observed_at, value
    FROM inserted
    ORDER BY kpi_id, observed_at DESC
)
SELECT CASE WHEN (SELECT count(*) FROM inserted) = (SELECT count(*) FROM input)
            -- Everything was new (the usual batch): every position, without the join
            -- (CASE runs the subquery below only when it is needed).
            THEN NULL
            ELSE (SELECT coalesce(array_agg(first), '{}') FROM (
                SELECT min(input.n) AS first
                FROM input JOIN inserted USING (kpi_id, source, observed_at)
                GROUP BY kpi_id, source, observed_at
            ) AS f)
       END,
       (SELECT array_agg(kpi_id ORDER BY kpi_id) FROM newest),
       (SELECT array_agg(observed_at ORDER BY kpi_id) FROM newest),
       (SELECT array_agg(value ORDER BY kpi_id) FROM newest)
"""
"""Stores readings and takes no lock but the foreign key's ``KEY SHARE`` on the KPIs (which
does not block other inserts or ``LOCK_AND_MOVE``): the rows, their index entries and the
foreign-key checks (end-of-statement triggers) are done before any shared lock is held."""

LOCK_AND_MOVE = f"""
WITH versions AS (
    -- Every KPI that got a reading moves its ``readings_version`` (running window
    -- aggregates rely on it, see ``kpis/running.py``) and its newest reading, locking the
    -- rows in id order: concurrent batches touching the same KPIs then queue instead of
    -- deadlocking. ``latest`` only moves forward: a late reading never rewinds it.
    INSERT INTO kpi_reading_versions AS v
        (kpi_id, organization_id, readings_version, latest_value, latest_observed_at)
    SELECT kpi_id, $1::uuid, 1, value, observed_at
    FROM unnest($2::uuid[], $3::timestamptz[], $4::float8[]) AS n(kpi_id, observed_at, value)
    ORDER BY kpi_id
    ON CONFLICT (kpi_id) DO UPDATE SET
        readings_version = v.readings_version + 1,
        latest_value = CASE
            WHEN v.latest_observed_at IS NULL
                 OR excluded.latest_observed_at >= v.latest_observed_at
            THEN excluded.latest_value ELSE v.latest_value END,
        latest_observed_at = greatest(v.latest_observed_at, excluded.latest_observed_at)
    RETURNING v.kpi_id
), states AS (
    -- The alert series the caller will evaluate, locked here to save a round trip while
    -- the KPIs are locked; after them (the InitPlan on ``versions`` runs it, and the KPI
    -- locks it takes, first), the one lock order of every writer.
    SELECT {STATE_COLUMNS} FROM alert_states
    WHERE rule_id = ANY($5::uuid[]) AND (SELECT count(*) FROM versions) >= 0
    ORDER BY rule_id
    FOR UPDATE
)
SELECT array_agg(ROW(s.*)) FROM states AS s
"""  # noqa: S608 (a constant column list)
"""After the rows are stored, in its own statement: the locks every concurrent batch of the
same KPIs queues on, held to commit. Not the ``kpis`` rows themselves: a new version of a
KPI row per batch would leave every later reading's foreign-key check (which reads that
row) a longer chain of dead versions to walk. The rows given are the batch's own, already
checked against the organization by the readings' foreign key. Its snapshot may predate a
batch that committed while it waited; only the locked rows are read as of the lock (which
is all it reads), and the caller reads windows in a later statement (a fresh snapshot,
taken under the locks)."""


@dataclass(frozen=True)
class NewReading:
    kpi_id: uuid.UUID
    source: str
    observed_at: datetime
    value: float


@dataclass(slots=True)
class ReadingColumns:
    """Readings to insert, column by column, as asyncpg sends them. ``sources`` may be
    empty (every reading's is ``default_source``) or hold None for it."""

    kpi_ids: list[uuid.UUID]
    sources: list[str | None]
    observed_at: list[datetime]
    values: list[float]
    default_source: str | None = None

    @classmethod
    def of(cls, rows: Sequence[NewReading]) -> ReadingColumns:
        return cls(
            [r.kpi_id for r in rows],
            [r.source for r in rows],
            [r.observed_at for r in rows],
            [r.value for r in rows],
        )


async def insert_readings(
    session: AsyncSession, organization_id: uuid.UUID, rows: Sequence[NewReading]
) -> list[int]:
    """Insert what is new, then lock the KPIs and move their ``latest`` and
    ``readings_version`` (two statements); returns the positions in ``rows`` of the
    readings actually inserted (the first of any repeated in ``rows``)."""
    inserted, _ = await insert_and_lock(session, organization_id, ReadingColumns.of(rows), ())
    return inserted


async def insert_and_lock(
    session: AsyncSession,
    organization_id: uuid.UUID,
    rows: ReadingColumns,
    rule_ids: Sequence[uuid.UUID],
) -> tuple[list[int], dict[uuid.UUID, StateRow]]:
    """``insert_readings``, then lock the alert series of ``rule_ids`` (as
    ``rules_repository.lock_states`` does) and return them."""
    inserted, newest = await insert_only(session, organization_id, rows)
    return inserted, await lock_and_move(session, organization_id, newest, rule_ids)


@dataclass(frozen=True, slots=True)
class Newest:
    """Per KPI that got readings, its newest new one, in KPI id order."""

    kpi_ids: list[uuid.UUID]
    observed_at: list[datetime]
    values: list[float]


async def insert_only(
    session: AsyncSession, organization_id: uuid.UUID, rows: ReadingColumns, *, copy: bool = False
) -> tuple[list[int], Newest]:
    """Store what is new, taking no shared lock; returns the positions in ``rows`` of the
    readings inserted (the first of any repeated) and each KPI's newest new one. The
    caller must call ``lock_and_move`` in the same transaction before it commits.

    With ``copy``, every row is stored (``copy_readings``) or ``asyncpg``'s
    ``UniqueViolationError`` leaves the transaction failed: for a caller that began it
    for these rows alone and can go again without ``copy``."""
    if not rows.kpi_ids:
        return [], Newest([], [], [])
    driver = await driver_of(session)
    if copy:
        await copy_readings(driver, organization_id, rows)
        return list(range(len(rows.kpi_ids))), _newest_of(rows)
    inserted, kpi_ids, observed_at, values = await driver.fetchrow(
        INSERT_READINGS,
        organization_id,
        rows.kpi_ids,
        rows.sources,
        rows.observed_at,
        rows.values,
        rows.default_source,
    )
    newest = Newest(kpi_ids or [], observed_at or [], values or [])
    if inserted is None:  # all of them
        return list(range(len(rows.kpi_ids))), newest
    return sorted(n - 1 for n in inserted), newest


_COPY_COLUMNS = ["organization_id", "kpi_id", "source", "observed_at", "value"]


async def copy_readings(driver: Any, organization_id: uuid.UUID, rows: ReadingColumns) -> None:
    """Store every row with ``COPY`` (PostgreSQL spends a quarter less on it than on
    ``INSERT_READINGS``, and none of the insert's sorts and counts), or raise
    ``asyncpg.UniqueViolationError`` when one repeats a stored reading or another row.

    Never under a savepoint: the foreign-key checks' locks on the KPI rows would belong
    to a subtransaction, and ``LOCK_AND_MOVE`` updating those rows in the transaction
    itself would then record both as a multixact on every KPI row, each round. Rows go in
    key order, as the insert's do: two batches repeating each other's readings then wait
    for one another in one order instead of deadlocking."""
    count = len(rows.kpi_ids)
    default = rows.default_source
    sources = [default if s is None else s for s in rows.sources] or [default] * count
    kpi_ids, observed_at, values = rows.kpi_ids, rows.observed_at, rows.values
    key_of = {kpi_id: kpi_id.bytes for kpi_id in set(kpi_ids)}  # PostgreSQL's uuid order
    order = sorted(range(count), key=lambda n: (key_of[kpi_ids[n]], sources[n], observed_at[n]))
    records = [(organization_id, kpi_ids[n], sources[n], observed_at[n], values[n]) for n in order]
    await copy_records(driver, "kpi_readings", records, _COPY_COLUMNS)


def _newest_of(rows: ReadingColumns) -> Newest:
    """Per KPI, its newest row (of rows at the same instant, the last), in id order."""
    newest: dict[uuid.UUID, int] = {}
    observed = rows.observed_at
    for n, kpi_id in enumerate(rows.kpi_ids):
        best = newest.get(kpi_id)
        if best is None or observed[n] >= observed[best]:
            newest[kpi_id] = n
    order = sorted(newest, key=lambda k: k.bytes)
    return Newest(
        order, [observed[newest[k]] for k in order], [rows.values[newest[k]] for k in order]
    )


async def lock_and_move(
    session: AsyncSession,
    organization_id: uuid.UUID,
    newest: Newest,
    rule_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, StateRow]:
    """Lock the KPIs that got readings (their ``kpi_reading_versions`` rows), move their
    ``latest`` and ``readings_version``, and lock and return the alert series of
    ``rule_ids``, in one statement."""
    if not newest.kpi_ids and not rule_ids:
        return {}
    driver = await driver_of(session)
    states = await driver.fetchval(
        LOCK_AND_MOVE,
        organization_id,
        newest.kpi_ids,
        newest.observed_at,
        newest.values,
        rule_ids,
    )
    return {state[1]: StateRow(*state) for state in states or ()}


async def list_readings(
    session: AsyncSession,
    organization_id: uuid.UUID,
    kpi_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Readings in ``[start, end)`` by ``(observed_at, source)`` ascending, after a cursor."""
    driver = await driver_of(session)
    records = await driver.fetch(
        """
        SELECT kpi_id, value, observed_at, source, received_at FROM kpi_readings
        WHERE organization_id = $1 AND kpi_id = $2
          AND ($3::timestamptz IS NULL OR observed_at >= $3)
          AND ($4::timestamptz IS NULL OR observed_at < $4)
          AND ($5::timestamptz IS NULL OR (observed_at, source) > ($5, $6::text))
        ORDER BY observed_at, source
        LIMIT $7
        """,
        organization_id,
        kpi_id,
        start,
        end,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [dict(r) for r in records]


_AGGREGATES = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::float8",
    "last": "(array_agg(value ORDER BY observed_at DESC))[1]",
}


async def reading_extent(
    session: AsyncSession,
    organization_id: uuid.UUID,
    kpi_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
) -> tuple[datetime, datetime] | None:
    """The first and last ``observed_at`` in ``[start, end)`` (two probes of the KPI's
    ``(kpi_id, observed_at)`` index), or None when the range holds no reading."""
    driver = await driver_of(session)
    record = await driver.fetchrow(
        """
        SELECT min(observed_at) AS first, max(observed_at) AS last FROM kpi_readings
        WHERE organization_id = $1 AND kpi_id = $2
          AND ($3::timestamptz IS NULL OR observed_at >= $3)
          AND ($4::timestamptz IS NULL OR observed_at < $4)
        """,
        organization_id,
        kpi_id,
        start,
        end,
    )
    if record is None or record["first"] is None:
        return None
    return record["first"], record["last"]


async def downsample(
    session: AsyncSession,
    organization_id: uuid.UUID,
    kpi_id: uuid.UUID,
    bucket: timedelta,
    agg: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """One row per bucket with data, buckets aligned to the Unix epoch, at most ``limit``
    (the service asks for one more than it returns and refuses a range that fills it)."""
    expression = _AGGREGATES[agg]  # a fixed whitelist, never user text
    driver = await driver_of(session)
    records = await driver.fetch(
        f"""
        SELECT date_bin($3::interval, observed_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')
                   AS bucket_start,
               {expression} AS value, count(*) AS samples
        FROM kpi_readings
        WHERE organization_id = $1 AND kpi_id = $2
          AND ($4::timestamptz IS NULL OR observed_at >= $4)
          AND ($5::timestamptz IS NULL OR observed_at < $5)
        GROUP BY 1 ORDER BY 1 LIMIT $6
        """,  # noqa: S608
        organization_id,
        kpi_id,
        bucket,
        start,
        end,
        limit,
    )
    return [dict(r) for r in records]
