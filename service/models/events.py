from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class Event(Base):
    """The outbox: one row per thing that happened, written in the same transaction.

    ``body`` holds the exact JSON bytes delivered and is never rewritten.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("fingerprint", "sequence"),
        Index("ix_events_org_created", "organization_id", "created_at", "id"),
        Index("ix_events_org_type_created", "organization_id", "type", "created_at"),
        # A KPI's alert history, rules since deleted included (migration 0021).
        Index(
            "ix_events_org_kpi_created",
            "organization_id",
            "kpi_id",
            "created_at",
            "id",
            postgresql_where=text("kpi_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    # Set when a muted rule transitions: the event is kept but not delivered.
    suppressed_reason: Mapped[str | None] = mapped_column(String(32))
    # The KPI an alert series' event is about; no foreign key: the history outlives the KPI.
    kpi_id: Mapped[uuid.UUID | None] = mapped_column()
    # Set for events addressed to one endpoint only (``webhook.test``).
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
