"""SQL for organizations and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.pagination import PageRequest, apply_keyset
from service.models import ApiKey, Organization

LAST_USED_RESOLUTION = timedelta(minutes=1)


async def add_organization(session: AsyncSession, name: str) -> Organization:
    org = Organization(name=name)
    session.add(org)
    await session.flush()
    return org


async def add_api_key(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    return key


async def find_active_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def touch_last_used(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    """Record use at most once a minute so reads do not turn into a write per request."""
    if key.last_used_at and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))


async def list_api_keys(
    session: AsyncSession, organization_id: uuid.UUID, page: PageRequest
) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.organization_id == organization_id)
    return list((await session.scalars(apply_keyset(stmt, ApiKey, page))).all())


async def get_api_key(
    session: AsyncSession, organization_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.organization_id == organization_id, ApiKey.id == key_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_other_active_admin_keys(
    session: AsyncSession, organization_id: uuid.UUID, excluding: uuid.UUID
) -> int:
    stmt = select(func.count()).where(
        ApiKey.organization_id == organization_id,
        ApiKey.id != excluding,
        ApiKey.revoked_at.is_(None),
        ApiKey.scopes.contains(["admin"]),
    )
    return int((await session.execute(stmt)).scalar_one())
