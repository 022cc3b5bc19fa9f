from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class Organization(Base):
    """A tenant. Every other row belongs to exactly one."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    # What happens to what a deactivated person owns: ``flag`` or ``reassign_to_manager``.
    orphan_policy: Mapped[str] = mapped_column(String(32), default="flag", server_default="flag")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
