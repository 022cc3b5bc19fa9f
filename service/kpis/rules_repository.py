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


async def window_stats(
    session: AsyncSession, kpi_id: uuid.UUID, start: datetime, end: datetime, aggregation: str
) -> tuple[float | None, int]:
    """The aggregate over readings observed in ``(start, end]`` and how many there were."""
    driver = await driver_of(session)
    if aggregation == "last":
        row = await driver.fetchrow(
            """
            SELECT value, count(*) OVER () AS samples FROM kpi_readings
            WHERE kpi_id = $1 AND observed_at > $2 AND observed_at <= $3
            ORDER BY observed_at DESC, source DESC LIMIT 1
            """,
            kpi_id,
            start,
            end,
        )
        return (None, 0) if row is None else (float(row["value"]), int(row["samples"]))
    row = await driver.fetchrow(
        """
        SELECT count(*) AS samples, avg(value) AS avg, min(value) AS min,
               max(value) AS max, sum(value) AS sum
        FROM kpi_readings WHERE kpi_id = $1 AND observed_at > $2 AND observed_at <= $3
        """,
        kpi_id,
        start,
        end,
    )
    samples = int(row["samples"])
    if aggregation == "count":
        return float(samples), samples
    value = row[aggregation]
    return (None if value is None else float(value)), samples


async def newest_observation(
    session: AsyncSession, kpi_id: uuid.UUID, until: datetime
) -> datetime | None:
    driver = await driver_of(session)
    result: datetime | None = await driver.fetchval(
        "SELECT max(observed_at) FROM kpi_readings WHERE kpi_id = $1 AND observed_at <= $2",
        kpi_id,
        until,
    )
    return result


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
