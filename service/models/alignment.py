"""Alignment: weighted links between objectives (a DAG) and KPIs linked to objectives."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, TenantMixin


class ObjectiveLink(TenantMixin, Base):
    """``child`` aligns to ``parent``. ``contributes`` links count in roll-ups with
    ``weight``; ``supports`` links are shown in trees but do not count."""

    __tablename__ = "objective_links"
    __table_args__ = (
        UniqueConstraint("child_id", "parent_id"),
        # Covering: the tree walk and each node's child links read the index alone.
        Index(
            "ix_objective_links_parent_covering",
            "parent_id",
            postgresql_include=["child_id", "weight", "kind", "organization_id"],
        ),
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("child_id <> parent_id", name="not_self"),
        CheckConstraint("kind IN ('contributes', 'supports')", name="kind_known"),
    )

    child_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("objectives.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("objectives.id", ondelete="CASCADE"))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    kind: Mapped[str] = mapped_column(String(16), default="contributes")


class ObjectiveKpi(TenantMixin, Base):
    """A KPI an objective stands on: its alert state shows in the objective's health."""

    __tablename__ = "objective_kpis"
    __table_args__ = (UniqueConstraint("objective_id", "kpi_id"),)

    objective_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("objectives.id", ondelete="CASCADE"))
    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
