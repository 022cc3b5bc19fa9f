"""GraphQL for cycles: thin resolvers over ``service.cycles.service``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import strawberry

from service.common.pagination import DEFAULT_LIMIT
from service.cycles import service
from service.cycles.schemas import CycleStatus
from service.errors import NotFound
from service.graphql.context import Info
from service.graphql.types import After, Connection, First, Id, connection, page_request
from service.models import Cycle

strawberry.enum(CycleStatus, description="Where a cycle is in its life.")


@strawberry.type(name="Cycle", description="A named period (`2026-Q1`) objectives belong to.")
class CycleNode:
    id: uuid.UUID = strawberry.field(description="The cycle's id.")
    name: str = strawberry.field(description="Unique name in the organization.")
    start_date: date = strawberry.field(description="First day, inclusive.")
    end_date: date = strawberry.field(description="Last day, inclusive.")
    status: CycleStatus = strawberry.field(description="Planning, active or closed.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, row: Cycle) -> CycleNode:
        return cls(
            id=row.id,
            name=row.name,
            start_date=row.start_date,
            end_date=row.end_date,
            status=CycleStatus(row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type
class CycleQuery:
    @strawberry.field(description="Cycles, oldest first.")
    async def cycles(
        self,
        info: Info,
        first: First = DEFAULT_LIMIT,
        after: After = None,
        status: Annotated[
            CycleStatus | None, strawberry.argument(description="Only cycles in this status.")
        ] = None,
    ) -> Connection[CycleNode]:
        ctx = info.context
        page = page_request(first, after)
        async with ctx.db_lock:
            rows, next_cursor = await service.list_cycles(ctx.session, ctx.principal, page, status)
        return connection([CycleNode.of(r) for r in rows], rows, next_cursor)

    @strawberry.field(description="One cycle; null when it does not exist.")
    async def cycle(self, info: Info, id: Id) -> CycleNode | None:
        ctx = info.context
        try:
            async with ctx.db_lock:
                row = await service.get_cycle(ctx.session, ctx.principal, id)
        except NotFound:
            return None
        return CycleNode.of(row)
