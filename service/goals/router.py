"""REST for objectives, key results and check-ins. Thin: parse, call the service, shape."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response, status

from service.api.deps import PageDep, ReadPrincipal, SessionDep, WritePrincipal
from service.api.etag import IfMatch, etag_of, set_etag
from service.api.uow import domain_router
from service.common.schemas import Page
from service.goals import service
from service.goals.schemas import (
    CheckInCreate,
    CheckInRead,
    KeyResultCreate,
    KeyResultRead,
    KeyResultUpdate,
    ObjectiveCreate,
    ObjectiveRead,
    ObjectiveStatus,
    ObjectiveUpdate,
)
from service.goals.views import check_in_read, key_result_read, objective_read

router = domain_router(tags=["goals"])


@router.get("/objectives", operation_id="listObjectives")
async def list_objectives(
    session: SessionDep,
    principal: ReadPrincipal,
    page: PageDep,
    cycle_id: Annotated[uuid.UUID | None, Query()] = None,
    owner_id: Annotated[uuid.UUID | None, Query()] = None,
    team_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[ObjectiveStatus | None, Query()] = None,
    orphaned: Annotated[
        bool | None, Query(description="Only objectives whose owner is (or is not) inactive.")
    ] = None,
) -> Page[ObjectiveRead]:
    """List objectives, filtered by cycle, owner, team, status or orphaned, oldest first."""
    filters = service.ObjectiveFilters(cycle_id, owner_id, team_id, status, orphaned)
    views, next_cursor = await service.list_objectives(session, principal, filters, page)
    now = service.now()
    return Page(items=[objective_read(v, now) for v in views], next_cursor=next_cursor)


@router.post(
    "/objectives",
    status_code=status.HTTP_201_CREATED,
    operation_id="createObjective",
)
async def create_objective(
    session: SessionDep, principal: WritePrincipal, body: ObjectiveCreate, response: Response
) -> ObjectiveRead:
    """Create an objective in a cycle, owned by a person and/or a team."""
    view = await service.create_objective(session, principal, body)
    response.headers["Location"] = f"/v1/objectives/{view.objective.id}"
    read = objective_read(view, service.now())
    response.headers["ETag"] = etag_of(view.objective, read)
    return read


@router.get("/objectives/{objective_id}", operation_id="getObjective")
async def get_objective(
    session: SessionDep,
    principal: ReadPrincipal,
    objective_id: uuid.UUID,
    request: Request,
    response: Response,
) -> ObjectiveRead:
    """One objective with its explainable progress and pace."""
    view = await service.get_objective(session, principal, objective_id)
    read = objective_read(view, service.now())
    set_etag(response, request, view.objective, read)
    return read


@router.patch("/objectives/{objective_id}", operation_id="updateObjective")
async def update_objective(
    session: SessionDep,
    principal: WritePrincipal,
    objective_id: uuid.UUID,
    body: ObjectiveUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> ObjectiveRead:
    """Change fields; send `If-Match` with the ETag you read to avoid overwriting others."""
    view = await service.update_objective(session, principal, objective_id, body, if_match)
    read = objective_read(view, service.now())
    set_etag(response, request, view.objective, read)
    return read


@router.delete(
    "/objectives/{objective_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteObjective",
)
async def delete_objective(
    session: SessionDep, principal: WritePrincipal, objective_id: uuid.UUID
) -> None:
    """Delete an objective with its key results and check-ins."""
    await service.delete_objective(session, principal, objective_id)


@router.get("/objectives/{objective_id}/key-results", operation_id="listKeyResults")
async def list_key_results(
    session: SessionDep, principal: ReadPrincipal, objective_id: uuid.UUID
) -> list[KeyResultRead]:
    """The key results of an objective, in creation order."""
    krs = await service.list_key_results(session, principal, objective_id)
    return [key_result_read(kr) for kr in krs]


@router.post(
    "/objectives/{objective_id}/key-results",
    status_code=status.HTTP_201_CREATED,
    operation_id="createKeyResult",
)
async def create_key_result(
    session: SessionDep,
    principal: WritePrincipal,
    objective_id: uuid.UUID,
    body: KeyResultCreate,
    response: Response,
) -> KeyResultRead:
    """Add a key result: `increase`/`decrease` need `start` and `target`, `range` needs
    `lower` and `upper`, `stay_above`/`stay_below` a `target`."""
    kr = await service.create_key_result(session, principal, objective_id, body)
    response.headers["Location"] = f"/v1/key-results/{kr.id}"
    read = key_result_read(kr)
    response.headers["ETag"] = etag_of(kr, read)
    return read


@router.get("/key-results/{key_result_id}", operation_id="getKeyResult")
async def get_key_result(
    session: SessionDep,
    principal: ReadPrincipal,
    key_result_id: uuid.UUID,
    request: Request,
    response: Response,
) -> KeyResultRead:
    """One key result with its current value and explainable progress."""
    kr = await service.get_key_result(session, principal, key_result_id)
    read = key_result_read(kr)
    set_etag(response, request, kr, read)
    return read


@router.patch("/key-results/{key_result_id}", operation_id="updateKeyResult")
async def update_key_result(
    session: SessionDep,
    principal: WritePrincipal,
    key_result_id: uuid.UUID,
    body: KeyResultUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> KeyResultRead:
    """Change a key result; the definition is checked again as a whole."""
    kr = await service.update_key_result(session, principal, key_result_id, body, if_match)
    read = key_result_read(kr)
    set_etag(response, request, kr, read)
    return read


@router.delete(
    "/key-results/{key_result_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteKeyResult",
)
async def delete_key_result(
    session: SessionDep, principal: WritePrincipal, key_result_id: uuid.UUID
) -> None:
    """Delete a key result and its check-ins; the objective's progress follows."""
    await service.delete_key_result(session, principal, key_result_id)


@router.post(
    "/key-results/{key_result_id}/check-ins",
    status_code=status.HTTP_201_CREATED,
    operation_id="createCheckIn",
)
async def create_check_in(
    session: SessionDep, principal: WritePrincipal, key_result_id: uuid.UUID, body: CheckInCreate
) -> CheckInRead:
    """Record a value. The key result's `current` is its latest check-in by `observed_at`.
    A key result driven by a KPI takes its values from the KPI's readings: a check-in by
    hand is a `409`, and `source: kpi` is never posted (`422`)."""
    check_in = await service.record_check_in(session, principal, key_result_id, body)
    return check_in_read(check_in)


@router.get("/key-results/{key_result_id}/check-ins", operation_id="listCheckIns")
async def list_check_ins(
    session: SessionDep, principal: ReadPrincipal, key_result_id: uuid.UUID, page: PageDep
) -> Page[CheckInRead]:
    """Check-ins, newest observation first (of two observed at once, the later written)."""
    rows, next_cursor = await service.list_check_ins(session, principal, key_result_id, page)
    return Page(items=[check_in_read(c) for c in rows], next_cursor=next_cursor)
