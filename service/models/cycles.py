from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, TenantMixin, VersionedMixin


class Cycle(TenantMixin, VersionedMixin, Base):
    """A named period (``2026-Q1``) that objectives belong to."""

    __tablename__ = "cycles"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
    )

    name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="planning")
