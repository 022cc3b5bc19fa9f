"""KPIs, their readings, alert rules and the per-series alert state."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Interval,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, column_property, mapped_column

from service.models.base import Base, TenantMixin, VersionedMixin


class Kpi(TenantMixin, VersionedMixin, Base):
    __tablename__ = "kpis"
    __table_args__ = (
        UniqueConstraint("organization_id", "key"),
        # The target of readings' one foreign key (their KPI and its organization at once).
        UniqueConstraint("id", "organization_id"),
    )

    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(10_000))
    unit: Mapped[str] = mapped_column(String(32), default="number")
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[str] = mapped_column(String(20), default="higher_is_better")
    target: Mapped[float | None] = mapped_column(Float)
    # ``latest_value`` and ``latest_observed_at``: read from ``kpi_reading_versions``,
    # mapped below that class.
    if TYPE_CHECKING:
        latest_value: Mapped[float | None]
        latest_observed_at: Mapped[datetime | None]


class Reading(Base):
    """One observation. Range-partitioned by ``observed_at``: every key includes it.

    Rows go in through ``unnest`` in bulk (see ``kpis/readings_repository.py``), not the ORM.
    """

    __tablename__ = "kpi_readings"
    __table_args__ = (
        PrimaryKeyConstraint("kpi_id", "source", "observed_at"),
        Index("ix_kpi_readings_kpi_observed", "kpi_id", "observed_at"),
        # One check per row for both the KPI and the organization (a reading's
        # organization is its KPI's); deleting either cascades.
        ForeignKeyConstraint(
            ["kpi_id", "organization_id"], ["kpis.id", "kpis.organization_id"], ondelete="CASCADE"
        ),
        {"postgresql_partition_by": "RANGE (observed_at)"},
    )

    organization_id: Mapped[uuid.UUID] = mapped_column()
    kpi_id: Mapped[uuid.UUID] = mapped_column()
    source: Mapped[str] = mapped_column(String(200))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[float] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class KpiReadingVersion(Base):
    """What every statement that stores readings of a KPI moves, under this row's lock:
    ``readings_version``, one more each time (running window aggregates, ``alert_states.agg_*``,
    know from it whether they have seen every stored reading), and the newest reading.
    ``readings_repository`` is the only writer of readings.

    Its own table, not columns of ``kpis``: every batch moves it, and a new version of the
    KPI row per batch made each reading's foreign-key check walk a longer chain of row
    versions (and the KPI rows bloat until vacuum) while concurrent batches waited.
    """

    __tablename__ = "kpi_reading_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["kpi_id", "organization_id"], ["kpis.id", "kpis.organization_id"], ondelete="CASCADE"
        ),
    )

    kpi_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column()
    readings_version: Mapped[int] = mapped_column(BigInteger)
    latest_value: Mapped[float | None] = mapped_column(Float)
    latest_observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _latest(column: Any) -> Any:
    # Read-only, loaded with the KPI in its own SELECT (a primary-key probe per KPI). Kept
    # through flushes: only readings move it, and a flushed KPI would otherwise have to
    # load it again, which an async session cannot do on attribute access.
    return column_property(
        select(column)
        .where(KpiReadingVersion.kpi_id == Kpi.id)
        .correlate_except(KpiReadingVersion)
        .scalar_subquery(),
        expire_on_flush=False,
    )


Kpi.latest_value = _latest(KpiReadingVersion.latest_value)
Kpi.latest_observed_at = _latest(KpiReadingVersion.latest_observed_at)


class AlertRule(TenantMixin, VersionedMixin, Base):
    __tablename__ = "alert_rules"

    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    operator: Mapped[str] = mapped_column(String(8))
    warning: Mapped[Any] = mapped_column(JSONB, nullable=True)
    critical: Mapped[Any] = mapped_column(JSONB, nullable=True)
    warning_recovery: Mapped[Any] = mapped_column(JSONB, nullable=True)
    critical_recovery: Mapped[Any] = mapped_column(JSONB, nullable=True)
    aggregation: Mapped[str] = mapped_column(String(8), default="last")
    window: Mapped[timedelta] = mapped_column(Interval, default=timedelta(minutes=5))
    min_samples: Mapped[int] = mapped_column(Integer, default=1)
    pending_for: Mapped[timedelta] = mapped_column(Interval, default=timedelta(0))
    keep_firing_for: Mapped[timedelta] = mapped_column(Interval, default=timedelta(0))
    no_data_after: Mapped[timedelta | None] = mapped_column(Interval)
    on_no_data: Mapped[str] = mapped_column(String(16), default="no_data")
    max_lateness: Mapped[timedelta] = mapped_column(Interval, default=timedelta(minutes=15))
    renotify_interval: Mapped[timedelta | None] = mapped_column(Interval)
    muted_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)


class AlertState(Base):
    """The current state of one alert series (one rule on one KPI)."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(80), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), unique=True
    )
    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="ok")
    severity: Mapped[str | None] = mapped_column(String(16))
    alert_id: Mapped[str | None] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recovering_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_eval_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_value: Mapped[float | None] = mapped_column(Float)
    last_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    renotify_count: Mapped[int] = mapped_column(Integer, default=0)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    rule_version: Mapped[int] = mapped_column(Integer, default=1)
    # The running aggregate of the window (``kpis/evaluator.py``): count, sum, min and max
    # of the readings in ``(agg_at - agg_window, agg_at]`` as of the KPI's
    # ``readings_version`` ``agg_version``, last read whole at ``agg_since``. min/max are
    # NULL when unknown (a reading that was the extreme left the window).
    agg_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agg_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agg_window: Mapped[timedelta | None] = mapped_column(Interval)
    agg_version: Mapped[int | None] = mapped_column(BigInteger)
    agg_samples: Mapped[int | None] = mapped_column(BigInteger)
    agg_sum: Mapped[float | None] = mapped_column(Float)
    agg_min: Mapped[float | None] = mapped_column(Float)
    agg_max: Mapped[float | None] = mapped_column(Float)
