"""The event log: what Meridian emitted, with each endpoint's delivery, and redelivery."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, split_page
from service.errors import Conflict, NotFound
from service.events import repository
from service.models import Event, WebhookMessage
from service.webhooks import service as webhooks


async def list_events(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    type_pattern: str | None,
    since: datetime | None,
) -> tuple[list[Event], str | None]:
    require(principal, Scope.READ)
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
    """One manual attempt with the same ``webhook-id`` and body; a failure is not retried."""
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
