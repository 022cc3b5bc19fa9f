"""SQL for KPIs (the ORM path; readings go through ``readings_repository``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.driver import driver_of
from service.models import Kpi


async def find_by_id_or_key(
    session: AsyncSession, organization_id: uuid.UUID, ref: str, *, for_update: bool = False
) -> Kpi | None:
    stmt = select(Kpi).where(Kpi.organization_id == organization_id)
    ident = _as_uuid(ref)
    stmt = stmt.where(Kpi.key == ref) if ident is None else stmt.where(Kpi.id == ident)
    if for_update:
        # Read again under the lock: a copy loaded earlier in this session (an earlier
        # mutation of the same GraphQL document) would pass If-Match on its old version.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def ids_of_refs(
    session: AsyncSession, organization_id: uuid.UUID, refs: Iterable[str]
) -> dict[str, uuid.UUID]:
    """Map each given key or id to its KPI's id, in one statement; unknown refs are absent.

    The ingest path: plain ids through asyncpg, no KPI instances."""
    keys: list[str] = []
    ids: dict[str, uuid.UUID] = {}
    for ref in refs:
        parsed = _as_uuid(ref)
        if parsed is None:
            keys.append(ref)
        else:
            ids[ref] = parsed
    if not keys and not ids:
        return {}
    driver = await driver_of(session)
    records = await driver.fetch(
        "SELECT id, key FROM kpis WHERE organization_id = $1::uuid "
        "AND (key = ANY($2::text[]) OR id = ANY($3::uuid[]))",
        organization_id,
        keys,
        list(ids.values()),
    )
    found = {rec[0] for rec in records}
    wanted = set(keys)
    resolved = {ref: ident for ref, ident in ids.items() if ident in found}
    resolved |= {rec[1]: rec[0] for rec in records if rec[1] in wanted}
    return resolved


def _as_uuid(ref: str) -> uuid.UUID | None:
    # Most refs are short keys; a UUID takes 32 hex digits at least. Skipping the
    # exception ``uuid.UUID`` raises for them saves 2 us a key.
    if len(ref) < 32:
        return None
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
