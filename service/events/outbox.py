"""Writing events. Called only inside the transaction of the change an event describes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.common.ids import prefixed
from service.models import Event


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def encode_body(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> bytes:
    """The exact bytes every delivery of this event will carry (Standard Webhooks shape)."""
    body = {"type": event_type, "timestamp": _rfc3339(occurred_at), "data": data}
    return json.dumps(body, separators=(",", ":"), default=_json_default).encode()


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return _rfc3339(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


async def record_event(
    session: AsyncSession,
    organization_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    *,
    fingerprint: str | None = None,
    sequence: int | None = None,
    suppressed_reason: str | None = None,
    endpoint_id: uuid.UUID | None = None,
    kpi_id: uuid.UUID | None = None,
) -> Event:
    """Insert the event; the ``events_fan_out`` trigger queues it for every subscribed
    endpoint (or only ``endpoint_id``) in this same transaction, unless it is suppressed."""
    event = Event(
        id=prefixed("msg"),
        organization_id=organization_id,
        type=event_type,
        occurred_at=occurred_at,
        body=encode_body(event_type, occurred_at, data),
        fingerprint=fingerprint,
        sequence=sequence,
        suppressed_reason=suppressed_reason,
        endpoint_id=endpoint_id,
        kpi_id=kpi_id,
    )
    session.add(event)
    await session.flush()
    return event
