from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import Field

from service.alignment.graph import HealthStatus, Rollup
from service.common.schemas import (
    Flag,
    InputDateTime,
    InputModel,
    LongText,
    Measure,
    Number,
    OutputModel,
    Title,
    UtcDateTime,
    Weight,
)
from service.goals.grades import Grade
from service.goals.pace import PaceStatus
from service.goals.progress import KeyResultType


class ObjectiveStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"
    ARCHIVED = "archived"


class Outcome(StrEnum):
    ACHIEVED = "achieved"
    PARTIAL = "partial"
    MISSED = "missed"
    DROPPED = "dropped"


class Unit(StrEnum):
    NUMBER = "number"
    PERCENT = "percent"
    CURRENCY = "currency"


class CheckInSource(StrEnum):
    MANUAL = "manual"
    API = "api"
    IMPORT = "import"
    KPI = "kpi"


class ProgressRead(OutputModel):
    """A progress number with everything needed to explain it."""

    value: float = Field(description="Progress clamped to 0..1.")
    raw: float = Field(description="Unclamped: below 0 when going backwards, above 1 past target.")
    formula: str
    inputs: dict[str, Any]


class PaceRead(OutputModel):
    status: PaceStatus
    expected: float = Field(description="Share of the cycle elapsed (linear expectation).")
    ratio: float | None = Field(description="progress / expected; null when not started.")


class ObjectiveCreate(InputModel):
    title: Title
    description: LongText | None = None
    cycle_id: uuid.UUID
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    status: ObjectiveStatus = ObjectiveStatus.DRAFT
    rollup: Rollup = Field(
        default=Rollup.KEY_RESULTS,
        description="Progress from `key_results`, contributing `children`, or `both`.",
    )
    parent_id: uuid.UUID | None = Field(
        default=None, description="Align to this objective at once (weight 1, contributes)."
    )


class ObjectiveUpdate(InputModel):
    title: Title | None = None
    description: LongText | None = None
    cycle_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    status: ObjectiveStatus | None = None
    rollup: Rollup | None = None
    outcome: Outcome | None = None
    final_score: Number | None = Field(default=None, ge=0, le=1)


class HealthRead(OutputModel):
    status: HealthStatus = Field(description="Worst of the pace and the linked KPIs' alerts.")
    reasons: list[str] = Field(description="The pace, then every linked KPI that is not ok.")


class ObjectiveRead(OutputModel):
    id: uuid.UUID
    title: str
    description: str | None
    cycle_id: uuid.UUID
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    status: ObjectiveStatus
    outcome: Outcome | None
    final_score: float | None
    grade: Grade | None = Field(
        description="The final score's grade: green from 0.7, yellow from 0.4, red below "
        "(`MERIDIAN_GRADE_GREEN`, `MERIDIAN_GRADE_YELLOW`); null until there is a final score."
    )
    rollup: Rollup
    progress: ProgressRead
    pace: PaceRead
    health: HealthRead = Field(description="Pace combined with the linked KPIs' alert states.")
    key_result_ids: list[uuid.UUID]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class KeyResultCreate(InputModel):
    title: Title
    description: LongText | None = None
    type: KeyResultType
    start: Measure | None = Field(default=None, description="Baseline for increase/decrease.")
    target: Measure | None = Field(default=None, description="Goal value (threshold for stay_*).")
    lower: Measure | None = Field(default=None, description="Lower bound of a range.")
    upper: Measure | None = Field(default=None, description="Upper bound of a range.")
    inclusive: Flag = Field(default=True, description="Whether bounds count as met.")
    unit: Unit = Unit.NUMBER
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217.")
    weight: Weight = Field(
        default=1.0, description="Weight in the objective's progress, 0.001-1000."
    )
    owner_id: uuid.UUID | None = None
    kpi_id: uuid.UUID | None = Field(
        default=None,
        description="Drive this key result by a KPI: each reading is a check-in, starting "
        "with the KPI's latest when linked.",
    )


class KeyResultUpdate(InputModel):
    title: Title | None = None
    description: LongText | None = None
    type: KeyResultType | None = None
    start: Measure | None = None
    target: Measure | None = None
    lower: Measure | None = None
    upper: Measure | None = None
    inclusive: Flag | None = None
    unit: Unit | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    weight: Weight | None = None
    owner_id: uuid.UUID | None = None
    kpi_id: uuid.UUID | None = None


class KeyResultRead(OutputModel):
    id: uuid.UUID
    objective_id: uuid.UUID
    title: str
    description: str | None
    type: KeyResultType
    start: float | None
    target: float | None
    lower: float | None
    upper: float | None
    inclusive: bool
    unit: Unit
    currency: str | None
    weight: float
    owner_id: uuid.UUID | None
    kpi_id: uuid.UUID | None = Field(description="The KPI whose readings drive this key result.")
    current: float | None = Field(description="Value of the latest check-in by observed_at.")
    progress: ProgressRead
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CheckInCreate(InputModel):
    value: Measure
    confidence: Number | None = Field(default=None, ge=0, le=1)
    note: LongText | None = None
    observed_at: InputDateTime | None = Field(default=None, description="Defaults to now.")
    source: CheckInSource = CheckInSource.API


class CheckInRead(OutputModel):
    id: uuid.UUID
    key_result_id: uuid.UUID
    value: float
    confidence: float | None
    note: str | None
    source: CheckInSource
    author: str | None
    observed_at: UtcDateTime
    created_at: UtcDateTime
    value_before: float | None = Field(description="The key result's value before this check-in.")
    progress_before: float = Field(description="The key result's progress before this check-in.")
