"""Teams: a hierarchy of groups of people."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, split_page
from service.common.repository import get_scoped, list_scoped, serialize_in_organization
from service.errors import Conflict, NotFound, ValidationFailed, refuse_nulls
from service.models import Person, Team
from service.models.base import utcnow
from service.teams import repository
from service.teams.schemas import TeamCreate, TeamUpdate

MAX_TEAM_DEPTH = 50


@dataclass
class TeamView:
    team: Team
    member_ids: list[uuid.UUID]


async def list_teams(
    session: AsyncSession, principal: Principal, page: PageRequest, parent_id: uuid.UUID | None
) -> tuple[list[TeamView], str | None]:
    require(principal, Scope.READ)
    filters = [Team.parent_id == parent_id] if parent_id else []
    rows = await list_scoped(session, Team, principal.organization_id, page, filters)
    rows, next_cursor = split_page(rows, page)
    return await _views(session, principal.organization_id, rows), next_cursor


async def get_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID) -> TeamView:
    require(principal, Scope.READ)
    team = await _team(session, principal, team_id)
    return (await _views(session, principal.organization_id, [team]))[0]


async def create_team(session: AsyncSession, principal: Principal, data: TeamCreate) -> TeamView:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    if data.parent_id is not None and await get_scoped(session, Team, org, data.parent_id) is None:
        raise ValidationFailed.on("parent_id", f"There is no team {data.parent_id}.")
    if data.external_id and await repository.external_id_taken(
        session, org, data.external_id, None
    ):
        raise Conflict("Another team already has this `external_id`.")
    await _check_people(session, org, data.member_ids)
    team = Team(organization_id=org, **data.model_dump(exclude={"member_ids"}))
    session.add(team)
    await session.flush()
    await repository.add_members(session, org, team.id, list(dict.fromkeys(data.member_ids)))
    return (await _views(session, org, [team]))[0]


async def update_team(
    session: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID,
    data: TeamUpdate,
    if_match: str | None,
) -> TeamView:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    team = await _team(session, principal, team_id, for_update=True)
    check_if_match(if_match, team)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("name", "member_ids"))  # no members is `[]`, not null
    parent_id = changes.get("parent_id")
    if parent_id is not None:
        if await get_scoped(session, Team, org, parent_id) is None:
            raise ValidationFailed.on("parent_id", f"There is no team {parent_id}.")
        await serialize_in_organization(session, repository.TEAM_PARENTS, org)
        if team.id in await repository.ancestors(session, org, parent_id, MAX_TEAM_DEPTH):
            raise Conflict("That parent is this team or one of its sub-teams.")
    external_id = changes.get("external_id")
    if external_id and await repository.external_id_taken(session, org, external_id, team.id):
        raise Conflict("Another team already has this `external_id`.")
    member_ids = changes.pop("member_ids", None)
    for name, value in changes.items():
        setattr(team, name, value)
    if member_ids is not None:
        await _check_people(session, org, member_ids)
        await repository.replace_members(session, org, team.id, list(dict.fromkeys(member_ids)))
        team.updated_at = utcnow()  # membership is part of the team: move its version
    await session.flush()
    return (await _views(session, org, [team]))[0]


async def delete_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID) -> None:
    require(principal, Scope.WRITE)
    team = await _team(session, principal, team_id, for_update=True)
    if await repository.has_children(session, principal.organization_id, team.id):
        raise Conflict("The team has sub-teams; move or delete them first.")
    await session.delete(team)
    await session.flush()


async def add_member(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, person_id: uuid.UUID
) -> TeamView:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    team = await _team(session, principal, team_id, for_update=True)
    if await get_scoped(session, Person, org, person_id) is None:
        raise NotFound.of("Person", person_id)
    await repository.add_members(session, org, team.id, [person_id])
    await _touch(session, team)
    return (await _views(session, org, [team]))[0]


async def remove_member(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    require(principal, Scope.WRITE)
    team = await _team(session, principal, team_id, for_update=True)
    if not await repository.remove_member(session, team.id, person_id):
        raise NotFound(f"Person {person_id} is not a member of team {team_id}.")
    await _touch(session, team)


async def _touch(session: AsyncSession, team: Team) -> None:
    """Membership is part of a team's representation, so it moves the ETag too."""
    team.updated_at = utcnow()
    await session.flush()


async def _team(
    session: AsyncSession, principal: Principal, ident: uuid.UUID, *, for_update: bool = False
) -> Team:
    row = await get_scoped(session, Team, principal.organization_id, ident, for_update=for_update)
    if row is None:
        raise NotFound.of("Team", ident)
    return row


async def _check_people(session: AsyncSession, org: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
    missing = set(ids) - await repository.existing_people(session, org, ids)
    if missing:
        listed = ", ".join(sorted(map(str, missing))[:5])
        raise ValidationFailed.on("member_ids", f"There are no people {listed}.")


async def _views(session: AsyncSession, org: uuid.UUID, teams: Sequence[Team]) -> list[TeamView]:
    members = await repository.member_ids_of(session, org, [t.id for t in teams])
    return [TeamView(t, members[t.id]) for t in teams]
