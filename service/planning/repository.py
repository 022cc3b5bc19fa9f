"""SQL for working with cycles: what lint and rollover read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import KeyResult, Kpi, Objective, ObjectiveKpi


async def objectives_of_cycle(
    session: AsyncSession, organization_id: uuid.UUID, cycle_id: uuid.UUID
) -> list[Objective]:
    stmt = (
        select(Objective)
        .where(Objective.organization_id == organization_id, Objective.cycle_id == cycle_id)
        .order_by(Objective.created_at, Objective.id)
    )
    return list((await session.scalars(stmt)).all())


async def kpis_behind(
    session: AsyncSession,
    organization_id: uuid.UUID,
    objective_ids: Sequence[uuid.UUID],
    key_result_ids: Sequence[uuid.UUID],
) -> list[Kpi]:
    """KPIs linked to these objectives or driving these key results, in one statement."""
    if not objective_ids:
        return []
    linked = select(ObjectiveKpi.kpi_id).where(
        ObjectiveKpi.organization_id == organization_id,
        ObjectiveKpi.objective_id.in_(objective_ids),
    )
    driving = select(KeyResult.kpi_id).where(
        KeyResult.organization_id == organization_id, KeyResult.id.in_(key_result_ids)
    )
    stmt = (
        select(Kpi)
        .where(Kpi.organization_id == organization_id, or_(Kpi.id.in_(linked), Kpi.id.in_(driving)))
        .order_by(Kpi.created_at, Kpi.id)
    )
    return list((await session.scalars(stmt)).all())


async def add_all(session: AsyncSession, rows: Sequence[object]) -> None:
    session.add_all(rows)
    await session.flush()
