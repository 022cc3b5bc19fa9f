"""SQL for alert rules, alert states and the windows they evaluate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.pagination import PageRequest
from service.kpis.readings_repository import driver_of
from service.kpis.rule_rows import RuleRow, StateRow
from service.models import AlertRule, AlertState, Event


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
    return (await session.execute(stmt.with_for_update())).scalar_one_or_none()


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


async def history(
    session: AsyncSession,
    organization_id: uuid.UUID,
    kpi_id: uuid.UUID,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Event]:
    fingerprints = select(AlertState.fingerprint).where(
        AlertState.organization_id == organization_id, AlertState.kpi_id == kpi_id
    )
    stmt = select(Event).where(
        Event.organization_id == organization_id, Event.fingerprint.in_(fingerprints)
    )
    if before is not None:
        stmt = stmt.where(
            (Event.created_at < before[0])
            | ((Event.created_at == before[0]) & (Event.id < before[1]))
        )
    stmt = stmt.order_by(Event.created_at.desc(), Event.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


WINDOWS_SQL = """
SELECT r.rule_id, w.samples, w.value, n.newest
FROM unnest($1::uuid[], $2::uuid[], $3::interval[], $4::text[], $5::bool[])
     AS r(rule_id, kpi_id, win, agg, latest_only)
CROSS JOIN LATERAL (
    -- The whole window, unsorted; `last` (CASE evaluates only the branch taken) probes
    -- the newest row instead of sorting the window.
    SELECT count(*) AS samples,
           CASE r.agg
               WHEN 'avg' THEN avg(value)
               WHEN 'min' THEN min(value)
               WHEN 'max' THEN max(value)
               WHEN 'sum' THEN sum(value)
               WHEN 'count' THEN count(*)::float8
               ELSE (
                   SELECT l.value FROM kpi_readings AS l
                   WHERE l.kpi_id = r.kpi_id AND l.observed_at > $6::timestamptz - r.win
                     AND l.observed_at <= $6::timestamptz
                   ORDER BY l.observed_at DESC, l.source DESC
                   LIMIT 1
               )
           END AS value
    FROM kpi_readings
    WHERE NOT r.latest_only AND kpi_id = r.kpi_id
      AND observed_at > $6::timestamptz - r.win AND observed_at <= $6::timestamptz
    HAVING NOT r.latest_only
    UNION ALL
    -- `last` of one sample: the newest row of the window, one index probe.
    SELECT count(*), (array_agg(value))[1]
    FROM (
        SELECT value FROM kpi_readings
        WHERE r.latest_only AND kpi_id = r.kpi_id
          AND observed_at > $6::timestamptz - r.win AND observed_at <= $6::timestamptz
        ORDER BY observed_at DESC, source DESC
        LIMIT 1
    ) AS x
    HAVING r.latest_only
) AS w
CROSS JOIN LATERAL (
    SELECT max(observed_at) AS newest FROM kpi_readings
    WHERE kpi_id = r.kpi_id AND observed_at <= $6::timestamptz
) AS n
"""


async def windows(
    session: AsyncSession, rules: Sequence[RuleRow], at: datetime
) -> dict[uuid.UUID, tuple[float | None, int, datetime | None]]:
    """For many rules in one round trip: (aggregate, samples, newest reading) at ``at``.

    ``last`` with ``min_samples`` 1 reads only the newest row of the window, so a long
    window (the default rule's) costs one index probe, not a scan.
    """
    if not rules:
        return {}
    driver = await driver_of(session)
    records = await driver.fetch(
        WINDOWS_SQL,
        [r.id for r in rules],
        [r.kpi_id for r in rules],
        [r.window for r in rules],
        [r.aggregation for r in rules],
        [r.aggregation == "last" and r.min_samples <= 1 for r in rules],
        at,
    )
    return {
        rec["rule_id"]: (
            None if rec["value"] is None else float(rec["value"]),
            int(rec["samples"]),
            rec["newest"],
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
SELECT r.id, r.organization_id, r.kpi_id, r.version, r.operator, r.warning, r.critical,
       r.warning_recovery, r.critical_recovery, r.aggregation, r."window", r.min_samples,
       r.pending_for, r.keep_firing_for, r.no_data_after, r.on_no_data, r.renotify_interval,
       r.muted_until, r.labels, r.annotations, k.key, k.name, k.unit
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
    return [RuleRow(*rec) for rec in records]


async def rules_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[RuleRow]:
    """Enabled rules by id across tenants, for the scheduled evaluator only."""
    if not ids:
        return []
    driver = await driver_of(session)
    return [RuleRow(*rec) for rec in await driver.fetch(_RULES_BY_ID, ids)]


STATE_ROWS_SQL = """
SELECT fingerprint, rule_id, state, severity, alert_id, since, pending_since, recovering_since,
       started_at, last_eval_at, last_value, last_notified_at, renotify_count, sequence
FROM alert_states WHERE rule_id = ANY($1::uuid[])
ORDER BY rule_id
FOR UPDATE
"""


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
)
SAVE_STATES_SQL = """
UPDATE alert_states AS s
SET state = u.state, severity = u.severity, alert_id = u.alert_id, since = u.since,
    pending_since = u.pending_since, recovering_since = u.recovering_since,
    started_at = u.started_at, last_eval_at = u.last_eval_at, last_value = u.last_value,
    last_notified_at = u.last_notified_at, renotify_count = u.renotify_count,
    sequence = u.sequence
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
            $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[],
            $10::float8[], $11::timestamptz[], $12::int[], $13::bigint[])
     AS u(fingerprint, state, severity, alert_id, since, pending_since, recovering_since,
          started_at, last_eval_at, last_value, last_notified_at, renotify_count, sequence)
WHERE s.fingerprint = u.fingerprint
"""


async def save_states(session: AsyncSession, rows: Sequence[StateRow]) -> None:
    """Write back many locked series rows in one statement."""
    if not rows:
        return
    driver = await driver_of(session)
    columns = [[getattr(row, name) for row in rows] for name in _STATE_COLUMNS]
    await driver.execute(SAVE_STATES_SQL, *columns)
