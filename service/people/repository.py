"""SQL for people."""

from __future__ import annotations

import uuid

from sqlalchemy import Integer, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Person


async def find_conflict(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    user_name: str | None,
    external_id: str | None,
    excluding: uuid.UUID | None,
) -> str | None:
    """Which unique field another person already holds, if any."""
    checks = (
        ("user_name", func.lower(Person.user_name) == (user_name or "").lower(), user_name),
        ("external_id", Person.external_id == external_id, external_id),
    )
    for name, clause, value in checks:
        if value is None:
            continue
        stmt = select(Person.id).where(Person.organization_id == organization_id, clause)
        if excluding is not None:
            stmt = stmt.where(Person.id != excluding)
        if (await session.execute(stmt.limit(1))).first() is not None:
            return name
    return None


async def manager_chain(
    session: AsyncSession, organization_id: uuid.UUID, start: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """``start`` and its managers upwards, in one recursive query."""
    base = (
        select(Person.id, Person.manager_id, literal(1, Integer).label("depth"))
        .where(Person.organization_id == organization_id, Person.id == start)
        .cte("chain", recursive=True)
    )
    step = (
        select(Person.id, Person.manager_id, (base.c.depth + 1).label("depth"))
        .join(base, Person.id == base.c.manager_id)
        .where(Person.organization_id == organization_id, base.c.depth < limit)
    )
    chain = base.union(step)
    return list((await session.scalars(select(chain.c.id))).all())
