"""SQL for objectives, key results and check-ins."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_dirty, set_committed_value

from service.common.driver import driver_of
from service.common.pagination import PageRequest, apply_keyset
from service.models import CheckIn, KeyResult, Objective, Reading


async def list_objectives(
    session: AsyncSession,
    organization_id: uuid.UUID,
    page: PageRequest,
    filters: Sequence[ColumnElement[bool]],
) -> list[Objective]:
    stmt = select(Objective).where(Objective.organization_id == organization_id, *filters)
    return list((await session.scalars(apply_keyset(stmt, Objective, page))).all())


async def key_results_of(
    session: AsyncSession, organization_id: uuid.UUID, objective_ids: Sequence[uuid.UUID]
) -> list[KeyResult]:
    """Key results of many objectives in one query, in creation order."""
    if not objective_ids:
        return []
    stmt = (
        select(KeyResult)
        .where(
            KeyResult.organization_id == organization_id,
            KeyResult.objective_id.in_(objective_ids),
        )
        .order_by(KeyResult.created_at, KeyResult.id)
    )
    return list((await session.scalars(stmt)).all())


async def check_ins_of(
    session: AsyncSession,
    organization_id: uuid.UUID,
    key_result_ids: Sequence[uuid.UUID],
    per_key_result_limit: int | None = None,
) -> list[CheckIn]:
    """Check-ins of many key results in one query, newest observation first."""
    if not key_result_ids:
        return []
    order = _NEWEST_FIRST
    base = select(CheckIn).where(
        CheckIn.organization_id == organization_id, CheckIn.key_result_id.in_(key_result_ids)
    )
    if per_key_result_limit is None:
        return list((await session.scalars(base.order_by(*order))).all())
    ranked = base.add_columns(
        func.row_number().over(partition_by=CheckIn.key_result_id, order_by=order).label("rank")
    ).subquery()
    stmt = (
        select(CheckIn)
        .join(ranked, ranked.c.id == CheckIn.id)
        .where(ranked.c.rank <= per_key_result_limit)
        .order_by(*order)
    )
    return list((await session.scalars(stmt)).all())


async def list_check_ins(
    session: AsyncSession,
    organization_id: uuid.UUID,
    key_result_id: uuid.UUID,
    limit: int,
    after: tuple[datetime, datetime, uuid.UUID] | None,
) -> list[CheckIn]:
    """Newest observation first, and of two observed at once the later written (the one
    ``current`` counts, as ``latest_check_in`` orders); ``after`` is the position
    ``(observed_at, created_at, id)`` of the previous page's last row."""
    stmt = select(CheckIn).where(
        CheckIn.organization_id == organization_id, CheckIn.key_result_id == key_result_id
    )
    position = tuple_(CheckIn.observed_at, CheckIn.created_at, CheckIn.id)
    if after is not None:
        stmt = stmt.where(position < tuple_(*after))
    stmt = stmt.order_by(*_NEWEST_FIRST).limit(limit + 1)
    return list((await session.scalars(stmt)).all())


_NEWEST_FIRST = (CheckIn.observed_at.desc(), CheckIn.created_at.desc(), CheckIn.id.desc())


async def latest_reading(
    session: AsyncSession, organization_id: uuid.UUID, kpi_id: uuid.UUID | None
) -> Reading | None:
    """The KPI's newest observation (of two at once, the later received)."""
    stmt = (
        select(Reading)
        .where(Reading.organization_id == organization_id, Reading.kpi_id == kpi_id)
        .order_by(Reading.observed_at.desc(), Reading.received_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def latest_check_in(
    session: AsyncSession, organization_id: uuid.UUID, key_result_id: uuid.UUID
) -> CheckIn | None:
    stmt = (
        select(CheckIn)
        .where(CheckIn.organization_id == organization_id, CheckIn.key_result_id == key_result_id)
        .order_by(*_NEWEST_FIRST)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()


async def remove(session: AsyncSession, row: object) -> None:
    await session.delete(row)
    await session.flush()


async def key_results_driven_by(
    session: AsyncSession, organization_id: uuid.UUID, kpi_ids: Sequence[uuid.UUID]
) -> list[KeyResult]:
    if not kpi_ids:
        return []
    stmt = select(KeyResult).where(
        KeyResult.organization_id == organization_id, KeyResult.kpi_id.in_(kpi_ids)
    )
    return list((await session.scalars(stmt)).all())


async def any_driven_by(
    session: AsyncSession, organization_id: uuid.UUID, kpi_ids: Sequence[uuid.UUID]
) -> bool:
    """Whether any key result is driven by one of these KPIs (the ingest path asks first,
    through asyncpg: most batches drive none)."""
    if not kpi_ids:
        return False
    driver = await driver_of(session)
    found: bool = await driver.fetchval(
        "SELECT EXISTS (SELECT 1 FROM key_results WHERE organization_id = $1::uuid "
        "AND kpi_id = ANY($2::uuid[]))",
        organization_id,
        kpi_ids,
    )
    return found


async def lock_objectives(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[Objective]:
    stmt = (
        select(Objective)
        .where(Objective.organization_id == organization_id, Objective.id.in_(ids))
        .order_by(Objective.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def lock_key_results(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[KeyResult]:
    stmt = (
        select(KeyResult)
        .where(KeyResult.organization_id == organization_id, KeyResult.id.in_(ids))
        .order_by(KeyResult.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def add_check_ins(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Many check-ins in one batched INSERT (readings can bring thousands at once)."""
    if rows:
        await session.execute(insert(CheckIn), list(rows))


async def store_computed(
    session: AsyncSession, row: Objective | KeyResult, values: dict[str, object]
) -> None:
    """Store fields computed from other rows (a key result's latest check-in, progress)
    without moving ``version``: the version is what ``If-Match`` guards, the client's own
    edits, and a check-in is not one (the ETag's digest covers these fields).

    An ORM flush would move the version, so this is a plain UPDATE (the ORM's version
    counter applies to flushes only), and the loaded row takes the values as committed,
    never dirty, so no later flush writes them again. Callers hold the row's lock."""
    model = type(row)
    stmt = (
        update(model)
        .where(model.id == row.id, model.organization_id == row.organization_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    await session.execute(stmt)
    for name, value in values.items():
        set_committed_value(row, name, value)
    # Without a change of its own the row would be outside what a rolled-back SAVEPOINT (a
    # failed GraphQL mutation) expires, and keep these values in memory; flagged, it is
    # expired like any changed row, and a flush finds no column to write (so no version).
    flag_dirty(row)
