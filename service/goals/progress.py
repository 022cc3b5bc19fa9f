"""Progress of key results and objectives: pure, explainable, no I/O.

Every number comes with the formula and the inputs that produced it, so a client can show
"62% because (31 - 0) / (50 - 0)" instead of a bare figure.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class KeyResultType(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    STAY_ABOVE = "stay_above"
    STAY_BELOW = "stay_below"
    RANGE = "range"
    MILESTONE = "milestone"


@dataclass
class Progress:
    """Never changed once made, but not frozen: a frozen dataclass takes twice as long to
    make, and an alignment tree makes one per node."""

    value: float
    raw: float
    formula: str
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyResultDefinition:
    type: KeyResultType
    start: float | None = None
    target: float | None = None
    lower: float | None = None
    upper: float | None = None
    inclusive: bool = True


# Raw progress a billion times the way to target says nothing more than that, and with a
# target a hair from its start (0 to 1e-300) the quotient is infinite: it could be neither
# stored, summed in a roll-up nor sent as JSON.
RAW_LIMIT = 1e9


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


def definition_problems(d: KeyResultDefinition) -> list[tuple[str, str]]:
    """Why a definition cannot be measured, as ``(field, message)`` pairs; empty when sound."""
    problems: list[tuple[str, str]] = []
    if d.type in (KeyResultType.INCREASE, KeyResultType.DECREASE):
        for name in ("start", "target"):
            if getattr(d, name) is None:
                problems.append((name, f"`{name}` is required for a `{d.type}` key result."))
        if d.start is not None and d.target is not None:
            if d.start == d.target:
                problems.append(("target", "`target` must differ from `start`."))
            elif d.type is KeyResultType.INCREASE and d.target < d.start:
                problems.append(("target", "An `increase` needs `target` above `start`."))
            elif d.type is KeyResultType.DECREASE and d.target > d.start:
                problems.append(("target", "A `decrease` needs `target` below `start`."))
    elif d.type in (KeyResultType.STAY_ABOVE, KeyResultType.STAY_BELOW):
        if d.target is None:
            problems.append(("target", f"`target` is required for a `{d.type}` key result."))
    elif d.type is KeyResultType.RANGE:
        for name in ("lower", "upper"):
            if getattr(d, name) is None:
                problems.append((name, f"`{name}` is required for a `range` key result."))
        bounded = d.lower is not None and d.upper is not None
        if bounded and (d.lower > d.upper or (d.lower == d.upper and not d.inclusive)):  # type: ignore[operator]
            problems.append(("upper", "`upper` must be above `lower`."))
    return problems


def key_result_progress(d: KeyResultDefinition, current: float | None) -> Progress:
    """Progress of one key result at value ``current`` (None: nothing checked in yet)."""
    if d.type in (KeyResultType.INCREASE, KeyResultType.DECREASE):
        assert d.start is not None and d.target is not None
        value = d.start if current is None else current
        raw = (value - d.start) / (d.target - d.start)
        inputs = {"current": current, "start": d.start, "target": d.target}
        formula = "(current - start) / (target - start)"
        if not -RAW_LIMIT <= raw <= RAW_LIMIT:
            raw = clamp(raw, -RAW_LIMIT, RAW_LIMIT)
            formula += ", limited to -1e9..1e9"
        return Progress(clamp(raw), raw, formula, inputs)
    if d.type in (KeyResultType.STAY_ABOVE, KeyResultType.STAY_BELOW):
        assert d.target is not None
        above = d.type is KeyResultType.STAY_ABOVE
        op = (">=" if d.inclusive else ">") if above else ("<=" if d.inclusive else "<")
        met = current is not None and _compare(current, op, d.target)
        inputs = {"current": current, "target": d.target, "inclusive": d.inclusive}
        return Progress(float(met), float(met), f"1 if current {op} target else 0", inputs)
    if d.type is KeyResultType.RANGE:
        assert d.lower is not None and d.upper is not None
        low_op, high_op = ("<=", "<=") if d.inclusive else ("<", "<")
        met = (
            current is not None
            and _compare(d.lower, low_op, current)
            and _compare(current, high_op, d.upper)
        )
        inputs = {"current": current, "lower": d.lower, "upper": d.upper, "inclusive": d.inclusive}
        formula = f"1 if lower {low_op} current {high_op} upper else 0"
        return Progress(float(met), float(met), formula, inputs)
    done = current is not None and current >= 1
    return Progress(float(done), float(done), "1 if done else 0", {"current": current})


def _compare(left: float, op: str, right: float) -> bool:
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[op]


@dataclass(frozen=True)
class WeightedInput:
    id: uuid.UUID
    weight: float
    progress: Progress


def weighted_progress(parts: list[WeightedInput], kind: str = "key_results") -> Progress:
    """Weighted mean of the parts' clamped values (and, for ``raw``, of their raw values)."""
    total = math.fsum(p.weight for p in parts)
    inputs = {
        kind: [
            {"id": str(p.id), "weight": p.weight, "value": p.progress.value, "raw": p.progress.raw}
            for p in parts
        ]
    }
    if total <= 0:
        return Progress(0.0, 0.0, "0 (nothing to measure yet)", inputs)
    value = math.fsum(p.weight * p.progress.value for p in parts) / total
    raw = math.fsum(p.weight * p.progress.raw for p in parts) / total
    return Progress(clamp(value), raw, "sum(weight_i * value_i) / sum(weight_i)", inputs)
