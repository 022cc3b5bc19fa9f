"""API models for cycle lint, rollover and promoting a key result to a KPI."""

from __future__ import annotations

import uuid

from pydantic import Field

from service.common.schemas import Flag, InputModel, Name, OutputModel
from service.kpis.schemas import KpiKey
from service.planning.lint import Check


class LintFindingRead(OutputModel):
    check: Check
    message: str
    ids: list[uuid.UUID] = Field(description="The offending objectives, key results or KPIs.")
    subject_id: uuid.UUID | None = Field(description="The team, person or row concerned.")


class LintRead(OutputModel):
    cycle_id: uuid.UUID
    findings: list[LintFindingRead]


class RolloverCreate(InputModel):
    target_cycle_id: uuid.UUID = Field(description="The cycle to copy into.")
    objective_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=1000,
        description="Objectives to copy; by default every unfinished one (not closed or "
        "archived, progress below 1).",
    )
    dry_run: Flag = Field(default=False, description="Report what would be copied; change nothing.")


class RolledObjectiveRead(OutputModel):
    source_id: uuid.UUID
    id: uuid.UUID | None = Field(description="The copy; null on a dry run.")
    title: str
    key_results: int = Field(description="Key results copied (without check-ins).")


class RolloverRead(OutputModel):
    dry_run: bool
    target_cycle_id: uuid.UUID
    objectives: list[RolledObjectiveRead]
    links: int = Field(
        description="Alignment links copied: to the copy of a parent if copied, else to the "
        "parent as `supports`."
    )
    kpi_links: int = Field(description="Linked KPIs carried over.")


class PromoteCreate(InputModel):
    key: KpiKey = Field(description="The new KPI's key.")
    name: Name | None = Field(default=None, description="Defaults to the key result's title.")
