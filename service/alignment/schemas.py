"""API models for alignment: links, linked KPIs and trees."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field

from service.alignment.graph import LinkKind, Rollup
from service.common.schemas import InputModel, OutputModel, UtcDateTime, Weight
from service.goals.schemas import HealthRead, ObjectiveStatus, PaceRead, ProgressRead


class Direction(StrEnum):
    DOWN = "down"
    UP = "up"


class LinkCreate(InputModel):
    parent_id: uuid.UUID = Field(description="The objective this one aligns to.")
    weight: Weight = Field(default=1.0, description="Weight in the parent's roll-up, 0.001-1000.")
    kind: LinkKind = Field(
        default=LinkKind.CONTRIBUTES,
        description="`contributes` counts in the parent's roll-up; `supports` is shown only.",
    )


class LinkRead(OutputModel):
    child_id: uuid.UUID
    parent_id: uuid.UUID
    weight: float
    kind: LinkKind
    created_at: UtcDateTime


class KpiLinkCreate(InputModel):
    kpi: str = Field(min_length=1, max_length=100, description="The KPI's id or key.")


class KpiLinkRead(OutputModel):
    objective_id: uuid.UUID
    kpi_id: uuid.UUID
    created_at: UtcDateTime


class AlignmentNodeRead(OutputModel):
    id: uuid.UUID
    title: str
    cycle_id: uuid.UUID
    team_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    status: ObjectiveStatus
    rollup: Rollup
    depth: int | None = Field(description="Levels from the root of a tree; null in a forest.")
    progress: ProgressRead
    pace: PaceRead
    health: HealthRead


class AlignmentEdgeRead(OutputModel):
    parent_id: uuid.UUID
    child_id: uuid.UUID
    weight: float
    kind: LinkKind


class AlignmentRead(OutputModel):
    nodes: list[AlignmentNodeRead]
    edges: list[AlignmentEdgeRead] = Field(description="Links between the nodes shown.")
