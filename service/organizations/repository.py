"""SQL for the organization row."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Organization


async def get(session: AsyncSession, org: uuid.UUID, *, for_update: bool = False) -> Organization:
    stmt = select(Organization).where(Organization.id == org)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one()
