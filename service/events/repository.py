"""SQL for the event log and its per-endpoint deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.pagination import PageRequest, decode_keyset
from service.models import Event, WebhookMessage
from service.webhooks.repository import NOTIFY

FINISHED = ("succeeded", "failed", "canceled")
"""Messages no longer queued: a redelivery starts them again, as one manual attempt."""


async def list_events(
    session: AsyncSession,
    organization_id: uuid.UUID,
    page: PageRequest,
    type_pattern: str | None,
    since: datetime | None,
) -> list[Event]:
    stmt: Any = select(Event).where(Event.organization_id == organization_id)
    if type_pattern and type_pattern.endswith(".*"):
        stmt = stmt.where(Event.type.startswith(type_pattern[:-1], autoescape=True))
    elif type_pattern and type_pattern != "*":
        stmt = stmt.where(Event.type == type_pattern)
    if since is not None:
        stmt = stmt.where(Event.created_at >= since)
    if page.cursor:
        moment, ident = decode_keyset(page.cursor)
        stmt = stmt.where(
            or_(Event.created_at > moment, and_(Event.created_at == moment, Event.id > ident))
        )
    stmt = stmt.order_by(Event.created_at, Event.id).limit(page.limit + 1)
    return list((await session.scalars(stmt)).all())


async def get_event(
    session: AsyncSession, organization_id: uuid.UUID, event_id: str
) -> Event | None:
    stmt = select(Event).where(Event.organization_id == organization_id, Event.id == event_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def deliveries_of(session: AsyncSession, event_id: str) -> list[WebhookMessage]:
    stmt = (
        select(WebhookMessage)
        .where(WebhookMessage.event_id == event_id)
        .order_by(WebhookMessage.created_at, WebhookMessage.id)
    )
    return list((await session.scalars(stmt)).all())


async def queue_redelivery(
    session: AsyncSession, organization_id: uuid.UUID, event_id: str, endpoint_id: uuid.UUID
) -> str | None:
    """Queue one manual attempt, due now; None when a worker is sending this message right
    now. A message still queued (pending, or retrying on its schedule) is only made due now:
    it keeps its trigger and the rest of its retries, which a manual attempt would end."""
    done = WebhookMessage.status.in_(FINISHED)
    stmt = (
        insert(WebhookMessage)
        .values(
            organization_id=organization_id,
            event_id=event_id,
            endpoint_id=endpoint_id,
            trigger="manual",
        )
        .on_conflict_do_update(
            index_elements=[WebhookMessage.event_id, WebhookMessage.endpoint_id],
            set_={
                "status": case((done, "pending"), else_=WebhookMessage.status),
                "trigger": case((done, "manual"), else_=WebhookMessage.trigger),
                "retry_index": case((done, 0), else_=WebhookMessage.retry_index),
                "next_attempt_at": func.now(),
                "locked_until": None,
                "updated_at": func.now(),
            },
            where=WebhookMessage.status != "sending",
        )
        .returning(WebhookMessage.status)
    )
    status = (await session.execute(stmt)).scalar_one_or_none()
    if status is not None:
        await session.execute(NOTIFY)
    return status
