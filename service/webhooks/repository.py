"""SQL for webhook endpoints, their secrets and the delivery log (the API side)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.pagination import PageRequest, decode_cursor
from service.common.repository import get_scoped, list_scoped
from service.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookSecret

MAX_OLD_SECRETS = 10
# Wakes dispatchers at commit (they poll anyway); the channel the trigger notifies too.
NOTIFY = text("SELECT pg_notify('webhook_messages', '')")


async def get_endpoint(
    session: AsyncSession, organization_id: uuid.UUID, ident: uuid.UUID, *, for_update: bool = False
) -> WebhookEndpoint | None:
    return await get_scoped(session, WebhookEndpoint, organization_id, ident, for_update=for_update)


async def list_endpoints(
    session: AsyncSession, organization_id: uuid.UUID, page: PageRequest, disabled: bool | None
) -> list[WebhookEndpoint]:
    filters = [] if disabled is None else [WebhookEndpoint.disabled.is_(disabled)]
    return await list_scoped(session, WebhookEndpoint, organization_id, page, filters)


async def add_endpoint(session: AsyncSession, endpoint: WebhookEndpoint, secret: str) -> None:
    session.add(endpoint)
    await session.flush()
    session.add(WebhookSecret(endpoint_id=endpoint.id, secret=secret))
    await session.flush()


async def rotate_secret(
    session: AsyncSession, endpoint_id: uuid.UUID, new_secret: str, old_expires_at: datetime
) -> None:
    """The new key is current now; the old ones sign until ``old_expires_at`` at the latest."""
    await session.execute(
        update(WebhookSecret)
        .where(
            WebhookSecret.endpoint_id == endpoint_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > old_expires_at),
        )
        .values(expires_at=old_expires_at)
    )
    await session.execute(
        delete(WebhookSecret).where(
            WebhookSecret.endpoint_id == endpoint_id, WebhookSecret.expires_at <= func.now()
        )
    )
    keep = (
        select(WebhookSecret.id)
        .where(WebhookSecret.endpoint_id == endpoint_id)
        .order_by(WebhookSecret.created_at.desc())
        .limit(MAX_OLD_SECRETS)
    )
    await session.execute(
        delete(WebhookSecret).where(
            WebhookSecret.endpoint_id == endpoint_id, WebhookSecret.id.not_in(keep)
        )
    )
    session.add(WebhookSecret(endpoint_id=endpoint_id, secret=new_secret))
    await session.flush()


async def signing_secrets(session: AsyncSession, endpoint_id: uuid.UUID) -> list[str]:
    """Every key that signs now, newest first."""
    rows = await session.scalars(
        select(WebhookSecret.secret)
        .where(
            WebhookSecret.endpoint_id == endpoint_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > func.now()),
        )
        .order_by(WebhookSecret.created_at.desc())
    )
    return list(rows)


async def cancel_queued(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookMessage)
        .where(
            WebhookMessage.endpoint_id == endpoint_id,
            WebhookMessage.status.in_(("pending", "retrying")),
        )
        .values(status="canceled", updated_at=func.now())
    )


RECOVERABLE = ("failed", "canceled")
"""Messages that ended without a delivery: recover queues them again."""

REPLAY_MISSING = text("""
INSERT INTO webhook_messages (organization_id, event_id, endpoint_id, trigger)
SELECT ev.organization_id, ev.id, e.id, 'recover'
FROM webhook_endpoints e
JOIN events ev ON ev.organization_id = e.organization_id
WHERE e.id = :endpoint_id
  AND ev.created_at >= greatest(:since, e.created_at)
  AND (CAST(:until AS timestamptz) IS NULL OR ev.created_at < :until)
  AND ev.suppressed_reason IS NULL
  AND (ev.endpoint_id IS NULL OR ev.endpoint_id = e.id)
  -- Its own disabling is news for the other endpoints (the fan-out skipped it, as it was
  -- disabled by then), not for itself.
  AND NOT (ev.type = 'webhook_endpoint.disabled'
           AND convert_from(ev.body, 'UTF8')::jsonb #>> '{data,endpoint_id}' = e.id::text)
  -- The events_fan_out trigger's subscription rule (migration 0004), for the endpoint's
  -- event types as they are now.
  AND (
    ev.endpoint_id IS NOT NULL
    OR cardinality(e.event_types) = 0
    OR EXISTS (
      SELECT 1 FROM unnest(e.event_types) AS pattern
      WHERE pattern = ev.type
         OR pattern = '*'
         OR (right(pattern, 2) = '.*'
             AND left(ev.type, length(pattern) - 1) = left(pattern, length(pattern) - 1))
    )
  )
  AND NOT EXISTS (SELECT 1 FROM webhook_messages m
                  WHERE m.event_id = ev.id AND m.endpoint_id = e.id)
ORDER BY ev.created_at, ev.id
LIMIT :limit
ON CONFLICT (event_id, endpoint_id) DO NOTHING
RETURNING id
""").bindparams(
    bindparam("since", type_=DateTime(timezone=True)),
    bindparam("until", type_=DateTime(timezone=True)),
)
"""Queues the events of the window that the endpoint subscribes to but never had a message
for (emitted while it was disabled), since it was created: "replay missing" (§4.7)."""


async def requeue_undelivered(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
    limit: int,
) -> int:
    """Failed and canceled messages of the window become due now with a fresh retry
    schedule."""
    window = [
        WebhookMessage.endpoint_id == endpoint_id,
        WebhookMessage.status.in_(RECOVERABLE),
        WebhookMessage.created_at >= since,
    ]
    if until is not None:
        window.append(WebhookMessage.created_at < until)
    chosen = (
        select(WebhookMessage.id).where(*window).order_by(WebhookMessage.created_at).limit(limit)
    )
    result = await session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id.in_(chosen), WebhookMessage.status.in_(RECOVERABLE))
        .values(
            status="pending",
            trigger="recover",
            retry_index=0,
            next_attempt_at=func.now(),
            updated_at=func.now(),
        )
        .returning(WebhookMessage.id)
    )
    count = len(result.all())
    if count:
        await session.execute(NOTIFY)
    return count


async def queue_missing(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
    limit: int,
) -> int:
    """Messages, due now, for the window's events that never had one for this endpoint."""
    params = {"endpoint_id": endpoint_id, "since": since, "until": until, "limit": limit}
    count = len((await session.execute(REPLAY_MISSING, params)).all())
    if count:
        await session.execute(NOTIFY)
    return count


async def list_attempts(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID, page: PageRequest
) -> list[WebhookAttempt]:
    """Newest first: the log is read to see what just happened."""
    stmt = select(WebhookAttempt).where(
        WebhookAttempt.organization_id == organization_id,
        WebhookAttempt.endpoint_id == endpoint_id,
    )
    if page.cursor:
        moment, ident = decode_cursor(page.cursor)
        stmt = stmt.where(
            or_(
                WebhookAttempt.started_at < moment,
                and_(WebhookAttempt.started_at == moment, WebhookAttempt.id < ident),
            )
        )
    stmt = stmt.order_by(WebhookAttempt.started_at.desc(), WebhookAttempt.id.desc())
    return list((await session.scalars(stmt.limit(page.limit + 1))).all())
