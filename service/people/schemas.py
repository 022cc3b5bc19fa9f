from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field, model_validator

from service.common.schemas import Email, Flag, InputModel, Name, OutputModel, UtcDateTime


class PersonCreate(InputModel):
    user_name: Name = Field(description="Unique in the organization, compared case-insensitively.")
    display_name: Name
    email: Email | None = None
    title: Name | None = None
    external_id: Name | None = Field(default=None, description="The id in your HRIS.")
    manager_id: uuid.UUID | None = None
    active: Flag = True


class PersonUpdate(InputModel):
    user_name: Name | None = None
    display_name: Name | None = None
    email: Email | None = None
    title: Name | None = None
    external_id: Name | None = None
    manager_id: uuid.UUID | None = None
    active: Flag | None = None


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


class SyncMode(StrEnum):
    UPSERT = "upsert"
    FULL = "full"


class SyncPerson(InputModel):
    """One person of an HRIS snapshot, matched by `external_id`, else by `email`."""

    external_id: Name | None = None
    email: Email | None = None
    user_name: Name | None = Field(
        default=None, description="Defaults to `email`, else `external_id`."
    )
    display_name: Name
    title: Name | None = None
    employee_number: Name | None = None
    department: Name | None = None
    manager: Name | None = Field(
        default=None,
        description="The manager's `external_id` or `email`, in this payload or already stored.",
    )
    active: Flag = True

    @model_validator(mode="after")
    def _has_a_key(self) -> SyncPerson:
        if self.external_id is None and self.email is None:
            raise ValueError("each person needs an `external_id` or an `email`")
        return self


class SyncTeam(InputModel):
    external_id: Name
    name: Name
    parent: Name | None = Field(default=None, description="The parent team's `external_id`.")
    members: list[Name] | None = Field(
        default=None,
        max_length=10_000,
        description="People by `external_id` or `email`; omitted leaves membership as is.",
    )


class PeopleSync(InputModel):
    mode: SyncMode = Field(
        default=SyncMode.UPSERT,
        description="`upsert` creates and updates; `full` also deactivates the active people "
        "missing from the snapshot (and needs the admin scope). Whoever a row names by "
        "`external_id` or `email` is in the snapshot, even when that row is an `error`.",
    )
    dry_run: Flag = Field(default=False, description="Report what would happen; change nothing.")
    people: list[SyncPerson] = Field(default_factory=list, max_length=10_000)
    teams: list[SyncTeam] = Field(default_factory=list, max_length=2_000)


class SyncRowResult(OutputModel):
    index: int | None = Field(
        description="Position in the payload; null for people deactivated by `full`."
    )
    key: str = Field(description="The row's `external_id` (or e-mail for people without one).")
    id: uuid.UUID | None = Field(description="The person or team; null when created in a dry run.")
    result: str = Field(description="`created`, `updated`, `unchanged`, `deactivated` or `error`.")
    errors: list[str] = Field(default_factory=list)


class PeopleSyncResult(OutputModel):
    mode: SyncMode
    dry_run: bool
    people: list[SyncRowResult]
    teams: list[SyncRowResult]
    counts: dict[str, int] = Field(description="Rows per result, people and teams together.")
