"""Alert thresholds: validation, breach and recovery conditions. Pure functions.

Operators follow Datadog's recovery table exactly:

    alert when value >  T  ->  recovered when value <= R      (R <= T)
    alert when value >= T  ->  recovered when value <  R      (R <= T)
    alert when value <  T  ->  recovered when value >= R      (R >= T)
    alert when value <= T  ->  recovered when value >  R      (R >= T)

Bands: ``outside {lo, hi}`` breaches when value < lo or value > hi and recovers inside a
recovery band nested in it; ``inside {lo, hi}`` breaches when lo <= value <= hi and recovers
outside a recovery band that contains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Operator(StrEnum):
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    OUTSIDE = "outside"
    INSIDE = "inside"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


BANDS = (Operator.OUTSIDE, Operator.INSIDE)
UPWARD = (Operator.GT, Operator.GTE)


@dataclass(frozen=True)
class Band:
    lo: float
    hi: float


Threshold = float | Band


def parse_threshold(operator: Operator, raw: Any, field: str) -> Threshold | None:
    """A stored or submitted threshold as a number or a band; raises ValueError with why."""
    if raw is None:
        return None
    if operator in BANDS:
        if not isinstance(raw, dict) or set(raw) != {"lo", "hi"}:
            raise ValueError(f"`{field}` must be {{lo, hi}} for `{operator}`.")
        lo, hi = _number(raw["lo"], field), _number(raw["hi"], field)
        if lo >= hi:
            raise ValueError(f"`{field}.lo` must be below `{field}.hi`.")
        return Band(lo, hi)
    if isinstance(raw, dict):
        raise ValueError(f"`{field}` must be a number for `{operator}`.")
    return _number(raw, field)


def _number(raw: Any, field: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"`{field}` must be a number.")
    value = float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"`{field}` must be finite.")
    return value


@dataclass(frozen=True)
class Thresholds:
    operator: Operator
    warning: Threshold | None = None
    critical: Threshold | None = None
    warning_recovery: Threshold | None = None
    critical_recovery: Threshold | None = None

    def trigger(self, severity: Severity) -> Threshold | None:
        return self.critical if severity is Severity.CRITICAL else self.warning

    def recovery(self, severity: Severity) -> Threshold | None:
        if severity is Severity.CRITICAL:
            return self.critical_recovery
        return self.warning_recovery


def build_thresholds(operator: str, values: dict[str, Any]) -> Thresholds:
    """Parse and check consistency; raises ValueError naming the first inconsistency."""
    op = Operator(operator)
    names = ("warning", "critical", "warning_recovery", "critical_recovery")
    parsed = {name: parse_threshold(op, values.get(name), name) for name in names}
    t = Thresholds(op, **parsed)
    problems = consistency_problems(t)
    if problems:
        raise ValueError(problems[0])
    return t


def consistency_problems(t: Thresholds) -> list[str]:
    problems: list[str] = []
    if t.warning is None and t.critical is None:
        problems.append("At least one of `warning` and `critical` is required.")
    for severity in Severity:
        if t.recovery(severity) is not None and t.trigger(severity) is None:
            problems.append(f"`{severity}_recovery` needs `{severity}`.")
    if (
        t.warning is not None
        and t.critical is not None
        and not _more_severe(t, t.critical, t.warning)
    ):
        problems.append(_order_message(t.operator))
    for severity in Severity:
        trigger, recovery = t.trigger(severity), t.recovery(severity)
        if trigger is not None and recovery is not None and not _healthy_side(t, trigger, recovery):
            problems.append(f"`{severity}_recovery` must lie on the healthy side of `{severity}`.")
    return problems


def _order_message(op: Operator) -> str:
    return {
        Operator.GT: "For `gt`, `warning` must be below `critical`.",
        Operator.GTE: "For `gte`, `warning` must be below `critical`.",
        Operator.LT: "For `lt`, `warning` must be above `critical`.",
        Operator.LTE: "For `lte`, `warning` must be above `critical`.",
        Operator.OUTSIDE: "For `outside`, the `critical` band must contain the `warning` band.",
        Operator.INSIDE: "For `inside`, the `warning` band must contain the `critical` band.",
    }[op]


def _more_severe(t: Thresholds, critical: Threshold, warning: Threshold) -> bool:
    if isinstance(critical, Band) and isinstance(warning, Band):
        if t.operator is Operator.OUTSIDE:
            return critical.lo <= warning.lo and critical.hi >= warning.hi and critical != warning
        return warning.lo <= critical.lo and warning.hi >= critical.hi and critical != warning
    assert isinstance(critical, float) and isinstance(warning, float)
    return warning < critical if t.operator in UPWARD else warning > critical


def _healthy_side(t: Thresholds, trigger: Threshold, recovery: Threshold) -> bool:
    if isinstance(trigger, Band) and isinstance(recovery, Band):
        if t.operator is Operator.OUTSIDE:
            return trigger.lo <= recovery.lo and recovery.hi <= trigger.hi
        return recovery.lo <= trigger.lo and trigger.hi <= recovery.hi
    assert isinstance(trigger, float) and isinstance(recovery, float)
    return recovery <= trigger if t.operator in UPWARD else recovery >= trigger


def breaches(op: Operator, value: float, trigger: Threshold) -> bool:
    if isinstance(trigger, Band):
        inside = trigger.lo <= value <= trigger.hi
        return not inside if op is Operator.OUTSIDE else inside
    return {
        Operator.GT: value > trigger,
        Operator.GTE: value >= trigger,
        Operator.LT: value < trigger,
        Operator.LTE: value <= trigger,
    }[op]


def recovers(op: Operator, value: float, trigger: Threshold, recovery: Threshold | None) -> bool:
    """Recovery for one severity: past the recovery threshold, or simply not breaching."""
    if recovery is None:
        return not breaches(op, value, trigger)
    if isinstance(recovery, Band):
        inside = recovery.lo <= value <= recovery.hi
        return inside if op is Operator.OUTSIDE else not inside
    return {
        Operator.GT: value <= recovery,
        Operator.GTE: value < recovery,
        Operator.LT: value >= recovery,
        Operator.LTE: value > recovery,
    }[op]


def breached_severity(t: Thresholds, value: float) -> Severity | None:
    """The highest severity whose trigger the value breaches (critical inhibits warning)."""
    for severity in (Severity.CRITICAL, Severity.WARNING):
        trigger = t.trigger(severity)
        if trigger is not None and breaches(t.operator, value, trigger):
            return severity
    return None


def threshold_json(value: Threshold | None) -> Any:
    if isinstance(value, Band):
        return {"lo": value.lo, "hi": value.hi}
    return value
