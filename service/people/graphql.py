"""GraphQL for people: thin resolvers over ``service.people.service``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from service.common.pagination import DEFAULT_LIMIT
from service.errors import NotFound
from service.graphql.context import Info
from service.graphql.types import After, Connection, First, Id, connection, page_request
from service.models import Person
from service.people import service

if TYPE_CHECKING:
    from service.goals.graphql import ObjectiveNode
    from service.kpis.graphql import KpiNode


@strawberry.type(name="Person", description="An owner of goals; deactivated, never deleted.")
class PersonNode:
    id: uuid.UUID = strawberry.field(description="The person's id.")
    user_name: str = strawberry.field(description="Unique in the organization, any case.")
    display_name: str = strawberry.field(description="The name to show.")
    email: str | None = strawberry.field(description="Work e-mail address.")
    title: str | None = strawberry.field(description="Job title.")
    external_id: str | None = strawberry.field(description="The id in your HRIS.")
    manager_id: uuid.UUID | None = strawberry.field(description="Id of their manager.")
    active: bool = strawberry.field(description="False once deactivated.")
    created_at: datetime = strawberry.field(description="When they were added.")
    updated_at: datetime = strawberry.field(description="When they last changed.")

    @classmethod
    def of(cls, row: Person) -> PersonNode:
        return cls(
            id=row.id,
            user_name=row.user_name,
            display_name=row.display_name,
            email=row.email,
            title=row.title,
            external_id=row.external_id,
            manager_id=row.manager_id,
            active=row.active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    def maybe(cls, row: Person | None) -> PersonNode | None:
        return None if row is None else cls.of(row)

    @strawberry.field(description="Their manager, if any.")
    async def manager(self, info: Info) -> PersonNode | None:
        if self.manager_id is None:
            return None
        return PersonNode.maybe(await info.context.loaders.person.load(self.manager_id))

    @strawberry.field(description="The people who report to them directly, by user name.")
    async def reports(self, info: Info) -> list[PersonNode]:
        rows = await info.context.loaders.reports_by_manager.load(self.id)
        return [PersonNode.of(row) for row in rows]

    @strawberry.field(description="The objectives they own, oldest first.")
    async def owned_objectives(
        self, info: Info
    ) -> list[Annotated[ObjectiveNode, strawberry.lazy("service.goals.graphql")]]:
        from service.goals.graphql import ObjectiveNode  # the goals types refer to people

        rows = await info.context.loaders.objectives_by_owner.load(self.id)
        return [ObjectiveNode.of(row) for row in rows]

    @strawberry.field(description="The KPIs they own, oldest first.")
    async def owned_kpis(
        self, info: Info
    ) -> list[Annotated[KpiNode, strawberry.lazy("service.kpis.graphql")]]:
        from service.kpis.graphql import KpiNode  # the KPI types refer to people

        rows = await info.context.loaders.kpis_by_owner.load(self.id)
        return [KpiNode.of(row) for row in rows]


@strawberry.type
class PersonQuery:
    @strawberry.field(description="People, oldest first.")
    async def people(
        self,
        info: Info,
        first: First = DEFAULT_LIMIT,
        after: After = None,
        active: Annotated[
            bool | None, strawberry.argument(description="Only active (or inactive) people.")
        ] = None,
    ) -> Connection[PersonNode]:
        ctx = info.context
        page = page_request(first, after)
        async with ctx.db_lock:
            rows, next_cursor = await service.list_people(ctx.session, ctx.principal, page, active)
        ctx.loaders.person.prime_many({row.id: row for row in rows})
        return connection([PersonNode.of(r) for r in rows], rows, next_cursor)

    @strawberry.field(description="One person; null when they do not exist.")
    async def person(self, info: Info, id: Id) -> PersonNode | None:
        ctx = info.context
        try:
            async with ctx.db_lock:
                row = await service.get_person(ctx.session, ctx.principal, id)
        except NotFound:
            return None
        return PersonNode.of(row)
