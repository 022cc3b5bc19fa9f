from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from service.common.schemas import (
    CleanText,
    Flag,
    InputDateTime,
    InputModel,
    LongText,
    Measure,
    Name,
    OutputModel,
    UtcDateTime,
)


def _not_an_id(key: str) -> str:
    """Every path and reading that names a KPI takes its id or its key, and reads what
    parses as a UUID as an id: a key like that could never be reached by key (and one that
    is another KPI's id would reach that KPI instead)."""
    try:
        uuid.UUID(key)
    except ValueError:
        return key
    raise ValueError(
        "a key must not be a UUID (such as 32 hex digits): KPIs are looked up by id or "
        "key, and a UUID is read as an id"
    )


KpiKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$"),
    AfterValidator(_not_an_id),
]
MAX_BATCH = 10_000


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class KpiCreate(InputModel):
    key: KpiKey = Field(
        description="A slug integrations use instead of the id, e.g. `churn-rate`; "
        "not a UUID, which would be read as an id."
    )
    name: Name
    description: LongText | None = None
    unit: Annotated[str, StringConstraints(min_length=1, max_length=32), CleanText] = "number"
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    direction: Direction = Direction.HIGHER_IS_BETTER
    target: Measure | None = Field(
        default=None, description="With no alert rule, a default rule breaches on the wrong side."
    )


class KpiUpdate(InputModel):
    key: KpiKey | None = None
    name: Name | None = None
    description: LongText | None = None
    unit: Annotated[str, StringConstraints(min_length=1, max_length=32), CleanText] | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    direction: Direction | None = None
    target: Measure | None = None


class LatestReading(OutputModel):
    value: float
    observed_at: UtcDateTime


class KpiRead(OutputModel):
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    unit: str
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    direction: Direction
    target: float | None
    health: Health = Field(description="The latest value against the target.")
    latest: LatestReading | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ReadingIn(InputModel):
    value: Measure = Field(description="A finite number.")
    observed_at: InputDateTime | None = Field(default=None, description="Defaults to now.")
    source: Annotated[str, StringConstraints(min_length=1, max_length=200), CleanText] | None = (
        Field(default=None, description="Defaults to the API key's name.")
    )


class BatchReadingIn(ReadingIn):
    kpi: Annotated[str, StringConstraints(min_length=1, max_length=100), CleanText] = Field(
        description="The KPI's key or id."
    )


class ReadingBatch(InputModel):
    readings: list[dict[str, Any]] = Field(
        max_length=MAX_BATCH, description="Each item: kpi, value, observed_at?, source?."
    )
    atomic: Flag = Field(default=False, description="All or nothing: any bad item refuses all.")


class ItemStatus(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class ReadingResult(OutputModel):
    index: int
    status: ItemStatus
    kpi_id: uuid.UUID | None = None
    observed_at: UtcDateTime | None = None
    problem: dict[str, Any] | None = Field(
        default=None, description="Why the item was refused: detail and per-field errors."
    )


class IngestResult(OutputModel):
    created: int
    duplicates: int
    rejected: int
    results: list[ReadingResult]


class ReadingRead(OutputModel):
    kpi_id: uuid.UUID
    value: float
    observed_at: UtcDateTime
    source: str
    received_at: UtcDateTime


class Aggregation(StrEnum):
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"
    LAST = "last"


class BucketRead(OutputModel):
    bucket_start: UtcDateTime
    value: float
    samples: int


class ReadingSeries(OutputModel):
    """Downsampled readings: one value per bucket that has data."""

    bucket: str
    agg: Aggregation
    items: list[BucketRead]
