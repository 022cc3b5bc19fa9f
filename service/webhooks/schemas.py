"""API models for webhook endpoints, their secrets and the delivery log."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from service.common.schemas import Count, Flag, InputDateTime, InputModel, OutputModel, UtcDateTime

EventTypePattern = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=100,
        pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$",
    ),
]
"""An exact event type (`kpi.breached`), a prefix (`kpi.*`) or `*`."""

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
MAX_GRACE_SECONDS = 7 * 24 * 3600


MaxInFlight = Annotated[
    Count,
    Field(
        ge=1,
        le=1000,
        description="Messages being sent to this endpoint at once, by all workers together "
        "(1 to 1,000). Others wait their turn: delayed, never dropped.",
    ),
]
ThrottleRate = Annotated[
    Count,
    Field(
        ge=1,
        le=10_000,
        description="Messages a second to this endpoint, at most (1 to 10,000; bursts up to "
        "one second's worth). Others wait their turn: delayed, never dropped.",
    ),
]


class WebhookEndpointCreate(InputModel):
    url: Url = Field(description="Where to POST events; https (vetted against SSRF).")
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    event_types: list[EventTypePattern] = Field(
        default_factory=list,
        max_length=100,
        description="Exact types or prefixes such as `kpi.*`; empty means every type.",
    )
    disabled: Flag = False
    secret: str | None = Field(
        default=None,
        description="Bring your own `whsec_` secret (24 to 64 bytes); generated if absent.",
    )
    max_in_flight: MaxInFlight = 4
    throttle_rate: ThrottleRate | None = None


class WebhookEndpointUpdate(InputModel):
    url: Url | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    event_types: list[EventTypePattern] | None = Field(default=None, max_length=100)
    max_in_flight: MaxInFlight | None = None
    throttle_rate: ThrottleRate | None = Field(default=None, description="`null` removes it.")


class WebhookEndpointRead(OutputModel):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    disabled: bool
    disabled_reason: str | None = Field(
        description="`manual`, `failing` (continuous failure), `gone` (410) or "
        "`receiver_requested`."
    )
    failing_since: UtcDateTime | None
    max_in_flight: int = Field(description="Messages being sent to it at once, at most.")
    throttle_rate: int | None = Field(description="Messages a second, at most; null: no limit.")
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int


class WebhookEndpointCreated(WebhookEndpointRead):
    secret: str = Field(description="The signing secret. Shown once: store it now.")


class SecretRotate(InputModel):
    key: str | None = Field(
        default=None, description="The new `whsec_` secret; generated if absent."
    )
    grace_period_seconds: Count = Field(
        default=86_400,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="How long the old key keeps signing next to the new one (up to 7 days).",
    )


class SecretRotated(OutputModel):
    secret: str = Field(description="The new signing secret. Shown once.")
    previous_expires_at: UtcDateTime


class RecoverRequest(InputModel):
    since: InputDateTime = Field(description="Messages and events created at or after this time.")
    until: InputDateTime | None = None


class RecoverResult(OutputModel):
    requeued: int = Field(
        description="Messages queued for this endpoint: failed or canceled ones again, and "
        "events emitted while it was disabled."
    )


class TestSent(OutputModel):
    event_id: str


class AttemptRead(OutputModel):
    id: uuid.UUID
    event_id: str
    endpoint_id: uuid.UUID
    attempt_number: int
    trigger: str
    url: str
    started_at: UtcDateTime
    duration_ms: int
    response_status: int | None
    response_body: str | None
    error_class: str | None
    error: str | None
    outcome: str
    next_attempt_at: UtcDateTime | None
