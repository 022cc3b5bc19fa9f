"""Running the pure transition function against the database, under the series row lock.

Ingest and the schedule both come through ``evaluate_rules``: the state rows are locked
(``SELECT ... FOR UPDATE``), the window is read, the transition computed, and the new state
and its events are written in the caller's transaction. Two evaluators racing therefore
serialise on the row and the second sees the first's result: each transition is emitted
once, and ``UNIQUE (fingerprint, sequence)`` on events backs that up.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.common.ids import prefixed
from service.kpis import rules_repository
from service.kpis.evaluation import OPEN, Observation, OnNoData, Policy, SeriesState, evaluate
from service.kpis.notices import THRESHOLD_FIELDS, emit, silence_ended, tell_unmuted
from service.kpis.rule_rows import RuleRow, StateRow, series_of
from service.kpis.rules_repository import WindowAsk
from service.kpis.running import Agg, advance, reusable, split_fresh, value_of
from service.kpis.thresholds import Thresholds, build_thresholds


def thresholds_of(rule: RuleRow) -> Thresholds:
    return build_thresholds(rule.operator, {name: getattr(rule, name) for name in THRESHOLD_FIELDS})


_POLICIES: dict[tuple[Any, ...], Policy] = {}


def policy_of(rule: RuleRow) -> Policy:
    """The rule's policy, built once per distinct content and kept (every batch evaluates
    every rule of its KPIs; a bounded cache, cleared when full)."""
    thresholds = repr([rule.operator, *(getattr(rule, name) for name in THRESHOLD_FIELDS)])
    key = (
        rule.id,
        rule.version,
        thresholds,
        rule.window,
        rule.pending_for,
        rule.keep_firing_for,
        rule.no_data_after,
        rule.on_no_data,
        rule.renotify_interval,
    )
    policy = _POLICIES.get(key)
    if policy is None:
        if len(_POLICIES) >= 10_000:
            _POLICIES.clear()
        policy = _POLICIES[key] = _policy_of(rule)
    return policy


def _policy_of(rule: RuleRow) -> Policy:
    return Policy(
        thresholds=thresholds_of(rule),
        pending_for=rule.pending_for,
        keep_firing_for=rule.keep_firing_for,
        no_data_after=rule.no_data_after or 2 * rule.window,
        on_no_data=OnNoData(rule.on_no_data),
        renotify_interval=rule.renotify_interval,
    )


Fresh = Mapping[uuid.UUID, Sequence[tuple[datetime, float]]]
"""Per KPI, the ``(observed_at, value)`` of readings the caller stored in this transaction,
with one statement (``readings_repository.insert_readings``, or ``insert_only`` then one
``lock_and_move``: one version move per KPI either way)."""


async def evaluate_rules(
    session: AsyncSession,
    rules: Sequence[RuleRow],
    now: datetime,
    *,
    skip_locked: bool = False,
    fresh: Fresh | None = None,
    locked: dict[uuid.UUID, StateRow] | None = None,
) -> int:
    """Evaluate many series at ``now`` with three queries however many there are: lock the
    state rows, read every window, then write them back. Returns events written.

    ``fresh``: what the caller stored; with it, a series' running aggregate moves forward
    by the batch instead of the window being read whole (``kpis/running.py``).
    ``locked``: the state rows, if the caller already locked them (ingest does, with its
    insert). Either way ``rules`` were read before their series were locked (the scheduler
    reads a page of rules, then locks), so a rule edited in between is read again: an edit
    restarts the series with the rule's new version, and evaluating it by the old rule
    would fire by thresholds that no longer exist, or keep firing a rule now disabled."""
    if locked is None:
        rows = await rules_repository.lock_states(
            session, [r.id for r in rules], skip_locked=skip_locked
        )
    else:
        rows = locked
    rules = await _current(session, rules, rows)
    # Decisions never go back in time: a slower evaluator with an older clock is a no-op.
    due = [r for r in rules if r.id in rows and not _from_the_past(rows[r.id], now)]
    fresh = fresh or {}
    seen = await _read_windows(session, due, rows, now, fresh)
    emitted = 0
    unmuted_quietly: list[tuple[RuleRow, StateRow]] = []
    for rule in due:
        row = rows[rule.id]
        value, samples, newest = seen[rule.id]
        policy = policy_of(rule)
        has_data = newest is not None and now - newest <= policy.no_data_after
        enough = value if samples >= rule.min_samples else None
        mute_ended = silence_ended(rule.muted_until, row.last_eval_at, rule.muted_until, now)
        outcome = evaluate(
            policy, series_of(row), Observation(enough, has_data, samples), now, _alert_id
        )
        _store(row, outcome.state, now, value)
        for emitted_event in outcome.events:
            await emit(session, rule, row, emitted_event, now, value, samples)
        emitted += len(outcome.events)
        # An event just emitted went out (the mute is over) and told the state itself.
        if mute_ended and not outcome.events and outcome.state.state in OPEN:
            unmuted_quietly.append((rule, row))
    emitted += await tell_unmuted(session, unmuted_quietly, now)
    await rules_repository.save_states(session, [rows[r.id] for r in due])
    return emitted


async def _current(
    session: AsyncSession, rules: Sequence[RuleRow], rows: Mapping[uuid.UUID, StateRow]
) -> Sequence[RuleRow]:
    """The rules again where one was edited between reading it and locking its series
    (``rules_by_id`` reads enabled rules only: one disabled meanwhile is left out)."""
    edited = {r.id for r in rules if r.id in rows and rows[r.id].rule_version != r.version}
    if not edited:
        return rules
    again = await rules_repository.rules_by_id(session, sorted(edited))
    kept = [r for r in rules if r.id not in edited]
    return sorted([*kept, *again], key=lambda r: r.id)


def _alert_id() -> str:
    return prefixed("alrt")


async def _read_windows(
    session: AsyncSession,
    rules: Sequence[RuleRow],
    rows: Mapping[uuid.UUID, StateRow],
    now: datetime,
    fresh: Fresh,
    *,
    whole: bool = False,
) -> dict[uuid.UUID, tuple[float | None, int, datetime | None]]:
    """(aggregate, samples, newest reading) per rule, keeping each series' running
    aggregate in its state row. Series whose kept aggregate cannot be moved forward
    exactly (see ``running.advance``) are read again whole: a second statement, rarely."""
    asks = [_ask(rule, rows[rule.id], now, fresh, whole=whole) for rule in rules]
    reads = await rules_repository.windows(session, asks, now)
    seen: dict[uuid.UUID, tuple[float | None, int, datetime | None]] = {}
    again: list[WindowAsk] = []
    for ask in asks:
        rule, row, read = ask.rule, rows[ask.rule.id], reads[ask.rule.id]
        if ask.latest_only:
            samples = 0 if read.last is None else 1
            seen[rule.id] = (read.last, samples, read.newest)
            continue
        window = read.whole
        if read.moved:
            assert row.agg_at is not None
            not_left, late = split_fresh(fresh.get(rule.kpi_id, ()), row.agg_at, now, rule.window)
            kept = Agg(row.agg_samples or 0, row.agg_sum or 0.0, row.agg_min, row.agg_max)
            moved = advance(
                kept, read.left.without(not_left), read.entered.plus(late), rule.aggregation
            )
            if moved is None:
                again.append(WindowAsk(rule, False, None, None))
                continue
            window = moved
        else:
            row.agg_since = now
        _keep(row, rule, window, now, read.version)
        seen[rule.id] = (_value(rule, window, read.last), window.samples, read.newest)
    if again:
        seen |= await _read_windows(session, [a.rule for a in again], rows, now, {}, whole=True)
    return seen


def _ask(rule: RuleRow, row: StateRow, now: datetime, fresh: Fresh, *, whole: bool) -> WindowAsk:
    latest_only = rule.aggregation == "last" and rule.min_samples <= 1
    if (
        whole
        or latest_only
        or row.agg_version is None
        or not reusable(
            rule.aggregation, rule.window, now, row.agg_at, row.agg_since, row.agg_window
        )
    ):
        return WindowAsk(rule, latest_only, None, None)
    # The caller's own statement moved the version once for each KPI it stored into.
    mine = 1 if fresh.get(rule.kpi_id) else 0
    return WindowAsk(rule, False, row.agg_at, row.agg_version + mine)


def _keep(row: StateRow, rule: RuleRow, window: Agg, now: datetime, version: int) -> None:
    row.agg_at, row.agg_window, row.agg_version = now, rule.window, version
    row.agg_samples, row.agg_sum = window.samples, window.total
    row.agg_min, row.agg_max = window.low, window.high


def _value(rule: RuleRow, window: Agg, last: float | None) -> float | None:
    if rule.aggregation == "last":
        return last
    return value_of(window, rule.aggregation)


def _from_the_past(row: StateRow, now: datetime) -> bool:
    return row.last_eval_at is not None and now < row.last_eval_at


def _store(row: StateRow, state: SeriesState, now: datetime, value: float | None) -> None:
    row.state = state.state
    row.severity = state.severity
    row.alert_id = state.alert_id
    row.since = state.since or row.since or now
    row.pending_since = state.pending_since
    row.recovering_since = state.recovering_since
    row.started_at = state.started_at
    row.last_notified_at = state.last_notified_at
    row.renotify_count = state.renotify_count
    row.last_eval_at = now
    if value is not None:
        row.last_value = value
