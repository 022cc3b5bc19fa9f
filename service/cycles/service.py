"""Cycles: named periods objectives belong to."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, split_page
from service.common.repository import get_scoped, list_scoped
from service.cycles import repository
from service.cycles.schemas import CycleCreate, CycleStatus, CycleUpdate
from service.errors import Conflict, NotFound, ValidationFailed, refuse_nulls
from service.models import Cycle


async def list_cycles(
    session: AsyncSession, principal: Principal, page: PageRequest, status: CycleStatus | None
) -> tuple[list[Cycle], str | None]:
    require(principal, Scope.READ)
    filters = [Cycle.status == status] if status else []
    rows = await list_scoped(session, Cycle, principal.organization_id, page, filters)
    return split_page(rows, page)


async def get_cycle(session: AsyncSession, principal: Principal, cycle_id: uuid.UUID) -> Cycle:
    require(principal, Scope.READ)
    return await _cycle(session, principal, cycle_id)


async def create_cycle(session: AsyncSession, principal: Principal, data: CycleCreate) -> Cycle:
    require(principal, Scope.WRITE)
    if await repository.name_taken(session, principal.organization_id, data.name, None):
        raise Conflict(f"A cycle named {data.name!r} already exists.")
    cycle = Cycle(organization_id=principal.organization_id, **data.model_dump())
    session.add(cycle)
    await session.flush()
    return cycle


async def update_cycle(
    session: AsyncSession,
    principal: Principal,
    cycle_id: uuid.UUID,
    data: CycleUpdate,
    if_match: str | None,
) -> Cycle:
    require(principal, Scope.WRITE)
    cycle = await _cycle(session, principal, cycle_id, for_update=True)
    check_if_match(if_match, cycle)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, changes)  # every field of a cycle is required
    start = changes.get("start_date", cycle.start_date)
    end = changes.get("end_date", cycle.end_date)
    if end < start:
        raise ValidationFailed.on("end_date", "`end_date` must not be before `start_date`.")
    new_name = changes.get("name")
    if new_name and await repository.name_taken(
        session, principal.organization_id, new_name, cycle.id
    ):
        raise Conflict(f"A cycle named {new_name!r} already exists.")
    for key, value in changes.items():
        setattr(cycle, key, value)
    await session.flush()
    return cycle


async def delete_cycle(session: AsyncSession, principal: Principal, cycle_id: uuid.UUID) -> None:
    require(principal, Scope.WRITE)
    cycle = await _cycle(session, principal, cycle_id, for_update=True)
    if await repository.has_objectives(session, principal.organization_id, cycle.id):
        raise Conflict("The cycle still has objectives; move or delete them first.")
    await session.delete(cycle)
    await session.flush()


async def _cycle(
    session: AsyncSession, principal: Principal, ident: uuid.UUID, *, for_update: bool = False
) -> Cycle:
    row = await get_scoped(session, Cycle, principal.organization_id, ident, for_update=for_update)
    if row is None:
        raise NotFound.of("Cycle", ident)
    return row
