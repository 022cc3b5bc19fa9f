"""API models for the event log and per-endpoint deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from service.common.schemas import OutputModel, UtcDateTime


class DeliveryRead(OutputModel):
    endpoint_id: uuid.UUID
    status: str = Field(description="pending, sending, retrying, succeeded, failed or canceled.")
    trigger: str
    attempt_count: int
    next_attempt_at: UtcDateTime | None
    last_status_code: int | None
    updated_at: UtcDateTime


class EventSummary(OutputModel):
    id: str
    type: str
    occurred_at: UtcDateTime
    fingerprint: str | None
    sequence: int | None
    suppressed_reason: str | None
    created_at: UtcDateTime


class EventRead(EventSummary):
    body: dict[str, Any] = Field(description="The exact payload every delivery carries.")
    deliveries: list[DeliveryRead]


class RedeliverResult(OutputModel):
    event_id: str
    endpoint_id: uuid.UUID
    status: str
