"""People: the owners of goals. Never deleted; deactivated people keep their history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, split_page
from service.common.repository import get_scoped, list_scoped, serialize_in_organization
from service.errors import Conflict, NotFound, ValidationFailed, refuse_nulls
from service.models import KeyResult, Kpi, Objective, Person
from service.people import ownership, repository
from service.people.schemas import PersonCreate, PersonUpdate

MAX_MANAGER_DEPTH = 100


@dataclass
class Ownership:
    person: Person
    objectives: list[Objective]
    key_results: list[KeyResult]
    kpis: list[Kpi]


async def list_people(
    session: AsyncSession, principal: Principal, page: PageRequest, active: bool | None
) -> tuple[list[Person], str | None]:
    require(principal, Scope.READ)
    filters = [Person.active == active] if active is not None else []
    rows = await list_scoped(session, Person, principal.organization_id, page, filters)
    return split_page(rows, page)


async def get_person(session: AsyncSession, principal: Principal, person_id: uuid.UUID) -> Person:
    require(principal, Scope.READ)
    return await _person(session, principal, person_id)


async def create_person(session: AsyncSession, principal: Principal, data: PersonCreate) -> Person:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    await _check_unique(session, org, data.user_name, data.external_id, None)
    if data.manager_id is not None:
        await _manager(session, principal, data.manager_id)
    person = Person(organization_id=org, **data.model_dump())
    session.add(person)
    await session.flush()
    return person


async def update_person(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    data: PersonUpdate,
    if_match: str | None,
) -> Person:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    person = await _person(session, principal, person_id, for_update=True)
    check_if_match(if_match, person)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("user_name", "display_name", "active"))
    await _check_unique(
        session, org, changes.get("user_name"), changes.get("external_id"), person.id
    )
    manager_id = changes.get("manager_id")
    if manager_id is not None:
        await _manager(session, principal, manager_id)
        await serialize_in_organization(session, repository.MANAGERS, org)
        chain = await repository.manager_chain(session, org, manager_id, MAX_MANAGER_DEPTH)
        if person.id in chain:
            raise Conflict("That manager reports (directly or not) to this person.")
    active = changes.pop("active", None)
    for name, value in changes.items():
        setattr(person, name, value)
    await session.flush()
    if active is not None:
        await ownership.set_active(session, person, active)
    return person


async def deactivate_person(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID
) -> None:
    """``DELETE`` deactivates: the person and what they own stay, marked inactive."""
    require(principal, Scope.WRITE)
    person = await _person(session, principal, person_id, for_update=True)
    await ownership.set_active(session, person, False)


async def get_ownership(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID
) -> Ownership:
    """What a person owns that is still in play, e.g. before or after they leave."""
    require(principal, Scope.READ)
    person = await _person(session, principal, person_id)
    objectives, key_results, kpis = await repository.owned(
        session, principal.organization_id, person.id
    )
    return Ownership(person, objectives, key_results, kpis)


async def _person(
    session: AsyncSession, principal: Principal, ident: uuid.UUID, *, for_update: bool = False
) -> Person:
    row = await get_scoped(session, Person, principal.organization_id, ident, for_update=for_update)
    if row is None:
        raise NotFound.of("Person", ident)
    return row


async def _manager(session: AsyncSession, principal: Principal, ident: uuid.UUID) -> None:
    if await get_scoped(session, Person, principal.organization_id, ident) is None:
        raise ValidationFailed.on("manager_id", f"There is no person {ident}.")


async def _check_unique(
    session: AsyncSession,
    org: uuid.UUID,
    user_name: str | None,
    external_id: str | None,
    excluding: uuid.UUID | None,
) -> None:
    taken = await repository.find_conflict(
        session, org, user_name=user_name, external_id=external_id, excluding=excluding
    )
    if taken:
        raise Conflict(f"Another person already has this `{taken}`.")
