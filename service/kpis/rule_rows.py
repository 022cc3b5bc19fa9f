"""Plain rows for evaluation: an alert rule (with what events say about its KPI) and the
state of its series.

Evaluation runs on every ingest batch for every touched rule, so it reads and writes these
through asyncpg (``rules_repository``) instead of ORM instances: building and flushing a
hundred mapped objects per batch cost more than the SQL itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from service.kpis.evaluation import SeriesState, State
from service.kpis.thresholds import Severity
from service.models import AlertRule, AlertState, Kpi


@dataclass(frozen=True, slots=True)
class RuleRow:
    """An enabled alert rule; field order is the column order of ``RULE_ROW_SQL``."""

    id: uuid.UUID
    organization_id: uuid.UUID
    kpi_id: uuid.UUID
    version: int
    operator: str
    warning: Any
    critical: Any
    warning_recovery: Any
    critical_recovery: Any
    aggregation: str
    window: timedelta
    min_samples: int
    pending_for: timedelta
    keep_firing_for: timedelta
    no_data_after: timedelta | None
    on_no_data: str
    renotify_interval: timedelta | None
    muted_until: datetime | None
    labels: dict[str, str] | None
    annotations: dict[str, str] | None
    kpi_key: str
    kpi_name: str
    kpi_unit: str


@dataclass(slots=True)
class StateRow:
    """One series' state, locked for this transaction; field order is ``STATE_ROW_SQL``'s."""

    fingerprint: str
    rule_id: uuid.UUID
    state: str
    severity: str | None
    alert_id: str | None
    since: datetime
    pending_since: datetime | None
    recovering_since: datetime | None
    started_at: datetime | None
    last_eval_at: datetime | None
    last_value: float | None
    last_notified_at: datetime | None
    renotify_count: int
    sequence: int
    # The running aggregate of the window (``kpis/running.py``).
    agg_at: datetime | None = None
    agg_since: datetime | None = None
    agg_window: timedelta | None = None
    agg_version: int | None = None
    agg_samples: int | None = None
    agg_sum: float | None = None
    agg_min: float | None = None
    agg_max: float | None = None
    rule_version: int = 1  # the rule's version when the series last restarted (read only)


STATE_COLUMNS = """fingerprint, rule_id, state, severity, alert_id, since, pending_since,
recovering_since, started_at, last_eval_at, last_value, last_notified_at, renotify_count,
sequence, agg_at, agg_since, agg_window, agg_version, agg_samples, agg_sum, agg_min, agg_max,
rule_version"""
"""The columns of ``StateRow``, in its field order."""

_RULE_FIELDS = [f.name for f in fields(RuleRow) if not f.name.startswith("kpi_")] + ["kpi_id"]
_STATE_FIELDS = [f.name for f in fields(StateRow)]


def rule_row_of(rule: AlertRule, kpi: Kpi) -> RuleRow:
    """The same view of a mapped rule, for the CRUD paths that already hold one."""
    values = {name: getattr(rule, name) for name in _RULE_FIELDS}
    return RuleRow(**values, kpi_key=kpi.key, kpi_name=kpi.name, kpi_unit=kpi.unit)


def state_row_of(state: AlertState) -> StateRow:
    return StateRow(**{name: getattr(state, name) for name in _STATE_FIELDS})


def series_of(row: StateRow) -> SeriesState:
    """The pure state machine's view of a series row."""
    return SeriesState(
        state=State(row.state),
        severity=Severity(row.severity) if row.severity else None,
        alert_id=row.alert_id,
        since=row.since,
        pending_since=row.pending_since,
        recovering_since=row.recovering_since,
        started_at=row.started_at,
        last_notified_at=row.last_notified_at,
        renotify_count=row.renotify_count,
    )
