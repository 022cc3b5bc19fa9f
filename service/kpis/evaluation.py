"""The breach lifecycle: one pure, idempotent transition function per evaluation.

States ``ok | pending | firing | recovering | no_data`` (Grafana's, with Prometheus's
``for`` and ``keep_firing_for``). The caller holds the series' row lock, passes what the
window holds, and persists the returned state and events in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from service.kpis.thresholds import Severity, Thresholds, breached_severity, recovers


class State(StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RECOVERING = "recovering"
    NO_DATA = "no_data"


class OnNoData(StrEnum):
    NO_DATA = "no_data"
    KEEP_LAST_STATE = "keep_last_state"
    ALERTING = "alerting"
    OK = "ok"


@dataclass(frozen=True)
class Policy:
    """The timing part of a rule (thresholds are separate)."""

    thresholds: Thresholds
    pending_for: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    no_data_after: timedelta = timedelta(minutes=10)
    on_no_data: OnNoData = OnNoData.NO_DATA
    renotify_interval: timedelta | None = None


@dataclass(frozen=True)
class SeriesState:
    state: State = State.OK
    severity: Severity | None = None
    alert_id: str | None = None
    since: datetime | None = None
    pending_since: datetime | None = None
    recovering_since: datetime | None = None
    started_at: datetime | None = None
    last_notified_at: datetime | None = None
    renotify_count: int = 0


@dataclass(frozen=True)
class Observation:
    """What the evaluation saw: the window's aggregate (None if too few samples) and
    whether any reading arrived within ``no_data_after``."""

    value: float | None
    has_data: bool
    samples: int = 0


@dataclass(frozen=True)
class Emitted:
    type: str  # kpi.breached | kpi.recovered | kpi.no_data | kpi.data_resumed
    # new | escalated | deescalated | renotify | no_data | resolved | resumed | unmuted
    # | rule_changed
    reason: str
    previous_state: State
    state: State
    severity: Severity | None
    alert_id: str | None


NewAlertId = str | Callable[[], str]
"""An id for a new episode, or how to make one (ids are made only when an episode starts)."""


def _made(new_alert_id: NewAlertId) -> str:
    return new_alert_id if isinstance(new_alert_id, str) else new_alert_id()


@dataclass
class Outcome:
    state: SeriesState
    events: list[Emitted] = field(default_factory=list)


def evaluate(
    policy: Policy,
    current: SeriesState,
    seen: Observation,
    now: datetime,
    new_alert_id: NewAlertId,
) -> Outcome:
    """Next state and the events to emit. Calling it again with the result is a no-op."""
    out = Outcome(current)
    if not seen.has_data:
        return _no_data(policy, out, now, new_alert_id)
    if out.state.state is State.NO_DATA:
        _move(out, now, state=State.OK, severity=None, alert_id=None)
        out.events.append(
            Emitted("kpi.data_resumed", "resumed", State.NO_DATA, State.OK, None, current.alert_id)
        )
    if seen.value is None:  # data exists but not enough samples in the window: no decision
        return out
    breached = breached_severity(policy.thresholds, seen.value)
    if out.state.state in (State.OK, State.PENDING):
        return _from_quiet(policy, out, breached, now, new_alert_id)
    return _from_firing(policy, out, breached, seen.value, now)


def _from_quiet(
    policy: Policy,
    out: Outcome,
    breached: Severity | None,
    now: datetime,
    new_alert_id: NewAlertId,
) -> Outcome:
    s = out.state
    if breached is None:
        if s.state is State.PENDING:  # one good evaluation resets pending, silently
            _move(out, now, state=State.OK, severity=None, pending_since=None)
        return out
    pending_since = (s.pending_since if s.state is State.PENDING else None) or now
    if now - pending_since >= policy.pending_for:
        _open_episode(out, now, new_alert_id, "kpi.breached", "new", State.FIRING, breached)
    elif s.state is State.OK or s.severity != breached:
        _move(out, now, state=State.PENDING, severity=breached, pending_since=pending_since)
    return out


def _from_firing(
    policy: Policy, out: Outcome, breached: Severity | None, value: float, now: datetime
) -> Outcome:
    s = out.state
    severity = s.severity
    assert severity is not None
    t = policy.thresholds
    if breached is not None:
        if s.state is State.RECOVERING:  # breach again: back to firing, same episode, no event
            out.state = replace(s, state=State.FIRING, recovering_since=None)
            s = out.state
        if breached is Severity.CRITICAL and s.severity is Severity.WARNING:
            return _notify(out, now, "escalated", Severity.CRITICAL)
        if (
            breached is Severity.WARNING
            and s.severity is Severity.CRITICAL
            and _recovered(t, Severity.CRITICAL, value)
        ):
            return _notify(out, now, "deescalated", Severity.WARNING)
        return _maybe_renotify(policy, out, now)
    if not _recovered(t, severity, value):
        if s.state is State.RECOVERING:  # back inside the hysteresis band
            out.state = replace(s, state=State.FIRING, recovering_since=None)
        return _maybe_renotify(policy, out, now)
    if policy.keep_firing_for > timedelta(0):
        if s.state is State.FIRING:
            out.state = replace(s, state=State.RECOVERING, recovering_since=now)
            return out
        assert s.recovering_since is not None
        if now - s.recovering_since < policy.keep_firing_for:
            return out
    return _resolve(out, now, "resolved")


def _recovered(t: Thresholds, severity: Severity, value: float) -> bool:
    """Whether ``value`` recovers the series from ``severity``. A severity the rule has no
    threshold for (no-data ``alerting`` once fired critical on a warning-only rule, before
    it fired at the rule's highest severity) holds nothing: any value recovers from it."""
    trigger = t.trigger(severity)
    return trigger is None or recovers(t.operator, value, trigger, t.recovery(severity))


def highest_severity(t: Thresholds) -> Severity:
    """The most severe level the rule defines: what no-data ``alerting`` fires at."""
    return Severity.CRITICAL if t.critical is not None else Severity.WARNING


def _no_data(policy: Policy, out: Outcome, now: datetime, new_alert_id: NewAlertId) -> Outcome:
    s = out.state
    if policy.on_no_data is OnNoData.KEEP_LAST_STATE:
        return out
    if policy.on_no_data is OnNoData.OK:
        if s.state in (State.FIRING, State.RECOVERING):
            return _resolve(out, now, "no_data")
        if s.state is State.PENDING:
            _move(out, now, state=State.OK, severity=None, pending_since=None)
        return out
    if policy.on_no_data is OnNoData.ALERTING:
        return _no_data_alerting(policy, out, now, new_alert_id)
    if s.state is State.NO_DATA:
        return _maybe_renotify(policy, out, now)
    if s.state in (State.FIRING, State.RECOVERING):
        # The breach episode ends here, said so: the no-data episode that follows has its
        # own alert id and dedup key, and nothing would ever resolve the breach's otherwise.
        _resolve(out, now, "no_data")
    # A no-data episode is its own alert, as Grafana's DatasourceNoData is.
    _open_episode(out, now, new_alert_id, "kpi.no_data", "no_data", State.NO_DATA, None)
    return out


def _no_data_alerting(
    policy: Policy, out: Outcome, now: datetime, new_alert_id: NewAlertId
) -> Outcome:
    """No data is a breach at the highest severity the rule defines (critical, or warning
    for a warning-only rule: a severity without a threshold could never recover)."""
    s = out.state
    severity = highest_severity(policy.thresholds)
    if s.state in (State.FIRING, State.RECOVERING) and s.severity is severity:
        out.state = replace(s, state=State.FIRING, recovering_since=None)
        return _maybe_renotify(policy, out, now)
    if s.state in (State.FIRING, State.RECOVERING):
        return _notify(out, now, "no_data", severity)
    _open_episode(out, now, new_alert_id, "kpi.breached", "no_data", State.FIRING, severity)
    return out


def _open_episode(
    out: Outcome,
    now: datetime,
    new_alert_id: NewAlertId,
    event_type: str,
    reason: str,
    state: State,
    severity: Severity | None,
) -> None:
    """A new episode (firing, or no data) with its own ``alert_id``, told as ``event_type``."""
    previous = out.state.state
    alert_id = _made(new_alert_id)
    _move(
        out,
        now,
        state=state,
        severity=severity,
        alert_id=alert_id,
        pending_since=None,
        recovering_since=None,
        started_at=now,
        last_notified_at=now,
        renotify_count=0,
    )
    out.events.append(Emitted(event_type, reason, previous, state, severity, alert_id))


def unmuted(current: SeriesState, now: datetime) -> Outcome:
    """Tell the current state of an open episode whose last notice a silence suppressed, now
    that the silence has ended (spec §2.6.12: notify the current state, if still firing).
    The caller decides that it was suppressed; this is the event and the state it leaves."""
    out = Outcome(replace(current, last_notified_at=now))
    kind = "kpi.no_data" if current.state is State.NO_DATA else "kpi.breached"
    out.events.append(
        Emitted(kind, "unmuted", current.state, current.state, current.severity, current.alert_id)
    )
    return out


OPEN = (State.FIRING, State.RECOVERING, State.NO_DATA)
"""The states of an open episode: one a consumer may hold an incident for."""


def _notify(out: Outcome, now: datetime, reason: str, severity: Severity) -> Outcome:
    previous = out.state.state
    _move(out, now, state=State.FIRING, severity=severity, last_notified_at=now, renotify_count=0)
    out.events.append(
        Emitted("kpi.breached", reason, previous, State.FIRING, severity, out.state.alert_id)
    )
    return out


def _resolve(out: Outcome, now: datetime, reason: str) -> Outcome:
    s = out.state
    out.events.append(Emitted("kpi.recovered", reason, s.state, State.OK, s.severity, s.alert_id))
    _move(
        out,
        now,
        state=State.OK,
        severity=None,
        alert_id=None,
        pending_since=None,
        recovering_since=None,
        started_at=None,
        renotify_count=0,
    )
    return out


def _maybe_renotify(policy: Policy, out: Outcome, now: datetime) -> Outcome:
    s = out.state
    interval = policy.renotify_interval
    if interval is None or s.last_notified_at is None or now - s.last_notified_at < interval:
        return out
    out.state = replace(s, last_notified_at=now, renotify_count=s.renotify_count + 1)
    kind = "kpi.no_data" if s.state is State.NO_DATA else "kpi.breached"
    out.events.append(Emitted(kind, "renotify", s.state, s.state, s.severity, s.alert_id))
    return out


def _move(out: Outcome, now: datetime, **changes: object) -> None:
    """Apply a state change; ``since`` moves only when the state itself changes."""
    new = replace(out.state, **changes)  # type: ignore[arg-type]
    if new.state is not out.state.state:
        new = replace(new, since=now)
    out.state = new
