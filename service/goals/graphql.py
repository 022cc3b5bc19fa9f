"""GraphQL types and queries for objectives, key results and check-ins.

Resolvers are thin: root fields call ``service.goals.service`` (which checks scopes) under
the request lock; nested fields go through the per-request DataLoaders.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from service.alignment.graph import ROLLUPS, HealthStatus, LinkKind, Rollup
from service.alignment.service import NodeState, state_of
from service.api.etag import ETAG_FIELD_DESCRIPTION, etag_of
from service.common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from service.cycles.graphql import CycleNode
from service.errors import NotFound, ValidationFailed
from service.goals import service
from service.goals.explain import key_result_progress_of, objective_progress_of
from service.goals.grades import Grade
from service.goals.pace import PaceStatus
from service.goals.progress import KeyResultType, Progress
from service.goals.schemas import CheckInSource, ObjectiveStatus, Outcome, Unit
from service.goals.views import graded, key_result_read, objective_read
from service.graphql.context import Info
from service.graphql.types import After, Connection, First, Id, connection, page_request
from service.kpis.graphql import KpiNode
from service.models import CheckIn, KeyResult, Objective, ObjectiveLink
from service.people.graphql import PersonNode
from service.teams.graphql import TeamNode

strawberry.enum(ObjectiveStatus, description="Where an objective is in its life.")
strawberry.enum(Outcome, description="How a closed objective ended.")
strawberry.enum(Grade, description="A final score read as a colour.")
strawberry.enum(Unit, description="What a key result's numbers count.")
strawberry.enum(CheckInSource, description="Where a check-in came from.")
strawberry.enum(PaceStatus, description="Progress against the time elapsed in the cycle.")
strawberry.enum(KeyResultType, description="How a key result's progress is measured.")
strawberry.enum(LinkKind, description="Whether a child counts in its parent's roll-up.")
strawberry.enum(Rollup, description="Where an objective's progress comes from.")
strawberry.enum(HealthStatus, name="ObjectiveHealthStatus", description="Pace and linked KPIs.")


@strawberry.type(name="ObjectiveHealth", description="An objective's pace combined with its KPIs.")
class HealthNode:
    status: HealthStatus = strawberry.field(description="The worst of pace and linked KPIs.")
    reasons: list[str] = strawberry.field(description="The pace, then each KPI not ok.")


DEFAULT_CHECK_INS = 20


@strawberry.type(name="Progress", description="A progress number and how it was computed.")
class ProgressNode:
    value: float = strawberry.field(description="Progress clamped to 0..1.")
    raw: float = strawberry.field(description="Unclamped: below 0 backwards, above 1 past target.")
    formula: str = strawberry.field(description="The formula that produced `raw`.")
    inputs: JSON = strawberry.field(description="The numbers the formula was fed.")

    @classmethod
    def of(cls, progress: Progress) -> ProgressNode:
        return cls(
            value=progress.value,
            raw=progress.raw,
            formula=progress.formula,
            inputs=cast(JSON, progress.inputs),
        )


@strawberry.type(name="Pace", description="Progress against the linear expectation.")
class PaceNode:
    status: PaceStatus = strawberry.field(
        description="On track, at risk, off track, or not started."
    )
    expected: float = strawberry.field(description="Share of the cycle elapsed (0..1).")
    ratio: float | None = strawberry.field(description="progress / expected; null if not started.")


@strawberry.type(name="CheckIn", description="One observation of a key result; append-only.")
class CheckInNode:
    id: uuid.UUID = strawberry.field(description="The check-in's id.")
    key_result_id: uuid.UUID = strawberry.field(description="The key result observed.")
    value: float = strawberry.field(description="The observed value.")
    confidence: float | None = strawberry.field(description="Confidence 0..1 of reaching it.")
    note: str | None = strawberry.field(description="Free-text context.")
    source: CheckInSource = strawberry.field(description="Where the value came from.")
    author: str | None = strawberry.field(description="Name of the API key that sent it.")
    observed_at: datetime = strawberry.field(description="When the value was true.")
    created_at: datetime = strawberry.field(description="When it was recorded.")
    value_before: float | None = strawberry.field(description="The key result's value before.")
    progress_before: float = strawberry.field(description="The key result's progress before.")

    @classmethod
    def of(cls, row: CheckIn) -> CheckInNode:
        return cls(
            id=row.id,
            key_result_id=row.key_result_id,
            value=row.value,
            confidence=row.confidence,
            note=row.note,
            source=CheckInSource(row.source),
            author=row.author,
            observed_at=row.observed_at,
            created_at=row.created_at,
            value_before=row.value_before,
            progress_before=row.progress_before,
        )


def _copy(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


@strawberry.type(name="KeyResult", description="A measurable result that moves an objective.")
class KeyResultNode:
    row: strawberry.Private[KeyResult]
    id: uuid.UUID = strawberry.field(description="The key result's id.")
    objective_id: uuid.UUID = strawberry.field(description="The objective it belongs to.")
    title: str = strawberry.field(description="What is measured.")
    description: str | None = strawberry.field(description="Longer explanation.")
    type: KeyResultType = strawberry.field(description="How progress is measured.")
    start: float | None = strawberry.field(description="Baseline for increase/decrease.")
    target: float | None = strawberry.field(description="Goal value (threshold for stay_*).")
    lower: float | None = strawberry.field(description="Lower bound of a range.")
    upper: float | None = strawberry.field(description="Upper bound of a range.")
    inclusive: bool = strawberry.field(description="Whether bounds count as met.")
    unit: Unit = strawberry.field(description="What the numbers count.")
    currency: str | None = strawberry.field(description="ISO 4217 code for currency units.")
    weight: float = strawberry.field(description="Weight in the objective's progress.")
    owner_id: uuid.UUID | None = strawberry.field(description="Id of the owner, if any.")
    kpi_id: uuid.UUID | None = strawberry.field(
        description="The KPI whose readings drive this key result, if any."
    )
    current: float | None = strawberry.field(description="Value of the latest check-in.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    FIELDS = ("id", "objective_id", "title", "description", "start", "target", "lower")
    MORE = ("upper", "inclusive", "currency", "weight", "owner_id", "kpi_id", "current")
    TIMES = ("created_at", "updated_at")

    @classmethod
    def of(cls, row: KeyResult) -> KeyResultNode:
        return cls(
            row=row,
            **_copy(row, cls.FIELDS + cls.MORE + cls.TIMES),
            type=KeyResultType(row.type),
            unit=Unit(row.unit),
        )

    @strawberry.field(description=ETAG_FIELD_DESCRIPTION)
    def etag(self) -> str:
        return etag_of(self.row, key_result_read(self.row))

    @strawberry.field(description="Progress with its formula and inputs.")
    def progress(self) -> ProgressNode:
        return ProgressNode.of(key_result_progress_of(self.row))

    @strawberry.field(description="The objective this key result moves.")
    async def objective(self, info: Info) -> ObjectiveNode:
        row = await info.context.loaders.objective.load(self.objective_id)
        assert row is not None  # a key result cannot outlive its objective
        return ObjectiveNode.of(row)

    @strawberry.field(description="Who owns this key result, if anyone.")
    async def owner(self, info: Info) -> PersonNode | None:
        if self.owner_id is None:
            return None
        return PersonNode.maybe(await info.context.loaders.person.load(self.owner_id))

    @strawberry.field(description="The KPI whose readings drive this key result, if any.")
    async def kpi(self, info: Info) -> KpiNode | None:
        if self.kpi_id is None:
            return None
        row = await info.context.loaders.kpi.load(self.kpi_id)
        return None if row is None else KpiNode.of(row)

    @strawberry.field(description="The latest check-ins, newest observation first.")
    async def check_ins(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description=f"How many, 1 to {MAX_LIMIT}.")
        ] = DEFAULT_CHECK_INS,
    ) -> list[CheckInNode]:
        if not 1 <= first <= MAX_LIMIT:
            raise ValidationFailed.on("first", f"`first` must be between 1 and {MAX_LIMIT}.")
        rows = await info.context.loaders.check_ins_by_key_result.load((self.id, first))
        return [CheckInNode.of(row) for row in rows]


@strawberry.type(name="Objective", description="A qualitative goal for a cycle.")
class ObjectiveNode:
    row: strawberry.Private[Objective]
    id: uuid.UUID = strawberry.field(description="The objective's id.")
    title: str = strawberry.field(description="What the objective is.")
    description: str | None = strawberry.field(description="Longer explanation.")
    cycle_id: uuid.UUID = strawberry.field(description="The cycle it belongs to.")
    owner_id: uuid.UUID | None = strawberry.field(description="Id of the owning person.")
    team_id: uuid.UUID | None = strawberry.field(description="Id of the owning team.")
    status: ObjectiveStatus = strawberry.field(description="Draft, active, closed or archived.")
    outcome: Outcome | None = strawberry.field(description="How it ended, once closed.")
    final_score: float | None = strawberry.field(description="Score 0..1 frozen on closing.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    FIELDS = ("id", "title", "description", "cycle_id", "owner_id", "team_id", "final_score")

    @classmethod
    def of(cls, row: Objective) -> ObjectiveNode:
        return cls(
            row=row,
            **_copy(row, (*cls.FIELDS, "created_at", "updated_at")),
            status=ObjectiveStatus(row.status),
            outcome=Outcome(row.outcome) if row.outcome else None,
        )

    @strawberry.field(
        description="The final score's grade: green from 0.7, yellow from 0.4, red below "
        "(`MERIDIAN_GRADE_GREEN`, `MERIDIAN_GRADE_YELLOW`); null until there is a final score."
    )
    def grade(self) -> Grade | None:
        return graded(self.final_score)

    @strawberry.field(description=ETAG_FIELD_DESCRIPTION)
    async def etag(self, info: Info) -> str:
        # The REST representation, from the same rows REST reads (through the loaders).
        cycle = await info.context.loaders.cycle.load(self.cycle_id)
        assert cycle is not None  # the foreign key restricts deleting a used cycle
        key_results = await info.context.loaders.key_results_by_objective.load(self.id)
        standing = await info.context.loaders.standing.load(self.id)
        view = service.ObjectiveView(self.row, cycle, list(key_results), standing)
        return etag_of(self.row, objective_read(view, service.now()))

    @strawberry.field(description="The key results, in creation order.")
    async def key_results(self, info: Info) -> list[KeyResultNode]:
        rows = await info.context.loaders.key_results_by_objective.load(self.id)
        return [KeyResultNode.of(row) for row in rows]

    @strawberry.field(description="Where the progress comes from.")
    def rollup(self) -> Rollup:
        return ROLLUPS[self.row.rollup]

    @strawberry.field(
        description="Weighted progress of the key results, or rolled up from contributing "
        "children (see `rollup`), explained."
    )
    async def progress(self, info: Info) -> ProgressNode:
        if self.row.rollup != Rollup.KEY_RESULTS:
            standing = await info.context.loaders.standing.load(self.id)
            assert standing is not None
            return ProgressNode.of(standing.rolled.progress)
        rows = await info.context.loaders.key_results_by_objective.load(self.id)
        return ProgressNode.of(objective_progress_of(rows))

    @strawberry.field(description="Progress against the time elapsed in the cycle.")
    async def pace(self, info: Info) -> PaceNode:
        pace = (await self._state(info)).pace
        return PaceNode(status=pace.status, expected=pace.expected, ratio=pace.ratio)

    @strawberry.field(description="Pace combined with the alert states of linked KPIs.")
    async def health(self, info: Info) -> HealthNode:
        health = (await self._state(info)).health
        return HealthNode(status=health.status, reasons=health.reasons)

    async def _state(self, info: Info) -> NodeState:
        cycle = await info.context.loaders.cycle.load(self.cycle_id)
        assert cycle is not None  # the foreign key restricts deleting a used cycle
        standing = await info.context.loaders.standing.load(self.id)
        assert standing is not None
        return state_of(
            standing.rolled, cycle.start_date, cycle.end_date, standing.kpis, service.now()
        )

    @strawberry.field(description="The cycle the objective belongs to.")
    async def cycle(self, info: Info) -> CycleNode:
        cycle = await info.context.loaders.cycle.load(self.cycle_id)
        assert cycle is not None
        return CycleNode.of(cycle)

    @strawberry.field(description="The owning person, if any.")
    async def owner(self, info: Info) -> PersonNode | None:
        if self.owner_id is None:
            return None
        return PersonNode.maybe(await info.context.loaders.person.load(self.owner_id))

    @strawberry.field(description="The owning team, if any.")
    async def team(self, info: Info) -> TeamNode | None:
        if self.team_id is None:
            return None
        return TeamNode.maybe(await info.context.loaders.team.load(self.team_id))

    @strawberry.field(description="The objectives this one aligns to, with weight and kind.")
    async def parents(self, info: Info) -> list[ObjectiveLinkNode]:
        rows = await info.context.loaders.parents_by_objective.load(self.id)
        return await _linked(info, [(row, row.parent_id) for row in rows])

    @strawberry.field(description="The objectives aligned to this one, with weight and kind.")
    async def children(self, info: Info) -> list[ObjectiveLinkNode]:
        rows = await info.context.loaders.children_by_objective.load(self.id)
        return await _linked(info, [(row, row.child_id) for row in rows])


@strawberry.type(name="ObjectiveLink", description="One end of an alignment link.")
class ObjectiveLinkNode:
    objective_id: uuid.UUID = strawberry.field(description="The objective at the other end.")
    weight: float = strawberry.field(description="Weight in the parent's roll-up.")
    kind: LinkKind = strawberry.field(description="Contributes (counts) or supports (shown).")

    @classmethod
    def of(cls, row: ObjectiveLink, other: uuid.UUID) -> ObjectiveLinkNode:
        return cls(objective_id=other, weight=row.weight, kind=LinkKind(row.kind))

    @strawberry.field(description="The objective at the other end of the link.")
    async def objective(self, info: Info) -> ObjectiveNode:
        row = await info.context.loaders.objective.load(self.objective_id)
        if row is None:  # ``_linked`` loaded it a moment ago; only a bug gets here
            raise NotFound.of("Objective", self.objective_id)
        return ObjectiveNode.of(row)


async def _linked(
    info: Info, ends: list[tuple[ObjectiveLink, uuid.UUID]]
) -> list[ObjectiveLinkNode]:
    """The links whose other end still exists. Links and objectives are read by separate
    statements, each seeing what was committed when it ran: an objective deleted between
    them (its links go with it) must drop its link, not fail the request."""
    others = await info.context.loaders.objective.load_many([other for _, other in ends])
    return [
        ObjectiveLinkNode.of(row, other)
        for (row, other), found in zip(ends, others, strict=True)
        if found is not None
    ]


def _prime(info: Info, views: list[service.ObjectiveView]) -> list[ObjectiveNode]:
    """The service already loaded cycles and key results: hand them to the loaders."""
    loaders = info.context.loaders
    for view in views:
        loaders.objective.prime(view.objective.id, view.objective)
        loaders.cycle.prime(view.cycle.id, view.cycle)
        loaders.key_results_by_objective.prime(view.objective.id, view.key_results)
    return [ObjectiveNode.of(view.objective) for view in views]


def _filter(description: str) -> Any:
    return strawberry.argument(description=description)


@strawberry.type
class GoalQuery:
    @strawberry.field(description="Objectives, oldest first, filtered like REST.")
    async def objectives(
        self,
        info: Info,
        first: First = DEFAULT_LIMIT,
        after: After = None,
        cycle_id: Annotated[uuid.UUID | None, _filter("Only this cycle's.")] = None,
        owner_id: Annotated[uuid.UUID | None, _filter("Only this person's.")] = None,
        team_id: Annotated[uuid.UUID | None, _filter("Only this team's.")] = None,
        status: Annotated[ObjectiveStatus | None, _filter("Only in this status.")] = None,
        orphaned: Annotated[
            bool | None, _filter("Only objectives whose owner is (or is not) inactive.")
        ] = None,
    ) -> Connection[ObjectiveNode]:
        ctx = info.context
        page = page_request(first, after)
        filters = service.ObjectiveFilters(cycle_id, owner_id, team_id, status, orphaned)
        async with ctx.db_lock:
            views, next_cursor = await service.list_objectives(
                ctx.session, ctx.principal, filters, page
            )
        nodes = _prime(info, views)
        return connection(nodes, [v.objective for v in views], next_cursor)

    @strawberry.field(description="One objective; null when it does not exist.")
    async def objective(self, info: Info, id: Id) -> ObjectiveNode | None:
        ctx = info.context
        try:
            async with ctx.db_lock:
                view = await service.get_objective(ctx.session, ctx.principal, id)
        except NotFound:
            return None
        return _prime(info, [view])[0]

    @strawberry.field(description="One key result; null when it does not exist.")
    async def key_result(self, info: Info, id: Id) -> KeyResultNode | None:
        ctx = info.context
        try:
            async with ctx.db_lock:
                row = await service.get_key_result(ctx.session, ctx.principal, id)
        except NotFound:
            return None
        return KeyResultNode.of(row)
