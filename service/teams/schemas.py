from __future__ import annotations

import uuid

from pydantic import Field

from service.common.schemas import InputModel, LongText, Name, OutputModel, UtcDateTime

MAX_MEMBERS = 5000


class TeamCreate(InputModel):
    name: Name
    description: LongText | None = None
    external_id: Name | None = None
    parent_id: uuid.UUID | None = Field(default=None, description="The team this one is part of.")
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_MEMBERS)


class TeamUpdate(InputModel):
    name: Name | None = None
    description: LongText | None = None
    external_id: Name | None = None
    parent_id: uuid.UUID | None = None
    member_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=MAX_MEMBERS, description="Replaces the whole membership."
    )


class TeamRead(OutputModel):
    id: uuid.UUID
    name: str
    description: str | None
    external_id: str | None
    parent_id: uuid.UUID | None
    member_ids: list[uuid.UUID]
    created_at: UtcDateTime
    updated_at: UtcDateTime
