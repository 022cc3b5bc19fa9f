"""SQL for alert rules, alert states and the windows they evaluate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.pagination import PageRequest
from service.kpis.readings_repository import driver_of
from service.models import AlertRule, AlertState, Event, Kpi


async def rules_of_kpi(
    session: AsyncSession, organization_id: uuid.UUID, kpi_id: uuid.UUID
) -> list[AlertRule]:
    stmt = (
        select(AlertRule)
        .where(AlertRule.organization_id == organization_id, AlertRule.kpi_id == kpi_id)
        .order_by(AlertRule.created_at, AlertRule.id)
    )
    return list((await session.scalars(stmt)).all())


async def enabled_rules_of_kpis(
    session: AsyncSession, organization_id: uuid.UUID, kpi_ids: Sequence[uuid.UUID]
) -> list[AlertRule]:
    if not kpi_ids:
        return []
    stmt = (
        select(AlertRule)
        .where(
            AlertRule.organization_id == organization_id,
            AlertRule.kpi_id.in_(kpi_ids),
            AlertRule.enabled.is_(True),
        )
        .order_by(AlertRule.id)  # one global lock order: racing evaluators cannot deadlock
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
    stmt = stmt.with_for_update(skip_locked=skip_locked)
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


async def kpis_by_id(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Kpi]:
    if not ids:
        return {}
    stmt = select(Kpi).where(Kpi.organization_id == organization_id, Kpi.id.in_(ids))
    return {k.id: k for k in (await session.scalars(stmt)).all()}


WINDOWS_SQL = """
SELECT r.rule_id, w.samples, w.value, n.newest
FROM unnest($1::uuid[], $2::uuid[], $3::interval[], $4::text[], $5::bool[])
     AS r(rule_id, kpi_id, win, agg, latest_only)
CROSS JOIN LATERAL (
    SELECT count(*) AS samples,
           CASE r.agg
               WHEN 'avg' THEN avg(value)
               WHEN 'min' THEN min(value)
               WHEN 'max' THEN max(value)
               WHEN 'sum' THEN sum(value)
               WHEN 'count' THEN count(*)::float8
               ELSE (array_agg(value ORDER BY observed_at DESC, source DESC))[1]
           END AS value
    FROM (
        SELECT value, observed_at, source FROM kpi_readings
        WHERE kpi_id = r.kpi_id AND observed_at > $6::timestamptz - r.win
          AND observed_at <= $6::timestamptz
        ORDER BY observed_at DESC, source DESC
        LIMIT CASE WHEN r.latest_only THEN 1 END
    ) AS x
) AS w
CROSS JOIN LATERAL (
    SELECT max(observed_at) AS newest FROM kpi_readings
    WHERE kpi_id = r.kpi_id AND observed_at <= $6::timestamptz
) AS n
"""


async def windows(
    session: AsyncSession, rules: Sequence[AlertRule], at: datetime
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


async def lock_states(
    session: AsyncSession, rule_ids: Sequence[uuid.UUID], *, skip_locked: bool = False
) -> dict[uuid.UUID, AlertState]:
    """Series rows of many rules, locked in rule-id order (one order: no deadlocks)."""
    if not rule_ids:
        return {}
    stmt = (
        select(AlertState)
        .where(AlertState.rule_id.in_(rule_ids))
        .order_by(AlertState.rule_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return {row.rule_id: row for row in (await session.scalars(stmt)).all()}


async def rules_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[AlertRule]:
    """Enabled rules by id across tenants, for the scheduled evaluator only."""
    if not ids:
        return []
    stmt = select(AlertRule).where(AlertRule.id.in_(ids), AlertRule.enabled.is_(True))
    return list((await session.scalars(stmt.order_by(AlertRule.id))).all())


async def kpis_of_rules(session: AsyncSession, rules: Sequence[AlertRule]) -> dict[uuid.UUID, Kpi]:
    ids = list({r.kpi_id for r in rules})
    if not ids:
        return {}
    return {k.id: k for k in (await session.scalars(select(Kpi).where(Kpi.id.in_(ids)))).all()}


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
