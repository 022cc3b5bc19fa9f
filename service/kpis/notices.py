"""What an alert series tells consumers: its events in the outbox, with their payload,
dedup key and what a silence does to them (spec §2.6.7, §2.6.9, §2.6.12, §4.3).

A silence (``muted_until``) keeps a rule's notices from consumers; the events are still
written, marked ``suppressed_reason = "silence"``. It never leaves an incident open: the end
of an episode a consumer was told of goes out muted or not, and once the silence is over
the current state of an open episode whose latest notice it suppressed is told again
(``unmuted``), at the series' next evaluation or at once when an edit ends the silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.events.outbox import record_event
from service.kpis import events_repository
from service.kpis.durations import format_duration
from service.kpis.evaluation import Emitted, State, unmuted
from service.kpis.rule_rows import RuleRow, StateRow, series_of
from service.kpis.thresholds import Severity, threshold_json

THRESHOLD_FIELDS = ("warning", "critical", "warning_recovery", "critical_recovery")


def silence_ended(
    muted_until_then: datetime | None,
    last_eval_at: datetime | None,
    muted_until_now: datetime | None,
    now: datetime,
) -> bool:
    """A silence covered the series' last evaluation (``muted_until_then``, as the rule was)
    and none covers it now: what that evaluation (or one before it) emitted may have been
    suppressed. The same whether the silence ran out or a PATCH ended it."""
    was_muted = (
        muted_until_then is not None
        and last_eval_at is not None
        and last_eval_at < muted_until_then
    )
    return was_muted and (muted_until_now is None or muted_until_now <= now)


async def tell_unmuted(
    session: AsyncSession, series: Sequence[tuple[RuleRow, StateRow]], now: datetime
) -> int:
    """For series in an open episode whose silence has ended: the current state again
    (``unmuted``) where its latest notice was suppressed, so a consumer learns of a breach
    that began, or escalated, while muted. One statement for all of them; returns events
    written. The rows must be locked, and are updated (the caller saves them)."""
    untold = await events_repository.last_notice_suppressed(
        session, [(rule.organization_id, row.fingerprint) for rule, row in series]
    )
    told = 0
    for rule, row in series:
        if row.fingerprint not in untold:
            continue
        outcome = unmuted(series_of(row), now)
        row.last_notified_at = outcome.state.last_notified_at
        for emitted_event in outcome.events:
            await emit(session, rule, row, emitted_event, now, row.last_value, 0)
        told += len(outcome.events)
    return told


async def emit_reset(
    session: AsyncSession, rule: RuleRow, row: StateRow, reason: str, now: datetime
) -> None:
    """``kpi.recovered`` for a series a rule change puts back to ok."""
    severity = Severity(row.severity) if row.severity else None
    emitted = Emitted("kpi.recovered", reason, State(row.state), State.OK, severity, row.alert_id)
    await emit(session, rule, row, emitted, now, row.last_value, 0)


async def emit(
    session: AsyncSession,
    rule: RuleRow,
    row: StateRow,
    emitted: Emitted,
    now: datetime,
    value: float | None,
    samples: int,
) -> None:
    """Record one transition of the series in the outbox; moves ``row.sequence`` by one."""
    row.sequence += 1
    muted = await _silenced(session, rule, row, emitted, now)
    data = _payload(rule, row, emitted, now, value, samples)
    if muted:
        data["suppressed_reason"] = "silence"
    await record_event(
        session,
        rule.organization_id,
        emitted.type,
        now,
        data,
        fingerprint=row.fingerprint,
        sequence=row.sequence,
        suppressed_reason="silence" if muted else None,
        kpi_id=rule.kpi_id,
    )


async def _silenced(
    session: AsyncSession, rule: RuleRow, row: StateRow, emitted: Emitted, now: datetime
) -> bool:
    """Whether a silence keeps this event from consumers. Not the end of an episode a
    consumer was told of: its incident would stay open for good (spec §2.6.12 silences
    notifications, it does not leave them half-told)."""
    if rule.muted_until is None or rule.muted_until <= now:
        return False
    if emitted.type not in ENDS or emitted.alert_id is None:
        return True
    told = await events_repository.episode_was_told(
        session, rule.organization_id, row.fingerprint, emitted.alert_id
    )
    return not told


ENDS = ("kpi.recovered", "kpi.data_resumed")
"""The events that close an episode (a breach's, a no-data one's)."""
NO_DATA_KEY = ":no_data"


def dedup_key(fingerprint: str, emitted: Emitted) -> str:
    """A breach's key is the series' fingerprint; a no-data episode's is its own (spec
    §2.6.7 and §4.9, Grafana's separate DatasourceNoData), from ``kpi.no_data`` to what
    ends it, so a consumer never merges or resolves one incident with the other's events."""
    if State.NO_DATA in (emitted.state, emitted.previous_state):
        return fingerprint + NO_DATA_KEY
    return fingerprint


def _payload(
    rule: RuleRow,
    row: StateRow,
    emitted: Emitted,
    now: datetime,
    value: float | None,
    samples: int,
) -> dict[str, Any]:
    threshold = getattr(rule, emitted.severity.value) if emitted.severity else None
    summary = rule.annotations.get("summary") if rule.annotations else None
    annotations = dict(rule.annotations or {})
    annotations.setdefault(
        "summary",
        summary or f"{rule.kpi_name}: {emitted.type.split('.')[1].replace('_', ' ')}",
    )
    return {
        "alert_id": emitted.alert_id,
        "fingerprint": row.fingerprint,
        "dedup_key": dedup_key(row.fingerprint, emitted),
        "sequence": row.sequence,
        "notification_reason": emitted.reason,
        "state": emitted.state.value,
        "previous_state": emitted.previous_state.value,
        "severity": emitted.severity.value if emitted.severity else None,
        "kpi": {
            "id": str(rule.kpi_id),
            "key": rule.kpi_key,
            "name": rule.kpi_name,
            "unit": rule.kpi_unit,
        },
        "rule": {
            "id": str(rule.id),
            "version": rule.version,
            "operator": rule.operator,
            "aggregation": rule.aggregation,
            "window": format_duration(rule.window),
            "pending_for": format_duration(rule.pending_for),
            "keep_firing_for": format_duration(rule.keep_firing_for),
            "thresholds": {name: threshold_json(getattr(rule, name)) for name in THRESHOLD_FIELDS},
        },
        "evaluation": {
            "value": value,
            "threshold": threshold,
            "window_start": now - rule.window,
            "window_end": now,
            "samples": samples,
            "evaluated_at": now,
        },
        "started_at": row.started_at,
        "labels": dict(rule.labels or {}),
        "annotations": {k: v[:1024] for k, v in annotations.items()},
    }
