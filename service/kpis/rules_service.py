"""Alert rules: CRUD, the default rule that follows a KPI's target, and alert queries."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, decode_keyset, encode_keyset
from service.errors import NotFound, ValidationFailed, refuse_nulls
from service.kpis import events_repository, rules_repository
from service.kpis.evaluation import OPEN, State
from service.kpis.notices import emit_reset, silence_ended, tell_unmuted
from service.kpis.rule_rows import rule_row_of, state_row_of
from service.kpis.rule_schemas import AlertRuleCreate, AlertRuleUpdate
from service.kpis.schemas import Direction
from service.kpis.service import find_kpi
from service.kpis.thresholds import build_thresholds
from service.models import AlertRule, AlertState, Event, Kpi
from service.models.base import utcnow

THRESHOLD_FIELDS = ("warning", "critical", "warning_recovery", "critical_recovery")
# What a rule always has: an update's null for one of these is a 422 (`x cannot be null`),
# REST's PATCH and GraphQL's updateAlertRule alike, never a stored null. Labels and
# annotations included: JSON null would pass the column's NOT NULL as JSONB `null`, and an
# empty map is sent as `{}`. The other fields take null to mean their default (none).
NOT_NULL = (
    "name",
    "enabled",
    "operator",
    "aggregation",
    "window",
    "min_samples",
    "pending_for",
    "keep_firing_for",
    "on_no_data",
    "max_lateness",
    "labels",
    "annotations",
)
# What a silence changes: when its notices go out, not how its series is judged.
SILENCE_FIELDS = {"muted_until"}
# The default rule judges the latest value: a long window and no no-data alerts. A rule a
# promoted key result needs instead (a strict bound, a range) is made the same way.
DEFAULT_WINDOW = timedelta(days=30)
TARGET_RULE: dict[str, Any] = {
    "name": "target",
    "aggregation": "last",
    "window": DEFAULT_WINDOW,
    "on_no_data": "keep_last_state",
}


def fingerprint_of(organization_id: uuid.UUID, rule: AlertRule) -> str:
    """Stable for the life of the series: tenant, rule, KPI and sorted labels."""
    labels = json.dumps(rule.labels or {}, sort_keys=True)
    raw = f"{organization_id}|{rule.id}|{rule.kpi_id}|{labels}"
    return "fp_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


async def list_rules(session: AsyncSession, principal: Principal, ref: str) -> list[AlertRule]:
    require(principal, Scope.READ)
    kpi = await find_kpi(session, principal, ref)
    return await rules_repository.rules_of_kpi(session, principal.organization_id, kpi.id)


async def get_rule(
    session: AsyncSession, principal: Principal, ref: str, rule_id: uuid.UUID
) -> AlertRule:
    require(principal, Scope.READ)
    kpi = await find_kpi(session, principal, ref)
    return await _rule(session, principal, kpi, rule_id)


async def create_rule(
    session: AsyncSession, principal: Principal, ref: str, data: AlertRuleCreate
) -> AlertRule:
    require(principal, Scope.WRITE)
    kpi = await find_kpi(session, principal, ref, for_update=True)
    values = data.model_dump(mode="python")
    _check_thresholds(values)
    rule = AlertRule(organization_id=kpi.organization_id, kpi_id=kpi.id, **values)
    await _add_rule(session, rule)
    await _drop_default_rules(session, kpi)
    return rule


async def update_rule(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    rule_id: uuid.UUID,
    data: AlertRuleUpdate,
    if_match: str | None,
) -> AlertRule:
    """An edit bumps the rule's version and restarts its series from ok (as Grafana does).

    Omitted fields stay; null resets a nullable field (``no_data_after``, thresholds, ...)
    and is refused for the ``NOT_NULL`` ones: labels are cleared with ``{}``, not null.
    Changing only ``muted_until`` is no edit of how the series is judged: the version moves
    (If-Match), the series goes on as it was (``_follow_silence``)."""
    require(principal, Scope.WRITE)
    kpi = await find_kpi(session, principal, ref)
    rule = await _rule(session, principal, kpi, rule_id)
    check_if_match(if_match, rule)
    changes = data.model_dump(exclude_unset=True, mode="python")
    refuse_nulls(changes, NOT_NULL)
    merged = {name: getattr(rule, name) for name in ("operator", *THRESHOLD_FIELDS)} | changes
    _check_thresholds(merged)
    was_muted_until = rule.muted_until
    for name, value in changes.items():
        setattr(rule, name, value)
    if changes.keys() <= SILENCE_FIELDS:
        await session.flush()
        await _follow_silence(session, kpi, rule, was_muted_until)
        return rule
    rule.is_default = False
    await session.flush()
    await reset_series(session, kpi, rule, "rule_changed")
    return rule


async def _follow_silence(
    session: AsyncSession, kpi: Kpi, rule: AlertRule, was_muted_until: datetime | None
) -> None:
    """The series keeps its state; it records the rule's new version without restarting,
    so evaluators do not take the change for an edit (they read the rule again, with its
    new silence). A silence this change ends tells what it kept from consumers now."""
    state = await rules_repository.lock_state(session, rule.id)
    if state is None:
        return
    state.rule_version = rule.version
    now = utcnow()
    ended = silence_ended(was_muted_until, state.last_eval_at, rule.muted_until, now)
    if ended and state.state in OPEN:
        row = state_row_of(state)
        await tell_unmuted(session, [(rule_row_of(rule, kpi), row)], now)
        state.sequence, state.last_notified_at = row.sequence, row.last_notified_at
    await session.flush()


async def delete_rule(
    session: AsyncSession, principal: Principal, ref: str, rule_id: uuid.UUID
) -> None:
    require(principal, Scope.WRITE)
    kpi = await find_kpi(session, principal, ref)
    rule = await _rule(session, principal, kpi, rule_id)
    await reset_series(session, kpi, rule, "rule_changed")
    await session.delete(rule)
    await session.flush()


async def ensure_default_rule(session: AsyncSession, kpi: Kpi) -> None:
    """A KPI with a target and no rule of its own gets one: breach on the wrong side."""
    rules = await rules_repository.rules_of_kpi(session, kpi.organization_id, kpi.id)
    custom = [r for r in rules if not r.is_default]
    defaults = [r for r in rules if r.is_default]
    if custom or kpi.target is None:
        await _drop_default_rules(session, kpi)
        return
    operator = "lt" if kpi.direction == Direction.HIGHER_IS_BETTER else "gt"
    if defaults:
        rule = defaults[0]
        if (rule.operator, rule.critical) != (operator, kpi.target):
            rule.operator, rule.critical = operator, kpi.target
            await session.flush()
            await reset_series(session, kpi, rule, "rule_changed")
        return
    rule = AlertRule(
        organization_id=kpi.organization_id,
        kpi_id=kpi.id,
        **TARGET_RULE,
        is_default=True,
        operator=operator,
        critical=kpi.target,
        labels={},
        annotations={"summary": f"{kpi.name} is on the wrong side of its target"},
    )
    await _add_rule(session, rule)


async def reset_series(session: AsyncSession, kpi: Kpi, rule: AlertRule, reason: str) -> None:
    """Back to ok; a firing series says so with ``kpi.recovered`` (``rule_changed``)."""
    state = await rules_repository.lock_state(session, rule.id)
    if state is None:
        return
    if state.state in OPEN:
        row = state_row_of(state)
        await emit_reset(session, rule_row_of(rule, kpi), row, reason, utcnow())
        state.sequence = row.sequence
    state.state, state.severity, state.alert_id = State.OK, None, None
    state.pending_since = state.recovering_since = state.started_at = None
    state.renotify_count = 0
    state.rule_version = rule.version
    state.since = utcnow()
    await session.flush()


async def reset_all_series(session: AsyncSession, kpi: Kpi, reason: str) -> None:
    """``reset_series`` for every rule of the KPI: each rule locked, then its series, in
    rule-id order. Rule edits lock a rule before its series, and evaluators lock series in
    rule-id order: a series locked before its rule deadlocked with a concurrent edit."""
    rules = await rules_repository.rules_of_kpi(session, kpi.organization_id, kpi.id)
    for rule in sorted(rules, key=lambda r: r.id):
        locked = await rules_repository.get_rule(session, kpi.organization_id, kpi.id, rule.id)
        if locked is not None:
            await reset_series(session, kpi, locked, reason)


async def list_alerts(
    session: AsyncSession, principal: Principal, state: State | None, page: PageRequest
) -> tuple[list[AlertState], str | None]:
    require(principal, Scope.READ)
    rows = await rules_repository.list_states(session, principal.organization_id, state, page)
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, rows[-1].fingerprint


async def alert_history(
    session: AsyncSession, principal: Principal, ref: str, page: PageRequest
) -> tuple[list[Event], str | None]:
    require(principal, Scope.READ)
    kpi = await find_kpi(session, principal, ref)
    before = decode_keyset(page.cursor) if page.cursor else None
    rows = await events_repository.history(
        session, principal.organization_id, kpi.id, before, page.limit + 1
    )
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_keyset(rows[-1].created_at, rows[-1].id)


async def _add_rule(session: AsyncSession, rule: AlertRule) -> None:
    session.add(rule)
    await session.flush()
    session.add(
        AlertState(
            fingerprint=fingerprint_of(rule.organization_id, rule),
            organization_id=rule.organization_id,
            rule_id=rule.id,
            kpi_id=rule.kpi_id,
            state=State.OK,
            since=utcnow(),
            rule_version=rule.version,
        )
    )
    await session.flush()


async def _drop_default_rules(session: AsyncSession, kpi: Kpi) -> None:
    for rule in await rules_repository.rules_of_kpi(session, kpi.organization_id, kpi.id):
        if rule.is_default:
            await reset_series(session, kpi, rule, "rule_changed")
            await session.delete(rule)
    await session.flush()


async def _rule(
    session: AsyncSession, principal: Principal, kpi: Kpi, rule_id: uuid.UUID
) -> AlertRule:
    rule = await rules_repository.get_rule(session, principal.organization_id, kpi.id, rule_id)
    if rule is None:
        raise NotFound.of("Alert rule", rule_id)
    return rule


def _check_thresholds(values: dict[str, Any]) -> None:
    try:
        build_thresholds(values["operator"], {k: values.get(k) for k in THRESHOLD_FIELDS})
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[{"loc": ["body"], "msg": str(exc)}]) from exc
