"""SCIM provisioning: Users are people, Groups are teams. Rules and authorization only;
SQL is in ``scim/repository.py``, the JSON mapping in ``scim/resources.py``, the reading
of list and search parameters in ``scim/query.py``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.repository import get_scoped, serialize_in_organization
from service.errors import BadRequest, Conflict, NotFound
from service.models import Person, Team
from service.models.base import utcnow
from service.people import ownership
from service.people import repository as people_repository
from service.scim import repository
from service.scim.discovery import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    LIST_RESPONSE,
)
from service.scim.filter import FilterError, attribute, parse
from service.scim.patch import PatchError, Schemas, apply_patch
from service.scim.query import Query
from service.scim.resources import (
    GroupFields,
    InvalidResource,
    UserFields,
    group_from_scim,
    group_to_scim,
    user_from_scim,
    user_to_scim,
)
from service.teams import repository as teams_repository

USER_SCHEMAS = Schemas(CORE_USER, frozenset({ENTERPRISE_USER}))
GROUP_SCHEMAS = Schemas(CORE_GROUP, frozenset())
MAX_MANAGER_DEPTH = 100


def _where(
    query: Query, attributes: dict[str, repository.Condition], schemas: tuple[str, ...]
) -> ColumnElement[bool] | None:
    if query.filter is None:
        return None
    try:
        return repository.compile_filter(parse(query.filter), attributes, schemas)
    except FilterError as exc:
        raise BadRequest(str(exc), scim_type="invalidFilter") from exc


def _list_response(query: Query, total: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": query.start_index,
        "itemsPerPage": len(resources),
        "Resources": [query.shape(r) for r in resources],
    }


def _invalid(exc: InvalidResource | PatchError) -> BadRequest:
    return BadRequest(str(exc), scim_type=exc.scim_type)


def discover(principal: Principal) -> None:
    """Discovery documents are the same for everyone, but only for SCIM clients."""
    require(principal, Scope.SCIM)


async def search_all(
    session: AsyncSession, principal: Principal, query: Query, base: str
) -> dict[str, Any]:
    """``POST /.search``: Users, then Groups, as one list (RFC 7644 §3.4.3). A filter
    applies to both, so it may name only attributes both have (``id``, ``externalId``,
    ``displayName``, ``meta.*``)."""
    require(principal, Scope.SCIM)
    org = principal.organization_id
    user_where = _where(query, repository.USER_ATTRIBUTES, repository.USER_SCHEMAS)
    group_where = _where(query, repository.GROUP_ATTRIBUTES, repository.GROUP_SCHEMAS)
    offset = query.start_index - 1
    user_total, users = await repository.list_users(session, org, user_where, offset, query.count)
    group_offset = max(0, offset - user_total)
    group_total, groups = await repository.list_groups(
        session, org, group_where, group_offset, query.count - len(users)
    )
    resources = await _render_users(session, org, users, base)
    resources += await _render_groups(session, org, groups, base, query)
    return _list_response(query, user_total + group_total, resources)


# ---- Users ------------------------------------------------------------------------------


async def list_users(
    session: AsyncSession, principal: Principal, query: Query, base: str
) -> dict[str, Any]:
    require(principal, Scope.SCIM)
    org = principal.organization_id
    where = _where(query, repository.USER_ATTRIBUTES, repository.USER_SCHEMAS)
    total, rows = await repository.list_users(
        session, org, where, query.start_index - 1, query.count
    )
    return _list_response(query, total, await _render_users(session, org, rows, base))


async def get_user(
    session: AsyncSession, principal: Principal, ident: str, base: str
) -> dict[str, Any]:
    require(principal, Scope.SCIM)
    person = await _user(session, principal, ident)
    return (await _render_users(session, principal.organization_id, [person], base))[0]


async def create_user(
    session: AsyncSession, principal: Principal, body: Any, base: str
) -> dict[str, Any]:
    """Provision a person. A user name that was deprovisioned (DELETE) is revived: the same
    person, with their history, takes the new attributes."""
    require(principal, Scope.SCIM)
    fields = _user_fields(body)
    org = principal.organization_id
    holder = await repository.person_by_user_name(session, org, fields.user_name)
    if holder is not None and holder.deprovisioned_at is None:
        raise Conflict("A User with this userName already exists.", scim_type="uniqueness")
    active = True if fields.active is None else fields.active
    person = holder or Person(
        organization_id=org, user_name=fields.user_name, display_name="", active=active
    )
    person.deprovisioned_at = None
    await _store_user(session, person, fields, creating=holder is None, active=active)
    return (await _render_users(session, org, [person], base))[0]


async def replace_user(
    session: AsyncSession, principal: Principal, ident: str, body: Any, base: str
) -> dict[str, Any]:
    """Replace the User. An ``active`` left out keeps the person's state (RFC 7643 gives it
    no default): identity providers PUT without it, and must not revive someone deactivated
    in Meridian, nor deactivate anyone by omission."""
    require(principal, Scope.SCIM)
    person = await _user(session, principal, ident, for_update=True)
    fields = _user_fields(body)
    active = person.active if fields.active is None else fields.active
    await _store_user(session, person, fields, creating=False, active=active)
    return (await _render_users(session, principal.organization_id, [person], base))[0]


async def patch_user(
    session: AsyncSession, principal: Principal, ident: str, body: Any, base: str
) -> dict[str, Any]:
    """Apply the operations to the User's JSON, then store it as a ``PUT`` would. What no
    operation targets stays as it is (the User's JSON shows ``active`` whenever it is
    false); an operation that removes ``active`` leaves it unassigned, which is true, as on
    create."""
    require(principal, Scope.SCIM)
    person = await _user(session, principal, ident, for_update=True)
    current = (await _render_users(session, principal.organization_id, [person], base))[0]
    try:
        patched = apply_patch(current, _operations(body), USER_SCHEMAS)
    except PatchError as exc:
        raise _invalid(exc) from exc
    fields = _user_fields(patched)
    active = _patched_active(current, fields, person)
    await _store_user(session, person, fields, creating=False, active=active)
    return (await _render_users(session, principal.organization_id, [person], base))[0]


def _patched_active(current: dict[str, Any], fields: UserFields, person: Person) -> bool:
    if fields.active is not None:
        return fields.active
    # Gone from JSON that showed it: an operation removed it, and unassigned is true, as on
    # create. Never shown: untouched, and true already (the JSON shows it whenever false).
    return attribute(current, "active") is not None or person.active


async def delete_user(session: AsyncSession, principal: Principal, ident: str) -> None:
    """Deprovision: the person is deactivated (orphan policy, events) and leaves SCIM, but
    is never deleted; provisioning their userName again revives them."""
    require(principal, Scope.SCIM)
    person = await _user(session, principal, ident, for_update=True)
    await ownership.set_active(session, person, False)
    person.deprovisioned_at = utcnow()
    await session.flush()


def _user_fields(body: Any) -> UserFields:
    try:
        return user_from_scim(body)
    except InvalidResource as exc:
        raise _invalid(exc) from exc


async def _store_user(
    session: AsyncSession, person: Person, fields: UserFields, *, creating: bool, active: bool
) -> None:
    org = person.organization_id
    excluding = None if creating else person.id
    taken = await people_repository.find_conflict(
        session,
        org,
        user_name=fields.user_name,
        external_id=fields.external_id,
        excluding=excluding,
    )
    if taken:
        name = {"user_name": "userName", "external_id": "externalId"}[taken]
        raise Conflict(f"Another User already has this {name}.", scim_type="uniqueness")
    if creating:
        session.add(person)
        await session.flush()  # an id, so the manager check below can see this person
    person.manager_id = await _manager_id(session, person, fields.manager_ref)
    person.user_name = fields.user_name
    person.display_name = fields.display_name
    person.external_id = fields.external_id
    person.email = fields.email
    person.title = fields.title
    person.employee_number = fields.employee_number
    person.department = fields.department
    person.scim_attributes = fields.scim_attributes
    await session.flush()
    await ownership.set_active(session, person, active)


async def _manager_id(session: AsyncSession, person: Person, ref: str | None) -> uuid.UUID | None:
    if ref is None:
        return None
    manager = await repository.resolve_person(session, person.organization_id, ref)
    if manager is None:
        raise BadRequest(f"There is no User {ref!r} to be the manager.", scim_type="invalidValue")
    await serialize_in_organization(session, people_repository.MANAGERS, person.organization_id)
    chain = await people_repository.manager_chain(
        session, person.organization_id, manager.id, MAX_MANAGER_DEPTH
    )
    if person.id in chain:
        raise BadRequest("That manager reports to this User.", scim_type="invalidValue")
    return manager.id


async def _user(
    session: AsyncSession, principal: Principal, ident: str, *, for_update: bool = False
) -> Person:
    person = None
    parsed = _uuid(ident)
    if parsed is not None:
        person = await repository.get_user(
            session, principal.organization_id, parsed, for_update=for_update
        )
    if person is None:
        raise NotFound(f"User {ident} does not exist.")
    return person


async def _render_users(
    session: AsyncSession, org: uuid.UUID, rows: list[Person], base: str
) -> list[dict[str, Any]]:
    manager_ids = list({p.manager_id for p in rows if p.manager_id is not None})
    managers = {m.id: m for m in await repository.people_by_id(session, org, manager_ids)}
    return [
        user_to_scim(p, managers.get(p.manager_id) if p.manager_id else None, base) for p in rows
    ]


# ---- Groups -----------------------------------------------------------------------------


async def list_groups(
    session: AsyncSession, principal: Principal, query: Query, base: str
) -> dict[str, Any]:
    require(principal, Scope.SCIM)
    org = principal.organization_id
    where = _where(query, repository.GROUP_ATTRIBUTES, repository.GROUP_SCHEMAS)
    total, rows = await repository.list_groups(
        session, org, where, query.start_index - 1, query.count
    )
    return _list_response(query, total, await _render_groups(session, org, rows, base, query))


async def get_group(
    session: AsyncSession, principal: Principal, ident: str, base: str, query: Query
) -> dict[str, Any]:
    require(principal, Scope.SCIM)
    team = await _group(session, principal, ident)
    return (await _render_groups(session, principal.organization_id, [team], base, query))[0]


async def create_group(
    session: AsyncSession, principal: Principal, body: Any, base: str
) -> dict[str, Any]:
    require(principal, Scope.SCIM)
    org = principal.organization_id
    team = Team(organization_id=org, name="")
    await _store_group(session, team, _group_fields(body), creating=True)
    return (await _render_groups(session, org, [team], base, Query()))[0]


async def replace_group(
    session: AsyncSession, principal: Principal, ident: str, body: Any, base: str
) -> dict[str, Any]:
    require(principal, Scope.SCIM)
    team = await _group(session, principal, ident, for_update=True)
    await _store_group(session, team, _group_fields(body), creating=False)
    return (await _render_groups(session, principal.organization_id, [team], base, Query()))[0]


async def patch_group(
    session: AsyncSession, principal: Principal, ident: str, body: Any, base: str
) -> dict[str, Any]:
    require(principal, Scope.SCIM)
    org = principal.organization_id
    team = await _group(session, principal, ident, for_update=True)
    current = (await _render_groups(session, org, [team], base, Query()))[0]
    try:
        patched = apply_patch(current, _operations(body), GROUP_SCHEMAS)
    except PatchError as exc:
        raise _invalid(exc) from exc
    await _store_group(session, team, _group_fields(patched), creating=False)
    return (await _render_groups(session, org, [team], base, Query()))[0]


async def delete_group(session: AsyncSession, principal: Principal, ident: str) -> None:
    """Delete the team (its objectives and KPIs keep existing, without the team)."""
    require(principal, Scope.SCIM)
    team = await _group(session, principal, ident, for_update=True)
    if await teams_repository.has_children(session, principal.organization_id, team.id):
        raise Conflict("The team has sub-teams; move or delete them first.")
    await session.delete(team)
    await session.flush()


def _group_fields(body: Any) -> GroupFields:
    try:
        return group_from_scim(body)
    except InvalidResource as exc:
        raise _invalid(exc) from exc


async def _store_group(
    session: AsyncSession, team: Team, fields: GroupFields, *, creating: bool
) -> None:
    org = team.organization_id
    excluding = None if creating else team.id
    # No unique index can hold this (REST allows teams of one name): two Groups of one
    # name pushed at once each found it free. Held until commit, per name.
    name = fields.display_name.lower()  # as team_name_taken compares
    await serialize_in_organization(session, f"{repository.GROUP_NAMES}.{name}", org)
    if await repository.team_name_taken(session, org, fields.display_name, excluding):
        raise Conflict("Another Group already has this displayName.", scim_type="uniqueness")
    if fields.external_id and await teams_repository.external_id_taken(
        session, org, fields.external_id, excluding
    ):
        raise Conflict("Another Group already has this externalId.", scim_type="uniqueness")
    member_ids = [_uuid(ref) for ref in fields.member_refs]
    known = await repository.provisioned_people(
        session, org, [m for m in member_ids if m is not None]
    )
    missing = [ref for ref, m in zip(fields.member_refs, member_ids, strict=True) if m not in known]
    if missing:
        raise BadRequest(f"There is no User {missing[0]!r}.", scim_type="invalidValue")
    team.name = fields.display_name
    team.external_id = fields.external_id
    team.updated_at = utcnow()  # membership is part of the team: move its version
    if creating:
        session.add(team)
    await session.flush()
    ids = [m for m in member_ids if m is not None]
    await teams_repository.replace_members(session, org, team.id, ids)


async def _group(
    session: AsyncSession, principal: Principal, ident: str, *, for_update: bool = False
) -> Team:
    team = None
    parsed = _uuid(ident)
    if parsed is not None:
        team = await get_scoped(
            session, Team, principal.organization_id, parsed, for_update=for_update
        )
    if team is None:
        raise NotFound(f"Group {ident} does not exist.")
    return team


async def _render_groups(
    session: AsyncSession, org: uuid.UUID, rows: list[Team], base: str, query: Query
) -> list[dict[str, Any]]:
    # Entra asks for groups with excludedAttributes=members: do not load what is not shown.
    skip = any(name.lower() == "members" for name in query.excluded)
    members = {} if skip else await repository.members_of(session, org, [t.id for t in rows])
    return [group_to_scim(t, members.get(t.id, []), base) for t in rows]


def _operations(body: Any) -> list[Any]:
    operations = body.get("Operations") if isinstance(body, dict) else None
    if operations is None and isinstance(body, dict):
        operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise BadRequest("A PatchOp has a list of `Operations`.", scim_type="invalidSyntax")
    return operations


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
