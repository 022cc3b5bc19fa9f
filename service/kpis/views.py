"""Rows to REST representations for KPIs, rules and alerts."""

from __future__ import annotations

import json
from typing import Any

from service.kpis.rule_schemas import AlertEventRead, AlertRead, AlertRuleRead
from service.kpis.schemas import KpiRead, LatestReading
from service.kpis.service import health_of
from service.models import AlertRule, AlertState, Event, Kpi


def kpi_read(kpi: Kpi) -> KpiRead:
    latest = None
    if kpi.latest_value is not None and kpi.latest_observed_at is not None:
        latest = LatestReading(value=kpi.latest_value, observed_at=kpi.latest_observed_at)
    fields: dict[str, Any] = {
        name: getattr(kpi, name)
        for name in KpiRead.model_fields
        if name not in ("health", "latest")
    }
    return KpiRead(**fields, health=health_of(kpi), latest=latest)


def rule_read(rule: AlertRule) -> AlertRuleRead:
    return AlertRuleRead.model_validate(rule)


def alert_read(state: AlertState) -> AlertRead:
    return AlertRead.model_validate(state)


def event_read(event: Event) -> AlertEventRead:
    return AlertEventRead(
        id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        fingerprint=event.fingerprint,
        sequence=event.sequence,
        suppressed_reason=event.suppressed_reason,
        body=json.loads(event.body),
    )
