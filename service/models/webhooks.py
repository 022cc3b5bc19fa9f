"""Webhook endpoints, their signing secrets, the per-endpoint delivery queue and its log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, TenantMixin, VersionedMixin, utcnow


class WebhookEndpoint(TenantMixin, VersionedMixin, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(1000))
    # Exact names or prefixes such as ``kpi.*``; empty means every event type.
    event_types: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), default=list, server_default=text("'{}'")
    )
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(32))
    # Start of the current run of failures; any 2xx clears it (auto-disable clock).
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Delivery limits, enforced by the dispatchers' claim (webhooks/queue_repository.py):
    # messages being sent at once, and messages a second (None: no rate limit).
    max_in_flight: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    throttle_rate: Mapped[int | None] = mapped_column(Integer)
    # The rate's token bucket, kept by the claim alone (never written through the ORM).
    throttle_tokens: Mapped[float | None] = mapped_column(Float)
    throttle_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookSecret(Base):
    """A signing key. The current key has no ``expires_at``; rotated-out keys sign until then."""

    __tablename__ = "webhook_secrets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    # Sealed (service/webhooks/secret_box.py), never the plain secret.
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookMessage(Base):
    """One event owed to one endpoint: the unit the dispatcher claims, sends and retries.

    Rows are created by the ``events_fan_out`` trigger in the event's own transaction.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index(
            "ix_webhook_messages_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'retrying')"),
        ),
        Index("ix_webhook_messages_endpoint_created", "endpoint_id", "created_at"),
        Index(
            "ix_webhook_messages_sending",
            "endpoint_id",
            postgresql_where=text("status = 'sending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    # pending -> sending -> succeeded | retrying | failed; canceled when its endpoint stops.
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    # scheduled (fan-out), manual (redeliver: one attempt, no retries) or recover.
    trigger: Mapped[str] = mapped_column(
        String(16), default="scheduled", server_default="scheduled"
    )
    attempt_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Position in the retry schedule of the current round; redelivering or recovering a
    # finished message starts a new round (a message still retrying keeps its place).
    retry_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )


class WebhookAttempt(Base):
    """The log of every request we made, successful or not."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_endpoint_started", "endpoint_id", "started_at", "id"),
        Index("ix_webhook_attempts_message", "message_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_messages.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    attempt_number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    # timeout | connect | tls | dns | ssrf_blocked | http_status | redirect | None on success
    error_class: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))  # succeeded | retrying | failed
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
