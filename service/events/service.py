"""The event log: what Meridian emitted, with each endpoint's delivery, and redelivery."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, split_page
from service.errors import Conflict, NotFound, ValidationFailed
from service.events import repository
from service.models import Event, WebhookMessage
from service.webhooks import service as webhooks

# An exact event type or a prefix (`kpi.*`), or `*`: checked here, so REST's `?type=` and
# GraphQL's `events(type:)` refuse the same values (REST also documents it in OpenAPI).
TYPE_PATTERN = re.compile(r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")
TYPE_MAX_LENGTH = 100


async def list_events(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    type_pattern: str | None,
    since: datetime | None,
) -> tuple[list[Event], str | None]:
    require(principal, Scope.READ)
    if type_pattern is not None and (
        len(type_pattern) > TYPE_MAX_LENGTH or not TYPE_PATTERN.match(type_pattern)
    ):
        raise ValidationFailed.on(
            "type",
            "`type` is an event type such as `kpi.breached`, a prefix such as `kpi.*`, or `*`"
            f" (at most {TYPE_MAX_LENGTH} characters).",
        )
    rows = await repository.list_events(
        session, principal.organization_id, page, type_pattern, since
    )
    return split_page(rows, page)


async def get_event(
    session: AsyncSession, principal: Principal, event_id: str
) -> tuple[Event, list[WebhookMessage]]:
    require(principal, Scope.READ)
    event = await repository.get_event(session, principal.organization_id, event_id)
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event, await repository.deliveries_of(session, event.id)


async def redeliver(
    session: AsyncSession, principal: Principal, event_id: str, endpoint_id: uuid.UUID
) -> str:
    """One manual attempt with the same ``webhook-id`` and body; a failure is not retried.
    A message still waiting for a retry is sent now and keeps its remaining retries."""
    require(principal, Scope.ADMIN)
    event = await repository.get_event(session, principal.organization_id, event_id)
    if event is None:
        raise NotFound(f"No event {event_id}.")
    endpoint = await webhooks.get_endpoint(session, principal, endpoint_id)
    if endpoint.disabled:
        raise Conflict("The endpoint is disabled; enable it before redelivering.")
    status = await repository.queue_redelivery(
        session, principal.organization_id, event.id, endpoint.id
    )
    if status is None:
        raise Conflict("This message is being sent right now; try again in a moment.")
    return status
