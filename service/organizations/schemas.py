from __future__ import annotations

import uuid

from pydantic import Field

from service.common.schemas import InputModel, OutputModel, UtcDateTime
from service.people.ownership import OrphanPolicy


class OrganizationUpdate(InputModel):
    orphan_policy: OrphanPolicy | None = Field(
        default=None,
        description="What happens to what a deactivated person owns: `flag` leaves it "
        "with them, listed by `GET /v1/objectives?orphaned=true`; `reassign_to_manager` "
        "moves it to their nearest active manager (flagged when there is none).",
    )


class OrganizationRead(OutputModel):
    id: uuid.UUID
    name: str
    orphan_policy: OrphanPolicy
    created_at: UtcDateTime
    updated_at: UtcDateTime
