"""The breach lifecycle as a pure function: every rule of the spec and every state-machine row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from service.kpis.evaluation import (
    Observation,
    OnNoData,
    Outcome,
    Policy,
    SeriesState,
    State,
    evaluate,
    unmuted,
)
from service.kpis.thresholds import Severity, build_thresholds

T0 = datetime(2026, 11, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)


def policy(**overrides: object) -> Policy:
    thresholds = overrides.pop("thresholds", None) or build_thresholds(
        "gt", {"warning": 5, "critical": 10, "warning_recovery": 4, "critical_recovery": 8}
    )
    return Policy(thresholds=thresholds, **overrides)  # type: ignore[arg-type]


class Series:
    """Feeds observations through ``evaluate`` and keeps the state, like the evaluator does."""

    def __init__(self, p: Policy) -> None:
        self.policy = p
        self.state = SeriesState()
        self.ids = iter(f"alrt_{i}" for i in range(100))
        self.events: list[tuple[str, str]] = []

    def see(self, value: float | None, at: datetime, has_data: bool = True) -> Outcome:
        out = evaluate(self.policy, self.state, Observation(value, has_data, 1), at, next(self.ids))
        self.state = out.state
        self.events += [(e.type, e.reason) for e in out.events]
        return out


def test_breach_fires_at_once_without_pending() -> None:
    s = Series(policy())
    out = s.see(6, T0)
    assert s.state.state is State.FIRING and s.state.severity is Severity.WARNING
    assert [(e.type, e.reason, e.previous_state) for e in out.events] == [
        ("kpi.breached", "new", State.OK)
    ]
    assert s.state.alert_id == "alrt_0"


def test_pending_needs_every_evaluation_to_breach() -> None:
    s = Series(policy(pending_for=5 * MIN))
    s.see(6, T0)
    assert s.state.state is State.PENDING and s.events == []
    s.see(6, T0 + 3 * MIN)
    s.see(3, T0 + 4 * MIN)  # one good sample resets pending, silently
    assert s.state.state is State.OK and s.events == []
    s.see(6, T0 + 5 * MIN)
    s.see(6, T0 + 9 * MIN)
    assert s.state.state is State.PENDING
    s.see(6, T0 + 10 * MIN)
    assert s.state.state is State.FIRING
    assert s.events == [("kpi.breached", "new")]


def test_hysteresis_holds_until_the_recovery_threshold() -> None:
    s = Series(policy())
    s.see(11, T0)
    s.see(9, T0 + MIN)  # below critical but above critical_recovery: still critical
    assert s.state.severity is Severity.CRITICAL and s.state.state is State.FIRING
    s.see(8, T0 + 2 * MIN)  # <= 8 recovers critical; 8 still breaches warning -> deescalate
    assert s.events[-1] == ("kpi.breached", "deescalated")
    assert s.state.severity is Severity.WARNING
    s.see(4.5, T0 + 3 * MIN)  # not breaching warning, but above warning_recovery (4)
    assert s.state.state is State.FIRING
    s.see(4, T0 + 4 * MIN)
    assert s.state.state is State.OK and s.events[-1] == ("kpi.recovered", "resolved")
    assert s.state.alert_id is None


def test_escalation_and_deescalation_keep_the_episode() -> None:
    s = Series(policy())
    s.see(6, T0)
    episode = s.state.alert_id
    s.see(12, T0 + MIN)
    assert s.events[-1] == ("kpi.breached", "escalated")
    assert s.state.alert_id == episode and s.state.severity is Severity.CRITICAL
    s.see(9, T0 + 2 * MIN)  # warning breach, critical recovery (8) not reached: stays critical
    assert s.state.severity is Severity.CRITICAL and len(s.events) == 2


def test_recovery_threshold_crossed_while_ok_has_no_effect() -> None:
    s = Series(policy())
    s.see(1, T0)
    s.see(4, T0 + MIN)
    assert s.state.state is State.OK and s.events == []


def test_without_recovery_threshold_recovers_when_breach_ends() -> None:
    s = Series(policy(thresholds=build_thresholds("lt", {"critical": 99.9})))
    s.see(99.0, T0)
    s.see(99.95, T0 + MIN)
    assert s.events == [("kpi.breached", "new"), ("kpi.recovered", "resolved")]


def test_keep_firing_for_delays_recovery_and_a_new_breach_returns_silently() -> None:
    s = Series(policy(keep_firing_for=10 * MIN))
    s.see(6, T0)
    episode = s.state.alert_id
    s.see(1, T0 + MIN)
    assert s.state.state is State.RECOVERING and len(s.events) == 1
    s.see(6, T0 + 2 * MIN)  # breach again: firing, same alert, no event
    assert s.state.state is State.FIRING and s.state.alert_id == episode and len(s.events) == 1
    s.see(1, T0 + 3 * MIN)
    s.see(1, T0 + 12 * MIN)
    assert s.state.state is State.RECOVERING
    s.see(1, T0 + 13 * MIN)
    assert s.state.state is State.OK and s.events[-1] == ("kpi.recovered", "resolved")


def test_no_data_default_is_a_distinct_state_and_resumes() -> None:
    s = Series(policy())
    s.see(None, T0, has_data=False)
    assert s.state.state is State.NO_DATA and s.events == [("kpi.no_data", "no_data")]
    no_data_episode = s.state.alert_id
    s.see(None, T0 + MIN, has_data=False)
    assert len(s.events) == 1
    s.see(6, T0 + 2 * MIN)
    assert s.events[1:] == [("kpi.data_resumed", "resumed"), ("kpi.breached", "new")]
    assert s.state.alert_id != no_data_episode


def test_no_data_keep_last_state() -> None:
    s = Series(policy(on_no_data=OnNoData.KEEP_LAST_STATE))
    s.see(11, T0)
    s.see(None, T0 + MIN, has_data=False)
    assert s.state.state is State.FIRING and len(s.events) == 1


def test_no_data_alerting_is_a_critical_breach() -> None:
    s = Series(policy(on_no_data=OnNoData.ALERTING))
    s.see(None, T0, has_data=False)
    assert s.state.state is State.FIRING and s.state.severity is Severity.CRITICAL
    assert s.events == [("kpi.breached", "no_data")]
    w = Series(policy(on_no_data=OnNoData.ALERTING))
    w.see(6, T0)
    w.see(None, T0 + MIN, has_data=False)
    assert w.events[-1] == ("kpi.breached", "no_data") and w.state.severity is Severity.CRITICAL


def test_no_data_alerting_fires_a_warning_only_rule_at_warning_and_recovers() -> None:
    """Once fired as critical, a rule without a critical threshold could never recover:
    every later evaluation with data failed, and with it every ingest for the KPI."""
    s = Series(
        policy(on_no_data=OnNoData.ALERTING, thresholds=build_thresholds("gt", {"warning": 5}))
    )
    s.see(None, T0, has_data=False)
    assert s.state.state is State.FIRING and s.state.severity is Severity.WARNING
    assert s.events == [("kpi.breached", "no_data")]
    s.see(6, T0 + MIN)  # still breaching warning: the same episode, nothing to say
    assert s.state.state is State.FIRING and len(s.events) == 1
    s.see(1, T0 + 2 * MIN)
    assert s.state.state is State.OK and s.events[-1] == ("kpi.recovered", "resolved")


def test_a_severity_the_rule_has_no_threshold_for_deescalates_or_resolves() -> None:
    """A series stored firing critical on a warning-only rule (as no-data alerting once left
    them) is judged by what the rule has, never an assertion."""
    warning_only = policy(thresholds=build_thresholds("gt", {"warning": 5}))
    stuck = SeriesState(State.FIRING, Severity.CRITICAL, "alrt_x", T0, started_at=T0)
    out = evaluate(warning_only, stuck, Observation(6, True, 1), T0 + MIN, "alrt_y")
    assert out.state.severity is Severity.WARNING and out.state.alert_id == "alrt_x"
    assert [(e.type, e.reason) for e in out.events] == [("kpi.breached", "deescalated")]
    out = evaluate(warning_only, stuck, Observation(1, True, 1), T0 + MIN, "alrt_y")
    assert out.state.state is State.OK
    assert [(e.type, e.reason) for e in out.events] == [("kpi.recovered", "resolved")]
    critical_only = policy(thresholds=build_thresholds("gt", {"critical": 10}))
    warned = SeriesState(State.FIRING, Severity.WARNING, "alrt_x", T0, started_at=T0)
    out = evaluate(critical_only, warned, Observation(1, True, 1), T0 + MIN, "alrt_y")
    assert [(e.type, e.reason) for e in out.events] == [("kpi.recovered", "resolved")]


def test_no_data_while_firing_resolves_the_breach_then_opens_its_own_episode() -> None:
    s = Series(policy())
    s.see(6, T0)
    breach = s.state.alert_id
    out = s.see(None, T0 + MIN, has_data=False)
    assert [(e.type, e.reason, e.alert_id) for e in out.events] == [
        ("kpi.recovered", "no_data", breach),
        ("kpi.no_data", "no_data", s.state.alert_id),
    ]
    assert s.state.state is State.NO_DATA and s.state.alert_id != breach
    assert s.state.severity is None and s.state.started_at == T0 + MIN
    keeping = Series(policy(keep_firing_for=10 * MIN))
    keeping.see(6, T0)
    keeping.see(1, T0 + MIN)  # recovering: the episode is still open
    keeping.see(None, T0 + 2 * MIN, has_data=False)
    assert keeping.events[1:] == [("kpi.recovered", "no_data"), ("kpi.no_data", "no_data")]


def test_unmuted_restates_the_open_episode_and_restarts_the_reminders() -> None:
    firing = SeriesState(
        State.FIRING, Severity.CRITICAL, "alrt_x", T0, started_at=T0, last_notified_at=T0
    )
    out = unmuted(firing, T0 + 5 * MIN)
    [said] = out.events
    assert (said.type, said.reason, said.state, said.severity, said.alert_id) == (
        "kpi.breached",
        "unmuted",
        State.FIRING,
        Severity.CRITICAL,
        "alrt_x",
    )
    assert out.state == replace(firing, last_notified_at=T0 + 5 * MIN)
    silent = SeriesState(State.NO_DATA, None, "alrt_n", T0, started_at=T0, last_notified_at=T0)
    assert [(e.type, e.reason) for e in unmuted(silent, T0 + MIN).events] == [
        ("kpi.no_data", "unmuted")
    ]


def test_no_data_ok_resolves() -> None:
    s = Series(policy(on_no_data=OnNoData.OK))
    s.see(6, T0)
    s.see(None, T0 + MIN, has_data=False)
    assert s.state.state is State.OK and s.events[-1] == ("kpi.recovered", "no_data")


def test_renotify_cadence_and_reset_on_state_change() -> None:
    s = Series(policy(renotify_interval=60 * MIN))
    s.see(6, T0)
    s.see(6, T0 + 59 * MIN)
    assert len(s.events) == 1
    s.see(6, T0 + 60 * MIN)
    s.see(6, T0 + 61 * MIN)
    s.see(6, T0 + 120 * MIN)
    assert [r for _, r in s.events] == ["new", "renotify", "renotify"]
    assert s.state.renotify_count == 2
    s.see(12, T0 + 121 * MIN)
    assert s.events[-1] == ("kpi.breached", "escalated") and s.state.renotify_count == 0


def test_no_decision_without_enough_samples() -> None:
    s = Series(policy())
    s.see(None, T0, has_data=True)
    assert s.state.state is State.OK and s.events == []


def test_evaluating_twice_at_the_same_instant_emits_once() -> None:
    p = policy()
    first = evaluate(p, SeriesState(), Observation(6, True, 1), T0, "alrt_a")
    again = evaluate(p, first.state, Observation(6, True, 1), T0, "alrt_b")
    assert len(first.events) == 1 and again.events == []
    assert again.state == first.state


def test_bands() -> None:
    outside = Series(
        policy(
            thresholds=build_thresholds(
                "outside",
                {"critical": {"lo": 0, "hi": 100}, "critical_recovery": {"lo": 10, "hi": 90}},
            )
        )
    )
    outside.see(101, T0)
    outside.see(95, T0 + MIN)  # back in the band but outside the recovery band
    assert outside.state.state is State.FIRING
    outside.see(50, T0 + 2 * MIN)
    assert outside.events == [("kpi.breached", "new"), ("kpi.recovered", "resolved")]
    inside = Series(
        policy(thresholds=build_thresholds("inside", {"warning": {"lo": 40, "hi": 60}}))
    )
    inside.see(50, T0)
    inside.see(70, T0 + MIN)
    assert inside.events == [("kpi.breached", "new"), ("kpi.recovered", "resolved")]


@pytest.mark.parametrize(
    ("operator", "values", "message"),
    [
        ("gt", {}, "At least one"),
        ("gt", {"warning": 10, "critical": 5}, "warning` must be below"),
        ("lt", {"warning": 5, "critical": 10}, "warning` must be above"),
        ("gt", {"critical": 10, "critical_recovery": 11}, "healthy side"),
        ("lte", {"critical": 10, "critical_recovery": 9}, "healthy side"),
        ("gt", {"warning_recovery": 3, "critical": 10}, "needs `warning`"),
        ("outside", {"critical": 5}, "{lo, hi}"),
        ("gt", {"critical": {"lo": 1, "hi": 2}}, "must be a number"),
        ("outside", {"critical": {"lo": 5, "hi": 1}}, "below"),
        ("outside", {"warning": {"lo": 0, "hi": 100}, "critical": {"lo": 10, "hi": 90}}, "contain"),
        (
            "outside",
            {"critical": {"lo": 0, "hi": 100}, "critical_recovery": {"lo": -5, "hi": 90}},
            "healthy",
        ),
    ],
)
def test_inconsistent_thresholds_are_refused(operator: str, values: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        build_thresholds(operator, values)
