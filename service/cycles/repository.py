"""SQL for cycles."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Cycle, Objective


async def name_taken(
    session: AsyncSession, organization_id: uuid.UUID, name: str, excluding: uuid.UUID | None
) -> bool:
    stmt = select(Cycle.id).where(Cycle.organization_id == organization_id, Cycle.name == name)
    if excluding is not None:
        stmt = stmt.where(Cycle.id != excluding)
    return (await session.execute(stmt.limit(1))).first() is not None


async def has_objectives(
    session: AsyncSession, organization_id: uuid.UUID, cycle_id: uuid.UUID
) -> bool:
    stmt = select(
        exists().where(Objective.organization_id == organization_id, Objective.cycle_id == cycle_id)
    )
    return bool((await session.execute(stmt)).scalar())
