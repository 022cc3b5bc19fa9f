"""REST for teams and their members."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response, status

from service.api.deps import PageDep, ReadPrincipal, SessionDep, WritePrincipal
from service.api.etag import IfMatch, etag_of, set_etag
from service.api.uow import domain_router
from service.common.schemas import Page
from service.teams import service
from service.teams.schemas import TeamCreate, TeamRead, TeamUpdate
from service.teams.service import TeamView

router = domain_router(tags=["teams"])


def team_read(view: TeamView) -> TeamRead:
    t = view.team
    return TeamRead(
        id=t.id,
        name=t.name,
        description=t.description,
        external_id=t.external_id,
        parent_id=t.parent_id,
        member_ids=view.member_ids,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


@router.get("/teams", operation_id="listTeams")
async def list_teams(
    session: SessionDep,
    principal: ReadPrincipal,
    page: PageDep,
    parent_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[TeamRead]:
    """List teams, oldest first; `parent_id` lists one team's sub-teams."""
    views, next_cursor = await service.list_teams(session, principal, page, parent_id)
    return Page(items=[team_read(v) for v in views], next_cursor=next_cursor)


@router.post("/teams", status_code=status.HTTP_201_CREATED, operation_id="createTeam")
async def create_team(
    session: SessionDep, principal: WritePrincipal, body: TeamCreate, response: Response
) -> TeamRead:
    """Create a team, optionally under a parent team and with members."""
    view = await service.create_team(session, principal, body)
    response.headers["Location"] = f"/v1/teams/{view.team.id}"
    read = team_read(view)
    response.headers["ETag"] = etag_of(view.team, read)
    return read


@router.get("/teams/{team_id}", operation_id="getTeam")
async def get_team(
    session: SessionDep,
    principal: ReadPrincipal,
    team_id: uuid.UUID,
    request: Request,
    response: Response,
) -> TeamRead:
    """One team with its member ids."""
    view = await service.get_team(session, principal, team_id)
    read = team_read(view)
    set_etag(response, request, view.team, read)
    return read


@router.patch("/teams/{team_id}", operation_id="updateTeam")
async def update_team(
    session: SessionDep,
    principal: WritePrincipal,
    team_id: uuid.UUID,
    body: TeamUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> TeamRead:
    """Change a team; `member_ids` replaces the membership; a parent loop is refused (409)."""
    view = await service.update_team(session, principal, team_id, body, if_match)
    read = team_read(view)
    set_etag(response, request, view.team, read)
    return read


@router.delete(
    "/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteTeam"
)
async def delete_team(session: SessionDep, principal: WritePrincipal, team_id: uuid.UUID) -> None:
    """Delete a team with no sub-teams; its objectives keep existing without a team."""
    await service.delete_team(session, principal, team_id)


@router.put("/teams/{team_id}/members/{person_id}", operation_id="addTeamMember")
async def add_team_member(
    session: SessionDep, principal: WritePrincipal, team_id: uuid.UUID, person_id: uuid.UUID
) -> TeamRead:
    """Add a person to a team (no-op when already a member)."""
    return team_read(await service.add_member(session, principal, team_id, person_id))


@router.delete(
    "/teams/{team_id}/members/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="removeTeamMember",
)
async def remove_team_member(
    session: SessionDep, principal: WritePrincipal, team_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    """Remove a person from a team."""
    await service.remove_member(session, principal, team_id, person_id)
