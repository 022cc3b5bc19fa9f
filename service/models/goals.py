"""Objectives, their key results and the check-ins that move them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, TenantMixin, VersionedMixin


class Objective(TenantMixin, VersionedMixin, Base):
    __tablename__ = "objectives"
    __table_args__ = (
        Index("ix_objectives_org_cycle", "organization_id", "cycle_id"),
        # Trees follow children only below objectives that roll them up: a small set.
        Index("ix_objectives_rolls_up", "id", postgresql_where=text("rollup <> 'key_results'")),
        # Trees read every node by id: two buffer reads through a hash index, four through
        # the primary key's B-tree (migration 0019).
        Index("ix_objectives_id_hash", "id", postgresql_using="hash"),
    )

    cycle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(10_000))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Where progress comes from: ``key_results``, ``children`` (contributing children) or both.
    rollup: Mapped[str] = mapped_column(
        String(16), default="key_results", server_default="key_results"
    )
    outcome: Mapped[str | None] = mapped_column(String(16))
    final_score: Mapped[float | None] = mapped_column(Float)
    # Denormalised so lists, filters and (later) roll-ups in SQL need no recomputation.
    progress_value: Mapped[float] = mapped_column(Float, default=0.0)
    progress_raw: Mapped[float] = mapped_column(Float, default=0.0)
    last_check_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # sum(weight) of its key results, kept by triggers on key_results (migration 0009) in the
    # transaction of every write; trees read it with the row. Never written from Python.
    kr_weight: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class KeyResult(TenantMixin, VersionedMixin, Base):
    __tablename__ = "key_results"

    objective_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("objectives.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(10_000))
    type: Mapped[str] = mapped_column(String(16))
    start: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)
    inclusive: Mapped[bool] = mapped_column(Boolean, default=True)
    unit: Mapped[str] = mapped_column(String(16), default="number")
    currency: Mapped[str | None] = mapped_column(String(3))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    # When set, every reading of this KPI becomes a check-in (source ``kpi``).
    kpi_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("kpis.id", ondelete="SET NULL"), index=True
    )
    current: Mapped[float | None] = mapped_column(Float)
    progress_value: Mapped[float] = mapped_column(Float, default=0.0)
    progress_raw: Mapped[float] = mapped_column(Float, default=0.0)
    last_check_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CheckIn(TenantMixin, Base):
    """One observation of a key result; append-only."""

    __tablename__ = "check_ins"
    __table_args__ = (Index("ix_check_ins_kr_observed", "key_result_id", "observed_at"),)

    key_result_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("key_results.id", ondelete="CASCADE")
    )
    value: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(10_000))
    source: Mapped[str] = mapped_column(String(16), default="api")
    author: Mapped[str | None] = mapped_column(String(200))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value_before: Mapped[float | None] = mapped_column(Float)
    progress_before: Mapped[float] = mapped_column(Float)
