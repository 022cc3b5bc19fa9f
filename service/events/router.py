"""REST for the event log and redelivery."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import Path, Query, status

from service.api.deps import AdminPrincipal, PageDep, ReadPrincipal, SessionDep
from service.api.uow import domain_router
from service.common.schemas import InputDateTime, Page
from service.events import service
from service.events.schemas import DeliveryRead, EventRead, EventSummary, RedeliverResult

router = domain_router(tags=["events"])
EventId = Annotated[str, Path(max_length=40, description="An event id (`msg_...`).")]


@router.get("/events", operation_id="listEvents")
async def list_events(
    session: SessionDep,
    principal: ReadPrincipal,
    page: PageDep,
    type: Annotated[
        str | None,
        Query(
            max_length=service.TYPE_MAX_LENGTH,
            pattern=service.TYPE_PATTERN.pattern,
            description="An exact type or a prefix such as `kpi.*`.",
        ),
    ] = None,
    since: Annotated[InputDateTime | None, Query(description="Recorded at or after.")] = None,
) -> Page[EventSummary]:
    """Events in the order they were recorded."""
    rows, next_cursor = await service.list_events(session, principal, page, type, since)
    return Page(items=[EventSummary.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/events/{event_id}", operation_id="getEvent")
async def get_event(session: SessionDep, principal: ReadPrincipal, event_id: EventId) -> EventRead:
    """One event with its exact payload and its delivery to each endpoint."""
    event, deliveries = await service.get_event(session, principal, event_id)
    summary = EventSummary.model_validate(event)
    return EventRead(
        **summary.model_dump(),
        body=json.loads(event.body),
        deliveries=[DeliveryRead.model_validate(d) for d in deliveries],
    )


@router.post(
    "/events/{event_id}/deliveries/{endpoint_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="redeliverEvent",
)
async def redeliver(
    session: SessionDep, principal: AdminPrincipal, event_id: EventId, endpoint_id: uuid.UUID
) -> RedeliverResult:
    """Send this event to this endpoint once more, with the same `webhook-id` and body."""
    state = await service.redeliver(session, principal, event_id, endpoint_id)
    return RedeliverResult(event_id=event_id, endpoint_id=endpoint_id, status=state)
