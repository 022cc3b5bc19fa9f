# mypy: disallow-untyped-decorators=False
"""GraphQL mutations for alignment links and linked KPIs; same service calls as REST."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from service.alignment import service
from service.alignment.graph import LinkKind
from service.alignment.schemas import KpiLinkCreate, LinkCreate
from service.auth.keys import Principal
from service.graphql.context import Info
from service.graphql.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    run_mutation,
)
from service.graphql.types import arg


@strawberry.input(description="Align an objective to a parent.")
class AlignObjectiveInput:
    parent_id: uuid.UUID = strawberry.field(description="The objective aligned to.")
    weight: float = strawberry.field(
        default=1.0, description="Weight in the parent's roll-up, 0.001 to 1000."
    )
    kind: LinkKind = strawberry.field(
        default=LinkKind.CONTRIBUTES, description="Contributes (counts) or supports (shown)."
    )


@strawberry.type(description="The link created.")
class AlignObjectivePayload:
    child_id: uuid.UUID = strawberry.field(description="The objective that aligns.")
    parent_id: uuid.UUID = strawberry.field(description="The objective aligned to.")
    weight: float = strawberry.field(description="Weight in the parent's roll-up.")
    kind: LinkKind = strawberry.field(description="Contributes or supports.")


@strawberry.type(description="The KPI linked to an objective.")
class LinkObjectiveKpiPayload:
    objective_id: uuid.UUID = strawberry.field(description="The objective.")
    kpi_id: uuid.UUID = strawberry.field(description="The KPI it stands on.")


@strawberry.type(description="What was removed.")
class UnlinkPayload:
    removed: bool = strawberry.field(description="Always true: a missing link is NotFound.")


Errors = NotFoundError | ValidationError | ConflictError | ForbiddenError
AlignObjectiveResult = Annotated[
    AlignObjectivePayload | Errors,
    strawberry.union("AlignObjectiveResult", description="The link, or why not."),
]
LinkObjectiveKpiResult = Annotated[
    LinkObjectiveKpiPayload | Errors,
    strawberry.union("LinkObjectiveKpiResult", description="The link, or why not."),
]
UnlinkResult = Annotated[
    UnlinkPayload | Errors,
    strawberry.union("UnlinkResult", description="Removed, or why not."),
]
ObjectiveArg = Annotated[uuid.UUID, arg("The objective.")]


@strawberry.type
class AlignmentMutation:
    @strawberry.mutation(
        description="Align an objective to a parent; a cycle or too deep a path is refused."
    )
    async def align_objective(
        self, info: Info, id: ObjectiveArg, input: AlignObjectiveInput
    ) -> AlignObjectiveResult:
        async def call(session: AsyncSession, principal: Principal) -> AlignObjectivePayload:
            data = LinkCreate(parent_id=input.parent_id, weight=input.weight, kind=input.kind)
            row = await service.link_parent(session, principal, id, data)
            return AlignObjectivePayload(
                child_id=row.child_id, parent_id=row.parent_id, weight=row.weight, kind=input.kind
            )

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Remove an objective's link to a parent.")
    async def unalign_objective(
        self,
        info: Info,
        id: ObjectiveArg,
        parent_id: Annotated[uuid.UUID, arg("The parent to unlink from.")],
    ) -> UnlinkResult:
        async def call(session: AsyncSession, principal: Principal) -> UnlinkPayload:
            await service.unlink_parent(session, principal, id, parent_id)
            return UnlinkPayload(removed=True)

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Link a KPI (id or key) to an objective's health.")
    async def link_objective_kpi(
        self, info: Info, id: ObjectiveArg, kpi: Annotated[str, arg("The KPI's id or key.")]
    ) -> LinkObjectiveKpiResult:
        async def call(session: AsyncSession, principal: Principal) -> LinkObjectiveKpiPayload:
            row = await service.link_kpi(session, principal, id, KpiLinkCreate(kpi=kpi))
            return LinkObjectiveKpiPayload(objective_id=row.objective_id, kpi_id=row.kpi_id)

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Unlink a KPI (id or key) from an objective.")
    async def unlink_objective_kpi(
        self, info: Info, id: ObjectiveArg, kpi: Annotated[str, arg("The KPI's id or key.")]
    ) -> UnlinkResult:
        async def call(session: AsyncSession, principal: Principal) -> UnlinkPayload:
            await service.unlink_kpi(session, principal, id, kpi)
            return UnlinkPayload(removed=True)

        return await run_mutation(info, call)  # type: ignore[return-value]
