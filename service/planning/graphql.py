# mypy: disallow-untyped-decorators=False
"""GraphQL for working with cycles: ``cycleLint``, ``rolloverCycle``, ``promoteKeyResultToKpi``.

The same service calls as ``GET /v1/cycles/{id}/lint``, ``POST /v1/cycles/{id}/rollover``
and ``POST /v1/key-results/{id}/promote-to-kpi``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

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
from service.kpis.graphql import KpiNode
from service.planning import service
from service.planning.lint import Check
from service.planning.schemas import PromoteCreate, RolloverCreate

strawberry.enum(Check, name="LintCheck", description="Which common OKR mistake.")


@strawberry.type(description="One common mistake found in a cycle.")
class LintFinding:
    check: Check = strawberry.field(description="Which check found it.")
    message: str = strawberry.field(description="What is wrong, in words.")
    ids: list[uuid.UUID] = strawberry.field(description="The offending rows.")
    subject_id: uuid.UUID | None = strawberry.field(description="The team, person or row.")


@strawberry.type
class PlanningQuery:
    @strawberry.field(description="The seeds' common OKR mistakes in a cycle, like REST's lint.")
    async def cycle_lint(
        self, info: Info, cycle_id: Annotated[uuid.UUID, arg("The cycle to check.")]
    ) -> list[LintFinding]:
        ctx = info.context
        async with ctx.db_lock:
            findings = await service.lint_cycle(ctx.session, ctx.principal, cycle_id)
        return [LintFinding(check=f.check, message=f.message, ids=f.ids, subject_id=f.subject_id)
                for f in findings]  # fmt: skip


@strawberry.input(description="What to roll over, and where.")
class RolloverCycleInput:
    target_cycle_id: uuid.UUID = strawberry.field(description="The cycle to copy into.")
    objective_ids: list[uuid.UUID] | None = strawberry.field(
        default=None, description="Objectives to copy; by default every unfinished one."
    )
    dry_run: bool = strawberry.field(default=False, description="Report only; change nothing.")


@strawberry.type(description="One objective rolled over.")
class RolledObjective:
    source_id: uuid.UUID = strawberry.field(description="The objective copied.")
    id: uuid.UUID | None = strawberry.field(description="The copy; null on a dry run.")
    title: str = strawberry.field(description="Its title.")
    key_results: int = strawberry.field(description="Key results copied, without check-ins.")


@strawberry.type(description="What the rollover copied (or would copy).")
class RolloverCyclePayload:
    dry_run: bool = strawberry.field(description="Whether nothing was changed.")
    target_cycle_id: uuid.UUID = strawberry.field(description="The cycle copied into.")
    objectives: list[RolledObjective] = strawberry.field(description="The objectives.")
    links: int = strawberry.field(
        description="Alignment links copied: to the copy of a parent if copied, else to the "
        "parent as `supports`."
    )
    kpi_links: int = strawberry.field(description="Linked KPIs carried over.")


@strawberry.type(description="The KPI the key result became.")
class PromoteKeyResultPayload:
    kpi: KpiNode = strawberry.field(description="The new KPI, with the history as readings.")


Errors = NotFoundError | ValidationError | ConflictError | ForbiddenError
RolloverCycleResult = Annotated[
    RolloverCyclePayload | Errors,
    strawberry.union("RolloverCycleResult", description="The rollover, or why not."),
]
PromoteKeyResultResult = Annotated[
    PromoteKeyResultPayload | Errors,
    strawberry.union("PromoteKeyResultResult", description="The KPI, or why not."),
]


@strawberry.type
class PlanningMutation:
    @strawberry.mutation(description="Copy objectives and key results into another cycle.")
    async def rollover_cycle(
        self,
        info: Info,
        cycle_id: Annotated[uuid.UUID, arg("The cycle to copy from.")],
        input: RolloverCycleInput,
    ) -> RolloverCycleResult:
        async def call(session: AsyncSession, principal: Principal) -> RolloverCyclePayload:
            data = RolloverCreate(**vars(input))
            plan = await service.rollover(session, principal, cycle_id, data)
            objectives = [
                RolledObjective(
                    source_id=r.source.id,
                    id=None if data.dry_run else r.copy.id,
                    title=r.copy.title,
                    key_results=len(r.key_results),
                )
                for r in plan.objectives
            ]
            return RolloverCyclePayload(
                dry_run=data.dry_run,
                target_cycle_id=plan.target_cycle_id,
                objectives=objectives,
                links=len(plan.links),
                kpi_links=len(plan.kpi_links),
            )

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Turn a key result into a KPI carrying its history.")
    async def promote_key_result_to_kpi(
        self,
        info: Info,
        key_result_id: Annotated[uuid.UUID, arg("The key result.")],
        key: Annotated[str, arg("The new KPI's key.")],
        name: Annotated[str | None, arg("Defaults to the key result's title.")] = None,
    ) -> PromoteKeyResultResult:
        async def call(session: AsyncSession, principal: Principal) -> PromoteKeyResultPayload:
            data = PromoteCreate(key=key, name=name)
            row = await service.promote_to_kpi(session, principal, key_result_id, data)
            return PromoteKeyResultPayload(kpi=KpiNode.of(row))

        return await run_mutation(info, call)  # type: ignore[return-value]
