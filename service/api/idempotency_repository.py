"""Every statement on ``idempotency_keys``: claim a key, read its record, store its answer,
sweep expired records."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import IdempotencyRecord


def _record(
    organization_id: uuid.UUID, key: str
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (IdempotencyRecord.organization_id == organization_id, IdempotencyRecord.key == key)


async def claim(
    session: AsyncSession,
    organization_id: uuid.UUID,
    key: str,
    *,
    request_hash: str,
    method: str,
    path: str,
    expired_before: datetime,
) -> bool:
    """Insert the key's record, after dropping an expired one; False when a live record
    exists (a concurrent first request is waited for: the insert blocks on its key)."""
    where = _record(organization_id, key)
    await session.execute(
        delete(IdempotencyRecord).where(*where, IdempotencyRecord.created_at < expired_before)
    )
    inserted = await session.execute(
        insert(IdempotencyRecord)
        .values(
            organization_id=organization_id,
            key=key,
            request_hash=request_hash,
            method=method,
            path=path,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key)
    )
    return inserted.scalar_one_or_none() is not None


async def get(session: AsyncSession, organization_id: uuid.UUID, key: str) -> IdempotencyRecord:
    """The record ``claim`` found in the way."""
    found = await session.execute(select(IdempotencyRecord).where(*_record(organization_id, key)))
    return found.scalar_one()


async def store_answer(
    session: AsyncSession,
    organization_id: uuid.UUID,
    key: str,
    *,
    status_code: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(*_record(organization_id, key))
        .values(status_code=status_code, response_headers=headers, response_body=body)
    )


async def delete_expired(session: AsyncSession, expired_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` records created before ``expired_before`` (by the
    ``created_at`` index), skipping rows another transaction holds; returns how many."""
    expired = (
        select(IdempotencyRecord.organization_id, IdempotencyRecord.key)
        .where(IdempotencyRecord.created_at < expired_before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(IdempotencyRecord).where(
            tuple_(IdempotencyRecord.organization_id, IdempotencyRecord.key).in_(expired)
        )
    )
    return int(getattr(result, "rowcount", 0))
