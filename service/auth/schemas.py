from __future__ import annotations

import uuid

from pydantic import Field

from service.auth.keys import Scope
from service.common.schemas import InputModel, Name, OutputModel, UtcDateTime


class ApiKeyCreate(InputModel):
    name: Name = Field(description="What the key is for, e.g. `warehouse-sync`.")
    scopes: list[Scope] = Field(min_length=1, max_length=5, description="Granted scopes.")
    kpi_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=1000, description="Limit ingestion to these KPIs."
    )


class ApiKeyRead(OutputModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    scopes: list[Scope]
    kpi_ids: list[uuid.UUID] | None
    created_at: UtcDateTime
    last_used_at: UtcDateTime | None
    revoked_at: UtcDateTime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown once: store it now.")


class OrganizationCreated(OutputModel):
    organization_id: uuid.UUID
    api_key: str
