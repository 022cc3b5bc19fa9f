"""SQL for working with cycles: what lint and rollover read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import AlertRule, KeyResult, Kpi, Objective, ObjectiveKpi


async def objectives_of_cycle(
    session: AsyncSession,
    organization_id: uuid.UUID,
    cycle_id: uuid.UUID,
    *,
    leaving_out: Sequence[str] = (),
) -> list[Objective]:
    """The cycle's objectives, in creation order, but those of the ``leaving_out`` statuses."""
    stmt = (
        select(Objective)
        .where(Objective.organization_id == organization_id, Objective.cycle_id == cycle_id)
        .order_by(Objective.created_at, Objective.id)
    )
    if leaving_out:
        stmt = stmt.where(Objective.status.not_in(leaving_out))
    return list((await session.scalars(stmt)).all())


async def kpis_behind(
    session: AsyncSession,
    organization_id: uuid.UUID,
    objective_ids: Sequence[uuid.UUID],
    key_result_ids: Sequence[uuid.UUID],
) -> list[tuple[Kpi, bool]]:
    """KPIs linked to these objectives or driving these key results, each with whether it
    has an alert rule, in one statement."""
    if not objective_ids:
        return []
    linked = select(ObjectiveKpi.kpi_id).where(
        ObjectiveKpi.organization_id == organization_id,
        ObjectiveKpi.objective_id.in_(objective_ids),
    )
    driving = select(KeyResult.kpi_id).where(
        KeyResult.organization_id == organization_id, KeyResult.id.in_(key_result_ids)
    )
    has_rule = exists().where(
        AlertRule.organization_id == organization_id, AlertRule.kpi_id == Kpi.id
    )
    stmt = (
        select(Kpi, has_rule)
        .where(Kpi.organization_id == organization_id, or_(Kpi.id.in_(linked), Kpi.id.in_(driving)))
        .order_by(Kpi.created_at, Kpi.id)
    )
    return [(kpi, rule) for kpi, rule in (await session.execute(stmt)).all()]


async def add_all(session: AsyncSession, rows: Sequence[object]) -> None:
    session.add_all(rows)
    await session.flush()
