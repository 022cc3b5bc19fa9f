# mypy: disallow-untyped-decorators=False
"""GraphQL mutations for objectives, key results and check-ins.

Each calls the same service function as REST inside ``run_mutation``: a SAVEPOINT under the
request lock, with service errors returned as typed members of the result union.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from service.alignment.graph import Rollup
from service.auth.keys import Principal
from service.goals import service
from service.goals.graphql import CheckInNode, KeyResultNode, ObjectiveNode
from service.goals.progress import KeyResultType
from service.goals.schemas import (
    CheckInCreate,
    CheckInSource,
    KeyResultCreate,
    KeyResultUpdate,
    ObjectiveCreate,
    ObjectiveStatus,
    ObjectiveUpdate,
    Outcome,
    Unit,
)
from service.graphql.context import Info
from service.graphql.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    ValidationError,
    run_mutation,
)
from service.graphql.types import arg, given

UNSET: Any = strawberry.UNSET


@strawberry.input(description="A new objective.")
class CreateObjectiveInput:
    title: str = strawberry.field(description="What the objective is (1 to 500 characters).")
    description: str | None = strawberry.field(default=None, description="Longer explanation.")
    cycle_id: uuid.UUID = strawberry.field(description="The cycle it belongs to.")
    owner_id: uuid.UUID | None = strawberry.field(default=None, description="Owning person.")
    team_id: uuid.UUID | None = strawberry.field(default=None, description="Owning team.")
    status: ObjectiveStatus = strawberry.field(
        default=ObjectiveStatus.DRAFT, description="Defaults to DRAFT."
    )
    rollup: Rollup = strawberry.field(
        default=Rollup.KEY_RESULTS, description="Where progress comes from."
    )
    parent_id: uuid.UUID | None = strawberry.field(
        default=None, description="Align to this objective at once (weight 1, contributes)."
    )


@strawberry.input(description="Changes to an objective; omitted fields stay as they are.")
class UpdateObjectiveInput:
    title: str | None = strawberry.field(default=UNSET, description="New title.")
    description: str | None = strawberry.field(default=UNSET, description="New description.")
    cycle_id: uuid.UUID | None = strawberry.field(default=UNSET, description="Move to a cycle.")
    owner_id: uuid.UUID | None = strawberry.field(default=UNSET, description="New owner.")
    team_id: uuid.UUID | None = strawberry.field(default=UNSET, description="New team.")
    status: ObjectiveStatus | None = strawberry.field(default=UNSET, description="New status.")
    rollup: Rollup | None = strawberry.field(default=UNSET, description="New roll-up mode.")
    outcome: Outcome | None = strawberry.field(default=UNSET, description="Set when closing.")
    final_score: float | None = strawberry.field(default=UNSET, description="0..1, on closing.")


@strawberry.input(description="A new key result.")
class CreateKeyResultInput:
    title: str = strawberry.field(description="What is measured.")
    description: str | None = strawberry.field(default=None, description="Longer explanation.")
    type: KeyResultType = strawberry.field(description="How progress is measured.")
    start: float | None = strawberry.field(
        default=None, description="Baseline (increase/decrease)."
    )
    target: float | None = strawberry.field(default=None, description="Goal value or threshold.")
    lower: float | None = strawberry.field(default=None, description="Lower bound of a range.")
    upper: float | None = strawberry.field(default=None, description="Upper bound of a range.")
    inclusive: bool = strawberry.field(default=True, description="Whether bounds count as met.")
    unit: Unit = strawberry.field(default=Unit.NUMBER, description="What the numbers count.")
    currency: str | None = strawberry.field(default=None, description="ISO 4217, for CURRENCY.")
    weight: float = strawberry.field(default=1.0, description="Weight, 0.001 to 1000.")
    owner_id: uuid.UUID | None = strawberry.field(default=None, description="Owning person.")
    kpi_id: uuid.UUID | None = strawberry.field(
        default=None, description="Drive this key result by a KPI: each reading is a check-in."
    )


@strawberry.input(description="Changes to a key result; the definition is checked as a whole.")
class UpdateKeyResultInput:
    title: str | None = strawberry.field(default=UNSET, description="New title.")
    description: str | None = strawberry.field(default=UNSET, description="New description.")
    type: KeyResultType | None = strawberry.field(default=UNSET, description="New type.")
    start: float | None = strawberry.field(default=UNSET, description="New baseline.")
    target: float | None = strawberry.field(default=UNSET, description="New target.")
    lower: float | None = strawberry.field(default=UNSET, description="New lower bound.")
    upper: float | None = strawberry.field(default=UNSET, description="New upper bound.")
    inclusive: bool | None = strawberry.field(default=UNSET, description="New inclusiveness.")
    unit: Unit | None = strawberry.field(default=UNSET, description="New unit.")
    currency: str | None = strawberry.field(default=UNSET, description="New currency.")
    weight: float | None = strawberry.field(default=UNSET, description="New weight.")
    owner_id: uuid.UUID | None = strawberry.field(default=UNSET, description="New owner.")
    kpi_id: uuid.UUID | None = strawberry.field(
        default=UNSET, description="The KPI to follow; null stops following one."
    )


@strawberry.input(description="An observed value of a key result.")
class RecordCheckInInput:
    value: float = strawberry.field(description="The value (1 or 0 for a milestone).")
    confidence: float | None = strawberry.field(default=None, description="0..1.")
    note: str | None = strawberry.field(default=None, description="Free-text context.")
    observed_at: datetime | None = strawberry.field(
        default=None, description="When it was true, with an offset; defaults to now."
    )
    source: CheckInSource = strawberry.field(default=CheckInSource.API, description="Origin.")


@strawberry.type(description="The objective created.")
class CreateObjectivePayload:
    objective: ObjectiveNode = strawberry.field(description="The new objective.")


@strawberry.type(description="The objective as changed.")
class UpdateObjectivePayload:
    objective: ObjectiveNode = strawberry.field(description="The changed objective.")


@strawberry.type(description="The key result created.")
class CreateKeyResultPayload:
    key_result: KeyResultNode = strawberry.field(description="The new key result.")


@strawberry.type(description="The key result as changed.")
class UpdateKeyResultPayload:
    key_result: KeyResultNode = strawberry.field(description="The changed key result.")


@strawberry.type(description="The check-in recorded.")
class RecordCheckInPayload:
    check_in: CheckInNode = strawberry.field(description="The new check-in.")

    @strawberry.field(description="The key result, moved by the check-in.")
    async def key_result(self, info: Info) -> KeyResultNode:
        row = await info.context.loaders.key_result.load(self.check_in.key_result_id)
        assert row is not None
        return KeyResultNode.of(row)


CreateObjectiveResult = Annotated[
    CreateObjectivePayload | NotFoundError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("CreateObjectiveResult", description="The objective, or why not."),
]
UpdateObjectiveResult = Annotated[
    UpdateObjectivePayload
    | NotFoundError
    | ValidationError
    | ConflictError
    | ForbiddenError
    | PreconditionFailedError,
    strawberry.union("UpdateObjectiveResult", description="The objective, or why not."),
]
CreateKeyResultResult = Annotated[
    CreateKeyResultPayload | NotFoundError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("CreateKeyResultResult", description="The key result, or why not."),
]
UpdateKeyResultResult = Annotated[
    UpdateKeyResultPayload
    | NotFoundError
    | ValidationError
    | ConflictError
    | ForbiddenError
    | PreconditionFailedError,
    strawberry.union("UpdateKeyResultResult", description="The key result, or why not."),
]
RecordCheckInResult = Annotated[
    RecordCheckInPayload | NotFoundError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("RecordCheckInResult", description="The check-in, or why not."),
]

IfMatch = Annotated[str | None, arg("The `etag` you last read; a stale one changes nothing.")]


@strawberry.type
class GoalMutation:
    @strawberry.mutation(description="Create an objective in a cycle.")
    async def create_objective(
        self, info: Info, input: CreateObjectiveInput
    ) -> CreateObjectiveResult:
        async def call(session: AsyncSession, principal: Principal) -> CreateObjectivePayload:
            data = ObjectiveCreate(**given(input))
            view = await service.create_objective(session, principal, data)
            return CreateObjectivePayload(objective=ObjectiveNode.of(view.objective))

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Change an objective.")
    async def update_objective(
        self,
        info: Info,
        id: Annotated[uuid.UUID, arg("The objective to change.")],
        input: UpdateObjectiveInput,
        if_match: IfMatch = None,
    ) -> UpdateObjectiveResult:
        async def call(session: AsyncSession, principal: Principal) -> UpdateObjectivePayload:
            data = ObjectiveUpdate(**given(input))
            view = await service.update_objective(session, principal, id, data, if_match)
            return UpdateObjectivePayload(objective=ObjectiveNode.of(view.objective))

        return await run_mutation(info, call)

    @strawberry.mutation(description="Add a key result to an objective.")
    async def create_key_result(
        self,
        info: Info,
        objective_id: Annotated[uuid.UUID, arg("The objective it moves.")],
        input: CreateKeyResultInput,
    ) -> CreateKeyResultResult:
        async def call(session: AsyncSession, principal: Principal) -> CreateKeyResultPayload:
            data = KeyResultCreate(**given(input))
            row = await service.create_key_result(session, principal, objective_id, data)
            return CreateKeyResultPayload(key_result=KeyResultNode.of(row))

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Change a key result.")
    async def update_key_result(
        self,
        info: Info,
        id: Annotated[uuid.UUID, arg("The key result to change.")],
        input: UpdateKeyResultInput,
        if_match: IfMatch = None,
    ) -> UpdateKeyResultResult:
        async def call(session: AsyncSession, principal: Principal) -> UpdateKeyResultPayload:
            data = KeyResultUpdate(**given(input))
            row = await service.update_key_result(session, principal, id, data, if_match)
            return UpdateKeyResultPayload(key_result=KeyResultNode.of(row))

        return await run_mutation(info, call)

    @strawberry.mutation(description="Record a value; the key result follows its latest one.")
    async def record_check_in(
        self,
        info: Info,
        key_result_id: Annotated[uuid.UUID, arg("The key result observed.")],
        input: RecordCheckInInput,
    ) -> RecordCheckInResult:
        async def call(session: AsyncSession, principal: Principal) -> RecordCheckInPayload:
            data = CheckInCreate(**given(input))
            row = await service.record_check_in(session, principal, key_result_id, data)
            return RecordCheckInPayload(check_in=CheckInNode.of(row))

        return await run_mutation(info, call)  # type: ignore[return-value]
