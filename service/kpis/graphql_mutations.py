# mypy: disallow-untyped-decorators=False
"""GraphQL mutations for KPIs, readings and alert rules.

Each calls the same service function as REST inside ``run_mutation``: a SAVEPOINT under the
request lock, with service errors returned as typed members of the result union. Scopes are
the services': an ingest-only key may call ``ingestReadings`` and nothing else.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from service.auth.keys import Principal
from service.errors import ValidationFailed
from service.graphql.context import Info
from service.graphql.errors import (
    ConflictError,
    ForbiddenError,
    MutationError,
    NotFoundError,
    PreconditionFailedError,
    ValidationError,
    run_mutation,
)
from service.graphql.types import arg, given, optional_field
from service.kpis import ingest, repository, rules_service, service
from service.kpis.evaluation import OnNoData
from service.kpis.graphql import AlertRuleNode, KpiNode
from service.kpis.rule_schemas import AlertRuleCreate, AlertRuleUpdate
from service.kpis.schemas import (
    Aggregation,
    Direction,
    IngestResult,
    ItemStatus,
    KpiCreate,
    KpiUpdate,
    ReadingResult,
)
from service.kpis.thresholds import Operator

strawberry.enum(ItemStatus, name="ReadingStatus", description="What became of one reading.")


@strawberry.input(description="A new KPI.")
class CreateKpiInput:
    key: str = strawberry.field(
        description="A slug such as `churn-rate`, unique per org; not a UUID (read as an id)."
    )
    name: str = strawberry.field(description="The name to show (1 to 200 characters).")
    description: str | None = optional_field("Longer explanation.")
    unit: str | None = optional_field("What the numbers count; defaults to `number`.")
    owner_id: uuid.UUID | None = optional_field("Owning person.")
    team_id: uuid.UUID | None = optional_field("Owning team.")
    direction: Direction | None = optional_field("Defaults to HIGHER_IS_BETTER.")
    target: float | None = optional_field("With no alert rule, a default rule breaches past it.")


@strawberry.input(description="Changes to a KPI; omitted fields stay as they are.")
class UpdateKpiInput:
    key: str | None = optional_field("New key.")
    name: str | None = optional_field("New name.")
    description: str | None = optional_field("New description.")
    unit: str | None = optional_field("New unit.")
    owner_id: uuid.UUID | None = optional_field("New owner.")
    team_id: uuid.UUID | None = optional_field("New team.")
    direction: Direction | None = optional_field("New direction.")
    target: float | None = optional_field("New target; moves the default rule.")


@strawberry.input(description="One reading for `ingestReadings`.")
class ReadingInput:
    kpi: str = strawberry.field(description="The KPI's key or id.")
    value: float = strawberry.field(description="A finite number.")
    observed_at: datetime | None = optional_field(
        "When it was true, with an offset; defaults to now."
    )
    source: str | None = optional_field("Who sent it; defaults to the API key's name.")

    def raw(self) -> dict[str, Any]:
        """The item as REST's ``POST /v1/readings`` receives it."""
        item = given(self)
        if isinstance(item.get("observed_at"), datetime):
            item["observed_at"] = item["observed_at"].isoformat()
        return item


@strawberry.input(description="A new alert rule; thresholds are numbers or `{lo, hi}` bands.")
class CreateAlertRuleInput:
    name: str | None = optional_field("A label; defaults to `breach`.")
    enabled: bool | None = optional_field("Defaults to true.")
    operator: Operator = strawberry.field(description="The comparison that breaches.")
    warning: JSON | None = optional_field("Warning threshold.")
    critical: JSON | None = optional_field("Critical threshold.")
    warning_recovery: JSON | None = optional_field("Where warning recovers.")
    critical_recovery: JSON | None = optional_field("Where critical recovers.")
    aggregation: Aggregation | None = optional_field(
        "How the window is combined; defaults to LAST."
    )
    window: str | None = optional_field("ISO 8601 duration, at least PT1S; defaults to PT5M.")
    min_samples: int | None = optional_field("Readings needed in the window; defaults to 1.")
    pending_for: str | None = optional_field("ISO 8601: breach this long before firing.")
    keep_firing_for: str | None = optional_field("ISO 8601: stay firing this long.")
    no_data_after: str | None = optional_field("ISO 8601, at least PT1S; defaults to 2 x window.")
    on_no_data: OnNoData | None = optional_field("What missing data does; defaults to NO_DATA.")
    max_lateness: str | None = optional_field("ISO 8601: how late readings still count.")
    renotify_interval: str | None = optional_field("ISO 8601 between reminders, at least PT1S.")
    muted_until: datetime | None = optional_field("No notifications until then.")
    labels: JSON | None = optional_field("String labels carried by its alerts.")
    annotations: JSON | None = optional_field("String annotations, e.g. `summary`.")


@strawberry.input(description="Changes to an alert rule; thresholds are checked as a whole.")
class UpdateAlertRuleInput:
    name: str | None = optional_field("New name.")
    enabled: bool | None = optional_field("Enable or disable.")
    operator: Operator | None = optional_field("New operator.")
    warning: JSON | None = optional_field("New warning threshold.")
    critical: JSON | None = optional_field("New critical threshold.")
    warning_recovery: JSON | None = optional_field("New warning recovery.")
    critical_recovery: JSON | None = optional_field("New critical recovery.")
    aggregation: Aggregation | None = optional_field("New aggregation.")
    window: str | None = optional_field("New window (ISO 8601).")
    min_samples: int | None = optional_field("New minimum samples.")
    pending_for: str | None = optional_field("New pending duration (ISO 8601).")
    keep_firing_for: str | None = optional_field("New keep-firing duration (ISO 8601).")
    no_data_after: str | None = optional_field("New no-data duration (ISO 8601).")
    on_no_data: OnNoData | None = optional_field("New no-data behaviour.")
    max_lateness: str | None = optional_field("New lateness (ISO 8601).")
    renotify_interval: str | None = optional_field("New reminder interval (ISO 8601).")
    muted_until: datetime | None = optional_field("Mute until then.")
    labels: JSON | None = optional_field("New labels.")
    annotations: JSON | None = optional_field("New annotations.")


def _rule_fields(data: object) -> dict[str, Any]:
    values = given(data)
    if isinstance(values.get("muted_until"), datetime):
        values["muted_until"] = values["muted_until"].isoformat()
    return values


@strawberry.type(description="The KPI created.")
class CreateKpiPayload:
    kpi: KpiNode = strawberry.field(description="The new KPI.")


@strawberry.type(description="The KPI as changed.")
class UpdateKpiPayload:
    kpi: KpiNode = strawberry.field(description="The changed KPI.")


@strawberry.type(description="The KPI deleted, with its readings and rules.")
class DeleteKpiPayload:
    id: uuid.UUID = strawberry.field(description="The id of the deleted KPI.")


@strawberry.type(description="The alert rule created.")
class CreateAlertRulePayload:
    alert_rule: AlertRuleNode = strawberry.field(description="The new rule.")


@strawberry.type(
    description="The alert rule as changed; its series restarted from ok "
    "(not for `mutedUntil` alone)."
)
class UpdateAlertRulePayload:
    alert_rule: AlertRuleNode = strawberry.field(description="The changed rule.")


@strawberry.type(description="The alert rule deleted; a firing series resolved.")
class DeleteAlertRulePayload:
    id: uuid.UUID = strawberry.field(description="The id of the deleted rule.")


@strawberry.type(name="ReadingProblem", description="Why one reading was refused.")
class ReadingProblemNode:
    status: int = strawberry.field(description="The HTTP status REST would give: 403, 404, 422.")
    detail: str = strawberry.field(description="What went wrong, for humans.")
    errors: JSON | None = strawberry.field(description="Per-field errors, when any.")


@strawberry.type(name="ReadingResult", description="What became of one submitted reading.")
class ReadingResultNode:
    index: int = strawberry.field(description="Position in the submitted list, from 0.")
    status: ItemStatus = strawberry.field(description="Created, duplicate or rejected.")
    kpi_id: uuid.UUID | None = strawberry.field(description="The KPI, unless rejected.")
    observed_at: datetime | None = strawberry.field(description="The stored timestamp.")
    problem: ReadingProblemNode | None = strawberry.field(description="Why it was rejected.")

    @classmethod
    def of(cls, result: ReadingResult) -> ReadingResultNode:
        problem = None
        if result.problem is not None:
            problem = ReadingProblemNode(
                status=int(result.problem["status"]),
                detail=str(result.problem["detail"]),
                errors=result.problem.get("errors"),
            )
        return cls(
            index=result.index,
            status=result.status,
            kpi_id=result.kpi_id,
            observed_at=result.observed_at,
            problem=problem,
        )


@strawberry.type(description="A result per reading, as REST's `POST /v1/readings`.")
class IngestReadingsPayload:
    created: int = strawberry.field(description="Readings stored.")
    duplicates: int = strawberry.field(description="Repeats of stored readings, ignored.")
    rejected: int = strawberry.field(description="Readings refused (see each `problem`).")
    results: list[ReadingResultNode] = strawberry.field(description="One per reading, in order.")

    @classmethod
    def of(cls, result: IngestResult) -> IngestReadingsPayload:
        return cls(
            created=result.created,
            duplicates=result.duplicates,
            rejected=result.rejected,
            results=[ReadingResultNode.of(r) for r in result.results],
        )


@strawberry.type(description="`atomic` was asked and some readings were refused: none stored.")
class IngestRefusedError(MutationError):
    results: list[ReadingResultNode] = strawberry.field(
        description="The refused readings, each with its problem."
    )


CreateKpiResult = Annotated[
    CreateKpiPayload | NotFoundError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("CreateKpiResult", description="The KPI, or why not."),
]
UpdateKpiResult = Annotated[
    UpdateKpiPayload
    | NotFoundError
    | ValidationError
    | ConflictError
    | ForbiddenError
    | PreconditionFailedError,
    strawberry.union("UpdateKpiResult", description="The KPI, or why not."),
]
DeleteKpiResult = Annotated[
    DeleteKpiPayload | NotFoundError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("DeleteKpiResult", description="The deleted id, or why not."),
]
IngestReadingsResult = Annotated[
    IngestReadingsPayload | IngestRefusedError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("IngestReadingsResult", description="A result per reading, or why none."),
]
CreateAlertRuleResult = Annotated[
    CreateAlertRulePayload | NotFoundError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("CreateAlertRuleResult", description="The rule, or why not."),
]
UpdateAlertRuleResult = Annotated[
    UpdateAlertRulePayload
    | NotFoundError
    | ValidationError
    | ConflictError
    | ForbiddenError
    | PreconditionFailedError,
    strawberry.union("UpdateAlertRuleResult", description="The rule, or why not."),
]
DeleteAlertRuleResult = Annotated[
    DeleteAlertRulePayload | NotFoundError | ValidationError | ConflictError | ForbiddenError,
    strawberry.union("DeleteAlertRuleResult", description="The deleted id, or why not."),
]

KpiRef = Annotated[str, arg("The KPI's id or key.")]
RuleId = Annotated[uuid.UUID, arg("The rule's id.")]
IfMatch = Annotated[str | None, arg("The `etag` you last read; a stale one changes nothing.")]


@strawberry.type
class KpiMutation:
    @strawberry.mutation(description="Create a KPI; a `target` brings a default alert rule.")
    async def create_kpi(self, info: Info, input: CreateKpiInput) -> CreateKpiResult:
        async def call(session: AsyncSession, principal: Principal) -> CreateKpiPayload:
            row = await service.create_kpi(session, principal, KpiCreate(**given(input)))
            return CreateKpiPayload(kpi=KpiNode.of(row))

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Change a KPI; a new target moves its default rule.")
    async def update_kpi(
        self, info: Info, id_or_key: KpiRef, input: UpdateKpiInput, if_match: IfMatch = None
    ) -> UpdateKpiResult:
        async def call(session: AsyncSession, principal: Principal) -> UpdateKpiPayload:
            data = KpiUpdate(**given(input))
            row = await service.update_kpi(session, principal, id_or_key, data, if_match)
            return UpdateKpiPayload(kpi=KpiNode.of(row))

        return await run_mutation(info, call)

    @strawberry.mutation(description="Delete a KPI with its readings and rules.")
    async def delete_kpi(self, info: Info, id_or_key: KpiRef) -> DeleteKpiResult:
        async def call(session: AsyncSession, principal: Principal) -> DeleteKpiPayload:
            found = await repository.find_by_id_or_key(
                session, principal.organization_id, id_or_key
            )
            await service.delete_kpi(session, principal, id_or_key)
            assert found is not None  # delete_kpi raised NotFound otherwise
            return DeleteKpiPayload(id=found.id)

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Post up to 10,000 readings across KPIs with a result per item; a repeat "
        "of `(kpi, source, observedAt)` is stored once. `atomic`: all or nothing."
    )
    async def ingest_readings(
        self,
        info: Info,
        readings: Annotated[list[ReadingInput], arg("The readings, each naming its KPI.")],
        atomic: Annotated[bool, arg("Refuse all when any is refused.")] = False,
    ) -> IngestReadingsResult:
        raw = [reading.raw() for reading in readings]

        async def call(
            session: AsyncSession, principal: Principal
        ) -> IngestReadingsPayload | IngestRefusedError:
            try:
                result = await ingest.ingest_batch(session, principal, raw, atomic)
            except ValidationFailed as exc:
                refused = [e for e in exc.errors if "index" in e]
                if not atomic or not refused:
                    raise
                # Raised before any row was written: nothing to roll back.
                return IngestRefusedError(
                    code=exc.code,
                    message=exc.detail,
                    results=[ReadingResultNode.of(ReadingResult(**e)) for e in refused],
                )
            return IngestReadingsPayload.of(result.model())

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Add an alert rule; inconsistent thresholds are a ValidationError. "
        "Replaces the KPI's default rule."
    )
    async def create_alert_rule(
        self, info: Info, kpi: KpiRef, input: CreateAlertRuleInput
    ) -> CreateAlertRuleResult:
        async def call(session: AsyncSession, principal: Principal) -> CreateAlertRulePayload:
            data = AlertRuleCreate(**_rule_fields(input))
            row = await rules_service.create_rule(session, principal, kpi, data)
            return CreateAlertRulePayload(alert_rule=AlertRuleNode.of(row))

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Change a rule: its version moves, its series restarts (unless only "
        "`mutedUntil` changed: a silence, which the series goes on through)."
    )
    async def update_alert_rule(
        self,
        info: Info,
        kpi: KpiRef,
        id: RuleId,
        input: UpdateAlertRuleInput,
        if_match: IfMatch = None,
    ) -> UpdateAlertRuleResult:
        async def call(session: AsyncSession, principal: Principal) -> UpdateAlertRulePayload:
            data = AlertRuleUpdate(**_rule_fields(input))
            row = await rules_service.update_rule(session, principal, kpi, id, data, if_match)
            return UpdateAlertRulePayload(alert_rule=AlertRuleNode.of(row))

        return await run_mutation(info, call)

    @strawberry.mutation(description="Delete a rule; a firing series resolves (`rule_changed`).")
    async def delete_alert_rule(self, info: Info, kpi: KpiRef, id: RuleId) -> DeleteAlertRuleResult:
        async def call(session: AsyncSession, principal: Principal) -> DeleteAlertRulePayload:
            await rules_service.delete_rule(session, principal, kpi, id)
            return DeleteAlertRulePayload(id=id)

        return await run_mutation(info, call)  # type: ignore[return-value]
