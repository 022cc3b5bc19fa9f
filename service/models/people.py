from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, TenantMixin, VersionedMixin


class Person(TenantMixin, VersionedMixin, Base):
    """An owner of goals and KPIs. Never deleted: deactivated people keep their history."""

    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        Index(
            "uq_people_organization_id_user_name",
            "organization_id",
            text("lower(user_name)"),
            unique=True,
        ),
    )

    external_id: Mapped[str | None] = mapped_column(String(200))
    user_name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    title: Mapped[str | None] = mapped_column(String(200))
    manager_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    employee_number: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    # SCIM attributes we keep but do not model (``name``, every e-mail, phone numbers, ...),
    # stored as the identity provider sent them.
    scim_attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # Set when an identity provider DELETEs the user: SCIM no longer shows them, but the
    # person stays (inactive) with their history; provisioning the same userName revives them.
    deprovisioned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Team(TenantMixin, VersionedMixin, Base):
    """A group of people; teams nest through ``parent_id``."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organization_id", "external_id"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(10_000))
    external_id: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), index=True
    )


class TeamMember(Base):
    __tablename__ = "team_members"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
