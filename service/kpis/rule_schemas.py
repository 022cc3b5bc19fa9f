from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints

from service.common.schemas import (
    Count,
    Flag,
    InputDateTime,
    InputModel,
    Measure,
    Name,
    OutputModel,
    UtcDateTime,
)
from service.kpis.durations import format_duration, parse_duration
from service.kpis.evaluation import OnNoData, State
from service.kpis.schemas import Aggregation
from service.kpis.thresholds import Operator, Severity

MAX_DURATION = timedelta(days=366)
"""Rule durations are limited to a year: checked while parsing, so nothing longer (not even
past ``timedelta``'s range) gets further than a 422."""


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration is an ISO 8601 string such as PT5M")
    return parse_duration(value, maximum=MAX_DURATION)


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    Field(json_schema_extra={"type": "string", "format": "duration", "example": "PT5M"}),
]

MIN_PERIOD = timedelta(seconds=1)


def _at_least_a_second(value: timedelta) -> timedelta:
    if value < MIN_PERIOD:
        raise ValueError(f"must be at least {format_duration(MIN_PERIOD)}")
    return value


Period = Annotated[Duration, AfterValidator(_at_least_a_second)]
"""A length of time something lasts or repeats at (a window, a no-data timeout, a reminder
interval): zero would make a window that holds no reading, call every series silent the
moment its reading is stored, or remind on every evaluation. At least ``MIN_PERIOD``."""


class BandIn(InputModel):
    lo: Measure
    hi: Measure


ThresholdIn = Measure | BandIn
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]
LabelValue = Annotated[str, StringConstraints(max_length=1000)]


class AlertRuleCreate(InputModel):
    name: Name = "breach"
    enabled: Flag = True
    operator: Operator
    warning: ThresholdIn | None = None
    critical: ThresholdIn | None = None
    warning_recovery: ThresholdIn | None = None
    critical_recovery: ThresholdIn | None = None
    aggregation: Aggregation = Aggregation.LAST
    window: Period = Field(default=timedelta(minutes=5), description="At least PT1S.")
    min_samples: Count = Field(default=1, ge=1, le=100_000)
    pending_for: Duration = timedelta(0)
    keep_firing_for: Duration = timedelta(0)
    no_data_after: Period | None = Field(
        default=None, description="At least PT1S; default: 2 x window."
    )
    on_no_data: OnNoData = OnNoData.NO_DATA
    max_lateness: Duration = timedelta(minutes=15)
    renotify_interval: Period | None = Field(default=None, description="At least PT1S.")
    muted_until: InputDateTime | None = None
    labels: dict[Label, LabelValue] = Field(default_factory=dict, max_length=50)
    annotations: dict[Label, LabelValue] = Field(default_factory=dict, max_length=50)


class AlertRuleUpdate(InputModel):
    name: Name | None = None
    enabled: Flag | None = None
    operator: Operator | None = None
    warning: ThresholdIn | None = None
    critical: ThresholdIn | None = None
    warning_recovery: ThresholdIn | None = None
    critical_recovery: ThresholdIn | None = None
    aggregation: Aggregation | None = None
    window: Period | None = None
    min_samples: Count | None = Field(default=None, ge=1, le=100_000)
    pending_for: Duration | None = None
    keep_firing_for: Duration | None = None
    no_data_after: Period | None = None
    on_no_data: OnNoData | None = None
    max_lateness: Duration | None = None
    renotify_interval: Period | None = None
    muted_until: InputDateTime | None = None
    labels: dict[Label, LabelValue] | None = Field(default=None, max_length=50)
    annotations: dict[Label, LabelValue] | None = Field(default=None, max_length=50)


class AlertRuleRead(OutputModel):
    id: uuid.UUID
    kpi_id: uuid.UUID
    name: str
    enabled: bool
    is_default: bool = Field(description="Created from the KPI's target; follows it.")
    operator: Operator
    warning: Any
    critical: Any
    warning_recovery: Any
    critical_recovery: Any
    aggregation: Aggregation
    window: Duration
    min_samples: int
    pending_for: Duration
    keep_firing_for: Duration
    no_data_after: Duration | None
    on_no_data: OnNoData
    max_lateness: Duration
    renotify_interval: Duration | None
    muted_until: UtcDateTime | None
    labels: dict[str, str]
    annotations: dict[str, str]
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class AlertRead(OutputModel):
    """The current state of one alert series (a rule on a KPI)."""

    fingerprint: str
    rule_id: uuid.UUID
    kpi_id: uuid.UUID
    state: State
    severity: Severity | None
    alert_id: str | None = Field(description="New for every episode from ok to firing to ok.")
    since: UtcDateTime
    started_at: UtcDateTime | None
    last_value: float | None
    last_eval_at: UtcDateTime | None
    sequence: int


class AlertEventRead(OutputModel):
    id: str
    type: str
    occurred_at: UtcDateTime
    fingerprint: str | None
    sequence: int | None
    suppressed_reason: str | None
    body: dict[str, Any]
