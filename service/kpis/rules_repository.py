"""SQL for alert rules, alert states and the windows they evaluate."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.driver import driver_of
from service.common.pagination import PageRequest
from service.kpis.rule_rows import STATE_COLUMNS, RuleRow, StateRow
from service.kpis.running import EMPTY, Agg
from service.models import AlertRule, AlertState


async def rules_of_kpi(
    session: AsyncSession, organization_id: uuid.UUID, kpi_id: uuid.UUID
) -> list[AlertRule]:
    stmt = (
        select(AlertRule)
        .where(AlertRule.organization_id == organization_id, AlertRule.kpi_id == kpi_id)
        .order_by(AlertRule.created_at, AlertRule.id)
    )
    return list((await session.scalars(stmt)).all())


async def get_rule(
    session: AsyncSession, organization_id: uuid.UUID, kpi_id: uuid.UUID, rule_id: uuid.UUID
) -> AlertRule | None:
    stmt = select(AlertRule).where(
        AlertRule.organization_id == organization_id,
        AlertRule.kpi_id == kpi_id,
        AlertRule.id == rule_id,
    )
    # populate_existing: as ``get_scoped``, the locked row, not a copy loaded earlier.
    locked = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(locked)).scalar_one_or_none()


async def lock_state(
    session: AsyncSession, rule_id: uuid.UUID, *, skip_locked: bool = False
) -> AlertState | None:
    """The series row, locked; with ``skip_locked``, None when another evaluator holds it."""
    stmt = select(AlertState).where(AlertState.rule_id == rule_id)
    # populate_existing: evaluation writes series rows around the ORM, so a copy loaded
    # earlier in this session may be stale.
    stmt = stmt.with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def all_enabled_rule_ids(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, rule) pairs across tenants, for the scheduled evaluator."""
    stmt = select(AlertRule.organization_id, AlertRule.id).where(AlertRule.enabled.is_(True))
    if after is not None:
        stmt = stmt.where(AlertRule.id > after)
    rows = await session.execute(stmt.order_by(AlertRule.id).limit(limit))
    return [(org, rule) for org, rule in rows.all()]


async def list_states(
    session: AsyncSession, organization_id: uuid.UUID, state: str | None, page: PageRequest
) -> list[AlertState]:
    stmt = select(AlertState).where(AlertState.organization_id == organization_id)
    if state:
        stmt = stmt.where(AlertState.state == state)
    if page.cursor:
        stmt = stmt.where(AlertState.fingerprint > page.cursor)
    stmt = stmt.order_by(AlertState.fingerprint).limit(page.limit + 1)
    return list((await session.scalars(stmt)).all())


WINDOWS_SQL = """
SELECT r.rule_id, coalesce(k.readings_version, 0), d.moved,
       w.samples, w.total, w.low, w.high, l.value AS last,
       g.samples, g.total, g.low, g.high,
       e.samples, e.total, e.low, e.high,
       n.newest
FROM unnest($1::uuid[], $2::uuid[], $3::interval[], $4::text[], $5::bool[],
            $6::timestamptz[], $7::bigint[])
     AS r(rule_id, kpi_id, win, agg, latest_only, kept_at, kept_version)
LEFT JOIN kpi_reading_versions AS k ON k.kpi_id = r.kpi_id
-- A kept running aggregate is moved forward only if it saw every stored reading but the
-- caller's own (``kept_version`` already counts the caller's statement).
CROSS JOIN LATERAL (SELECT r.kept_at IS NOT NULL
                           AND coalesce(k.readings_version, 0) = r.kept_version AS moved) AS d
CROSS JOIN LATERAL (
    -- The whole window, unsorted, when there is nothing to move forward.
    SELECT count(*) AS samples, sum(value) AS total, min(value) AS low, max(value) AS high
    FROM kpi_readings
    WHERE NOT d.moved AND NOT r.latest_only AND kpi_id = r.kpi_id
      AND observed_at > $8::timestamptz - r.win AND observed_at <= $8::timestamptz
) AS w
CROSS JOIN LATERAL (
    -- What left the window since it was kept.
    SELECT count(*) AS samples, sum(value) AS total, min(value) AS low, max(value) AS high
    FROM kpi_readings
    WHERE d.moved AND kpi_id = r.kpi_id
      AND observed_at > r.kept_at - r.win AND observed_at <= $8::timestamptz - r.win
) AS g
CROSS JOIN LATERAL (
    -- What entered it after the kept end (late readings are the caller's, added in Python).
    SELECT count(*) AS samples, sum(value) AS total, min(value) AS low, max(value) AS high
    FROM kpi_readings
    WHERE d.moved AND kpi_id = r.kpi_id
      AND observed_at > r.kept_at AND observed_at <= $8::timestamptz
) AS e
LEFT JOIN LATERAL (
    -- `last`: the newest row of the window, one index probe.
    SELECT value FROM kpi_readings
    WHERE r.agg = 'last' AND kpi_id = r.kpi_id
      AND observed_at > $8::timestamptz - r.win AND observed_at <= $8::timestamptz
    ORDER BY observed_at DESC, source DESC
    LIMIT 1
) AS l ON true
CROSS JOIN LATERAL (
    SELECT max(observed_at) AS newest FROM kpi_readings
    WHERE kpi_id = r.kpi_id AND observed_at <= $8::timestamptz
) AS n
"""


@dataclass(frozen=True, slots=True)
class WindowRead:
    """What one statement read for a rule: the KPI's ``readings_version``, whether the
    kept aggregate was ``moved`` (then ``left`` and ``entered`` are set, else ``whole``),
    the newest value of the window (``last`` rules) and the newest reading at all."""

    version: int
    moved: bool
    whole: Agg
    left: Agg
    entered: Agg
    last: float | None
    newest: datetime | None


@dataclass(frozen=True, slots=True)
class WindowAsk:
    """One rule's window to read: ``kept_at``/``kept_version`` of a running aggregate that
    may be moved forward (None: read it whole)."""

    rule: RuleRow
    latest_only: bool
    kept_at: datetime | None
    kept_version: int | None


def _agg(rec: Any, at: int) -> Agg:
    samples = int(rec[at])
    if not samples:
        return EMPTY
    return Agg(samples, float(rec[at + 1]), rec[at + 2], rec[at + 3])


async def windows(
    session: AsyncSession, asks: Sequence[WindowAsk], at: datetime
) -> dict[uuid.UUID, WindowRead]:
    """For many rules in one round trip: the window at ``at``, whole or as the change since
    a kept aggregate, and the newest reading. ``last`` with ``min_samples`` 1 reads only
    the newest row of the window, so a long window costs one index probe, not a scan."""
    if not asks:
        return {}
    driver = await driver_of(session)
    records = await driver.fetch(
        WINDOWS_SQL,
        [a.rule.id for a in asks],
        [a.rule.kpi_id for a in asks],
        [a.rule.window for a in asks],
        [a.rule.aggregation for a in asks],
        [a.latest_only for a in asks],
        [a.kept_at for a in asks],
        [a.kept_version for a in asks],
        at,
    )
    return {
        rec[0]: WindowRead(
            rec[1], rec[2], _agg(rec, 3), _agg(rec, 8), _agg(rec, 12), rec[7], rec[16]
        )
        for rec in records
    }


async def rules_of_kpis(
    session: AsyncSession, organization_id: uuid.UUID, kpi_ids: Sequence[uuid.UUID]
) -> list[AlertRule]:
    """The rules of many KPIs in one statement (GraphQL's loader), each KPI's in creation order."""
    if not kpi_ids:
        return []
    stmt = (
        select(AlertRule)
        .where(AlertRule.organization_id == organization_id, AlertRule.kpi_id.in_(kpi_ids))
        .order_by(AlertRule.created_at, AlertRule.id)
    )
    return list((await session.scalars(stmt)).all())


async def states_of_kpis(
    session: AsyncSession, organization_id: uuid.UUID, kpi_ids: Sequence[uuid.UUID]
) -> list[AlertState]:
    """The alert series of many KPIs in one statement (GraphQL's loader), by fingerprint."""
    if not kpi_ids:
        return []
    stmt = (
        select(AlertState)
        .where(AlertState.organization_id == organization_id, AlertState.kpi_id.in_(kpi_ids))
        .order_by(AlertState.fingerprint)
    )
    return list((await session.scalars(stmt)).all())


RULE_ROWS_SQL = """
SELECT r.id, r.organization_id, r.kpi_id, r.version, r.operator, r.warning::text,
       r.critical::text, r.warning_recovery::text, r.critical_recovery::text, r.aggregation,
       r."window", r.min_samples, r.pending_for, r.keep_firing_for, r.no_data_after,
       r.on_no_data, r.renotify_interval, r.muted_until, r.labels::text, r.annotations::text,
       k.key, k.name, k.unit
FROM alert_rules AS r JOIN kpis AS k ON k.id = r.kpi_id
WHERE r.enabled AND {where}
ORDER BY r.id  -- one global lock order: racing evaluators cannot deadlock
"""
_RULES_OF_KPIS = RULE_ROWS_SQL.format(
    where="r.organization_id = $1::uuid AND r.kpi_id = ANY($2::uuid[])"
)
_RULES_BY_ID = RULE_ROWS_SQL.format(where="r.id = ANY($1::uuid[])")


async def enabled_rules_of_kpis(
    session: AsyncSession, organization_id: uuid.UUID, kpi_ids: Sequence[uuid.UUID]
) -> list[RuleRow]:
    """The enabled rules of the tenant's KPIs, in rule-id order."""
    if not kpi_ids:
        return []
    driver = await driver_of(session)
    records = await driver.fetch(_RULES_OF_KPIS, organization_id, kpi_ids)
    return [_rule_row(rec) for rec in records]


async def rules_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[RuleRow]:
    """Enabled rules by id across tenants, for the scheduled evaluator only."""
    if not ids:
        return []
    driver = await driver_of(session)
    return [_rule_row(rec) for rec in await driver.fetch(_RULES_BY_ID, ids)]


_JSON_COLUMNS = (5, 6, 7, 8, 18, 19)  # thresholds, labels, annotations: jsonb as text


def _rule_row(rec: Any) -> RuleRow:
    """Every batch reads every rule of its KPIs: the jsonb columns come as text and are
    decoded once per distinct text (the values are shared: never mutate them)."""
    values = list(rec)
    for i in _JSON_COLUMNS:
        if values[i] is not None:
            values[i] = _decoded(values[i])
    return RuleRow(*values)


@functools.lru_cache(maxsize=4096)
def _decoded(text: str) -> Any:
    return json.loads(text)


STATE_ROWS_SQL = f"""
SELECT {STATE_COLUMNS}
FROM alert_states WHERE rule_id = ANY($1::uuid[])
ORDER BY rule_id
FOR UPDATE
"""  # noqa: S608 (a constant column list)


async def lock_states(
    session: AsyncSession, rule_ids: Sequence[uuid.UUID], *, skip_locked: bool = False
) -> dict[uuid.UUID, StateRow]:
    """Series rows of many rules, locked in rule-id order (one order: no deadlocks); with
    ``skip_locked``, rows another evaluator holds are left out."""
    if not rule_ids:
        return {}
    sql = STATE_ROWS_SQL + (" SKIP LOCKED" if skip_locked else "")
    driver = await driver_of(session)
    return {rec[1]: StateRow(*rec) for rec in await driver.fetch(sql, rule_ids)}


_STATE_COLUMNS = (
    "fingerprint",
    "state",
    "severity",
    "alert_id",
    "since",
    "pending_since",
    "recovering_since",
    "started_at",
    "last_eval_at",
    "last_value",
    "last_notified_at",
    "renotify_count",
    "sequence",
    "agg_at",
    "agg_since",
    "agg_window",
    "agg_version",
    "agg_samples",
    "agg_sum",
    "agg_min",
    "agg_max",
)
SAVE_STATES_SQL = """
UPDATE alert_states AS s
SET state = u.state, severity = u.severity, alert_id = u.alert_id, since = u.since,
    pending_since = u.pending_since, recovering_since = u.recovering_since,
    started_at = u.started_at, last_eval_at = u.last_eval_at, last_value = u.last_value,
    last_notified_at = u.last_notified_at, renotify_count = u.renotify_count,
    sequence = u.sequence, agg_at = u.agg_at, agg_since = u.agg_since,
    agg_window = u.agg_window, agg_version = u.agg_version, agg_samples = u.agg_samples,
    agg_sum = u.agg_sum, agg_min = u.agg_min, agg_max = u.agg_max
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
            $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[],
            $10::float8[], $11::timestamptz[], $12::int[], $13::bigint[],
            $14::timestamptz[], $15::timestamptz[], $16::interval[], $17::bigint[],
            $18::bigint[], $19::float8[], $20::float8[], $21::float8[])
     AS u(fingerprint, state, severity, alert_id, since, pending_since, recovering_since,
          started_at, last_eval_at, last_value, last_notified_at, renotify_count, sequence,
          agg_at, agg_since, agg_window, agg_version, agg_samples, agg_sum, agg_min, agg_max)
WHERE s.fingerprint = u.fingerprint
"""


async def save_states(session: AsyncSession, rows: Sequence[StateRow]) -> None:
    """Write back many locked series rows in one statement."""
    if not rows:
        return
    driver = await driver_of(session)
    columns = [[getattr(row, name) for row in rows] for name in _STATE_COLUMNS]
    await driver.execute(SAVE_STATES_SQL, *columns)
