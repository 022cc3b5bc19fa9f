from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, TenantMixin


class ApiKey(TenantMixin, Base):
    """A bearer key. Only its SHA-256 is stored; ``prefix`` lets people recognise it."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An ingest key may be limited to these KPIs; null means every KPI of the organization.
    kpi_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid))
