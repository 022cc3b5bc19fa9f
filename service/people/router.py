"""REST for people."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response, status

from service.api.deps import PageDep, ReadPrincipal, SessionDep, WritePrincipal
from service.api.etag import IfMatch, etag_of, set_etag
from service.api.uow import domain_router
from service.common.schemas import Page
from service.people import service, sync
from service.people.schemas import (
    OwnedKeyResult,
    OwnedKpi,
    OwnedObjective,
    OwnershipRead,
    PeopleSync,
    PeopleSyncResult,
    PersonCreate,
    PersonRead,
    PersonUpdate,
)

router = domain_router(tags=["people"])


@router.get("/people", operation_id="listPeople")
async def list_people(
    session: SessionDep,
    principal: ReadPrincipal,
    page: PageDep,
    active: Annotated[bool | None, Query()] = None,
) -> Page[PersonRead]:
    """List people, oldest first; `active=true` hides deactivated ones."""
    rows, next_cursor = await service.list_people(session, principal, page, active)
    return Page(items=[PersonRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/people", status_code=status.HTTP_201_CREATED, operation_id="createPerson")
async def create_person(
    session: SessionDep, principal: WritePrincipal, body: PersonCreate, response: Response
) -> PersonRead:
    """Create a person; `user_name` and `external_id` are unique in the organization."""
    person = await service.create_person(session, principal, body)
    response.headers["Location"] = f"/v1/people/{person.id}"
    read = PersonRead.model_validate(person)
    response.headers["ETag"] = etag_of(person, read)
    return read


@router.post("/people/sync", operation_id="syncPeople")
async def sync_people(
    session: SessionDep, principal: WritePrincipal, body: PeopleSync
) -> PeopleSyncResult:
    """Bulk sync from an HRIS: people and teams in one payload, matched by `external_id`
    (else e-mail), managers and members resolved within the payload, a result per row.
    `full` deactivates the active people left out (admin scope); `dry_run` changes nothing."""
    return await sync.sync_people(session, principal, body)


@router.get("/people/{person_id}", operation_id="getPerson")
async def get_person(
    session: SessionDep,
    principal: ReadPrincipal,
    person_id: uuid.UUID,
    request: Request,
    response: Response,
) -> PersonRead:
    """One person."""
    person = await service.get_person(session, principal, person_id)
    read = PersonRead.model_validate(person)
    set_etag(response, request, person, read)
    return read


@router.patch("/people/{person_id}", operation_id="updatePerson")
async def update_person(
    session: SessionDep,
    principal: WritePrincipal,
    person_id: uuid.UUID,
    body: PersonUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> PersonRead:
    """Change a person; a manager loop is refused with 409."""
    person = await service.update_person(session, principal, person_id, body, if_match)
    read = PersonRead.model_validate(person)
    set_etag(response, request, person, read)
    return read


@router.delete(
    "/people/{person_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deactivatePerson"
)
async def deactivate_person(
    session: SessionDep, principal: WritePrincipal, person_id: uuid.UUID
) -> None:
    """Deactivate a person. People are never deleted: their history stays."""
    await service.deactivate_person(session, principal, person_id)


@router.get("/people/{person_id}/ownership", operation_id="getPersonOwnership")
async def get_person_ownership(
    session: SessionDep, principal: ReadPrincipal, person_id: uuid.UUID
) -> OwnershipRead:
    """What a person owns that is still in play (open objectives, their key results, KPIs).
    With the `flag` orphan policy, a deactivated person's list is what needs a new owner."""
    owned = await service.get_ownership(session, principal, person_id)
    return OwnershipRead(
        person_id=owned.person.id,
        active=owned.person.active,
        orphaned=not owned.person.active,
        objectives=[OwnedObjective.model_validate(o) for o in owned.objectives],
        key_results=[OwnedKeyResult.model_validate(k) for k in owned.key_results],
        kpis=[OwnedKpi.model_validate(k) for k in owned.kpis],
    )
