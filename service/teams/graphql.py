"""GraphQL for teams: thin resolvers over ``service.teams.service``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from service.common.pagination import DEFAULT_LIMIT
from service.errors import NotFound
from service.graphql.context import Info
from service.graphql.types import After, Connection, First, Id, connection, page_request
from service.models import Team
from service.people.graphql import PersonNode
from service.teams import service

if TYPE_CHECKING:
    from service.goals.graphql import ObjectiveNode


@strawberry.type(name="Team", description="A group of people; teams nest through `parent`.")
class TeamNode:
    id: uuid.UUID = strawberry.field(description="The team's id.")
    name: str = strawberry.field(description="The team's name.")
    description: str | None = strawberry.field(description="What the team does.")
    external_id: str | None = strawberry.field(description="The id in your HRIS.")
    parent_id: uuid.UUID | None = strawberry.field(description="Id of the enclosing team.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it (or its membership) changed.")

    @classmethod
    def of(cls, row: Team) -> TeamNode:
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            external_id=row.external_id,
            parent_id=row.parent_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    def maybe(cls, row: Team | None) -> TeamNode | None:
        return None if row is None else cls.of(row)

    @strawberry.field(description="The team this one is part of, if any.")
    async def parent(self, info: Info) -> TeamNode | None:
        if self.parent_id is None:
            return None
        return TeamNode.maybe(await info.context.loaders.team.load(self.parent_id))

    @strawberry.field(description="The team's members, by user name.")
    async def members(self, info: Info) -> list[PersonNode]:
        return [PersonNode.of(p) for p in await info.context.loaders.members_by_team.load(self.id)]

    @strawberry.field(description="Its sub-teams, by name: walk them for the whole hierarchy.")
    async def children(self, info: Info) -> list[TeamNode]:
        rows = await info.context.loaders.teams_by_parent.load(self.id)
        return [TeamNode.of(row) for row in rows]

    @strawberry.field(description="The objectives the team owns, oldest first.")
    async def objectives(
        self, info: Info
    ) -> list[Annotated[ObjectiveNode, strawberry.lazy("service.goals.graphql")]]:
        from service.goals.graphql import ObjectiveNode  # the goals types refer to teams

        rows = await info.context.loaders.objectives_by_team.load(self.id)
        return [ObjectiveNode.of(row) for row in rows]


@strawberry.type
class TeamQuery:
    @strawberry.field(description="Teams, oldest first.")
    async def teams(
        self,
        info: Info,
        first: First = DEFAULT_LIMIT,
        after: After = None,
        parent_id: Annotated[
            uuid.UUID | None, strawberry.argument(description="Only sub-teams of this team.")
        ] = None,
    ) -> Connection[TeamNode]:
        ctx = info.context
        page = page_request(first, after)
        async with ctx.db_lock:
            views, next_cursor = await service.list_teams(
                ctx.session, ctx.principal, page, parent_id
            )
        rows = [view.team for view in views]
        ctx.loaders.team.prime_many({row.id: row for row in rows})
        return connection([TeamNode.of(r) for r in rows], rows, next_cursor)

    @strawberry.field(description="One team; null when it does not exist.")
    async def team(self, info: Info, id: Id) -> TeamNode | None:
        ctx = info.context
        try:
            async with ctx.db_lock:
                view = await service.get_team(ctx.session, ctx.principal, id)
        except NotFound:
            return None
        return TeamNode.of(view.team)
