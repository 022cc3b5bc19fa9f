"""REST for cycles."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response, status

from service.api.deps import PageDep, ReadPrincipal, SessionDep, WritePrincipal
from service.api.etag import IfMatch, etag_of, set_etag
from service.api.uow import domain_router
from service.common.schemas import Page
from service.cycles import service
from service.cycles.schemas import CycleCreate, CycleRead, CycleStatus, CycleUpdate

router = domain_router(tags=["cycles"])


@router.get("/cycles", operation_id="listCycles")
async def list_cycles(
    session: SessionDep,
    principal: ReadPrincipal,
    page: PageDep,
    status: Annotated[CycleStatus | None, Query()] = None,
) -> Page[CycleRead]:
    """List cycles, oldest first."""
    rows, next_cursor = await service.list_cycles(session, principal, page, status)
    return Page(items=[CycleRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/cycles", status_code=status.HTTP_201_CREATED, operation_id="createCycle")
async def create_cycle(
    session: SessionDep, principal: WritePrincipal, body: CycleCreate, response: Response
) -> CycleRead:
    """Create a cycle; names are unique within the organization."""
    cycle = await service.create_cycle(session, principal, body)
    response.headers["Location"] = f"/v1/cycles/{cycle.id}"
    read = CycleRead.model_validate(cycle)
    response.headers["ETag"] = etag_of(cycle, read)
    return read


@router.get("/cycles/{cycle_id}", operation_id="getCycle")
async def get_cycle(
    session: SessionDep,
    principal: ReadPrincipal,
    cycle_id: uuid.UUID,
    request: Request,
    response: Response,
) -> CycleRead:
    """One cycle."""
    cycle = await service.get_cycle(session, principal, cycle_id)
    read = CycleRead.model_validate(cycle)
    set_etag(response, request, cycle, read)
    return read


@router.patch("/cycles/{cycle_id}", operation_id="updateCycle")
async def update_cycle(
    session: SessionDep,
    principal: WritePrincipal,
    cycle_id: uuid.UUID,
    body: CycleUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> CycleRead:
    """Rename, move dates or change status."""
    cycle = await service.update_cycle(session, principal, cycle_id, body, if_match)
    read = CycleRead.model_validate(cycle)
    set_etag(response, request, cycle, read)
    return read


@router.delete(
    "/cycles/{cycle_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteCycle"
)
async def delete_cycle(session: SessionDep, principal: WritePrincipal, cycle_id: uuid.UUID) -> None:
    """Delete an empty cycle; one with objectives is refused with 409."""
    await service.delete_cycle(session, principal, cycle_id)
