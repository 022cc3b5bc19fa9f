"""SQL for KPIs (the ORM path; readings go through ``readings_repository``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Kpi


async def find_by_id_or_key(
    session: AsyncSession, organization_id: uuid.UUID, ref: str, *, for_update: bool = False
) -> Kpi | None:
    stmt = select(Kpi).where(Kpi.organization_id == organization_id)
    ident = _as_uuid(ref)
    stmt = stmt.where(Kpi.key == ref) if ident is None else stmt.where(Kpi.id == ident)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def resolve_refs(
    session: AsyncSession, organization_id: uuid.UUID, refs: Sequence[str]
) -> dict[str, Kpi]:
    """Map each given key or id to its KPI, in one query; unknown refs are absent."""
    ids: dict[str, uuid.UUID] = {}
    keys: set[str] = set()
    for ref in set(refs):
        parsed = _as_uuid(ref)
        if parsed is None:
            keys.add(ref)
        else:
            ids[ref] = parsed
    if not ids and not keys:
        return {}
    stmt = select(Kpi).where(
        Kpi.organization_id == organization_id,
        or_(Kpi.id.in_(list(ids.values())), Kpi.key.in_(list(keys))),
    )
    rows = (await session.scalars(stmt)).all()
    by_id = {kpi.id: kpi for kpi in rows}
    by_key = {kpi.key: kpi for kpi in rows}
    resolved = {ref: by_id[ident] for ref, ident in ids.items() if ident in by_id}
    resolved |= {ref: by_key[ref] for ref in keys if ref in by_key}
    return resolved


def _as_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


async def key_taken(
    session: AsyncSession, organization_id: uuid.UUID, key: str, excluding: uuid.UUID | None
) -> bool:
    stmt = select(Kpi.id).where(Kpi.organization_id == organization_id, Kpi.key == key)
    if excluding is not None:
        stmt = stmt.where(Kpi.id != excluding)
    return (await session.execute(stmt.limit(1))).first() is not None
