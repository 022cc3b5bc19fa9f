from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, VersionedMixin, utcnow


class Organization(VersionedMixin, Base):
    """A tenant. Every other row belongs to exactly one; its settings are edited with
    ``If-Match`` like any other row."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    # What happens to what a deactivated person owns: ``flag`` or ``reassign_to_manager``.
    orphan_policy: Mapped[str] = mapped_column(String(32), default="flag", server_default="flag")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    # Unlike other tables', organizations are also made outside the service (provisioning
    # SQL), by statements written before the row had a version: the server fills it in.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
