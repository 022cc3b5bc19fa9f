from __future__ import annotations

import uuid

from pydantic import Field

from service.common.schemas import Email, InputModel, Name, OutputModel, UtcDateTime


class PersonCreate(InputModel):
    user_name: Name = Field(description="Unique in the organization, compared case-insensitively.")
    display_name: Name
    email: Email | None = None
    title: Name | None = None
    external_id: Name | None = Field(default=None, description="The id in your HRIS.")
    manager_id: uuid.UUID | None = None
    active: bool = True


class PersonUpdate(InputModel):
    user_name: Name | None = None
    display_name: Name | None = None
    email: Email | None = None
    title: Name | None = None
    external_id: Name | None = None
    manager_id: uuid.UUID | None = None
    active: bool | None = None


class PersonRead(OutputModel):
    id: uuid.UUID
    user_name: str
    display_name: str
    email: str | None
    title: str | None
    external_id: str | None
    manager_id: uuid.UUID | None
    active: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime


class OwnedObjective(OutputModel):
    id: uuid.UUID
    title: str
    status: str
    cycle_id: uuid.UUID


class OwnedKeyResult(OutputModel):
    id: uuid.UUID
    title: str
    objective_id: uuid.UUID


class OwnedKpi(OutputModel):
    id: uuid.UUID
    key: str
    name: str


class OwnershipRead(OutputModel):
    """What a person owns that is still in play: draft and active objectives, key results
    of those objectives, and KPIs. Orphaned when the person is inactive."""

    person_id: uuid.UUID
    active: bool
    orphaned: bool = Field(description="True when the owner is inactive: these need an owner.")
    objectives: list[OwnedObjective]
    key_results: list[OwnedKeyResult]
    kpis: list[OwnedKpi]
