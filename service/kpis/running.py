"""Running window aggregates: a rule's window moved forward by what entered and left it.

A series keeps, with its state, the count, sum, min and max of the readings in its window
``(at - window, at]`` as of a ``readings_version`` of its KPI (every statement that stores
readings of a KPI moves that version by one, under the KPI's row lock). Evaluating again at
``now`` then needs only the readings that entered the window, ``(at, now]`` plus late ones
stored since, and those that left it, ``(at - window, now - window]``: O(batch) instead of
O(window). Whenever that cannot be exact the window is read whole (``None`` below):

- a reading was stored that the aggregate did not see (the version moved by more than the
  caller's own statement), or the rule's window changed;
- the window turned over since the last whole read (``now - since >= window``), which also
  bounds the rounding a running float sum gathers, or ``now - at >= window``;
- the sum cancelled (it shrank a millionfold by subtraction: its relative error would grow
  as much), or a ``min``/``max`` rule's extreme left the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

CANCELLATION = float(2**20)


@dataclass(frozen=True, slots=True)
class Agg:
    """count, sum, min, max of some readings; min/max are None when unknown or empty."""

    samples: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Agg:
        values = list(values)
        if not values:
            return EMPTY
        return cls(len(values), sum(values), min(values), max(values))

    def without(self, other: Agg) -> Agg:
        """``self`` minus readings it contains (``other``); min/max stay a bound only."""
        if not other.samples:
            return self
        return Agg(self.samples - other.samples, self.total - other.total, self.low, self.high)

    def plus(self, other: Agg) -> Agg:
        if not other.samples:
            return self
        if not self.samples:
            return other
        return Agg(
            self.samples + other.samples,
            self.total + other.total,
            _pick(min, self.low, other.low),
            _pick(max, self.high, other.high),
        )


EMPTY = Agg()


def _pick(f: Callable[[float, float], float], a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else f(a, b)


def reusable(
    aggregation: str,
    window: timedelta,
    now: datetime,
    at: datetime | None,
    since: datetime | None,
    kept_window: timedelta | None,
) -> bool:
    """Whether a kept aggregate may be moved forward at all (the version is checked in SQL)."""
    return (
        aggregation != "last"
        and at is not None
        and since is not None
        and kept_window == window
        and now - at < window
        and now - since < window
    )


def advance(kept: Agg, left: Agg, entered: Agg, aggregation: str) -> Agg | None:
    """The window after ``left`` readings left it and ``entered`` ones entered; None when
    it must be read whole instead. ``left`` holds only readings ``kept`` counted."""
    remaining = kept.samples - left.samples
    if remaining <= 0:
        base = EMPTY  # everything left: start again from exact zeros
    elif not left.samples:
        base = kept
    else:
        total = kept.total - left.total
        if abs(total) * CANCELLATION < abs(kept.total):
            return None
        low = kept.low if _above(left.low, kept.low) else None
        high = kept.high if _above(kept.high, left.high) else None
        base = Agg(remaining, total, low, high)
    moved = base.plus(entered)
    if moved.samples and (
        (aggregation == "min" and moved.low is None)
        or (aggregation == "max" and moved.high is None)
    ):
        return None
    return moved


def _above(a: float | None, b: float | None) -> bool:
    """``a > b`` when both are known: the extreme ``b`` did not leave."""
    return a is not None and b is not None and a > b


def value_of(agg: Agg, aggregation: str) -> float | None:
    """The rule's aggregate of the window; None with no samples (``count`` is 0 then)."""
    if aggregation == "count":
        return float(agg.samples)
    if not agg.samples:
        return None
    if aggregation == "avg":
        return agg.total / agg.samples
    if aggregation == "sum":
        return agg.total
    if aggregation == "min":
        return agg.low
    if aggregation == "max":
        return agg.high
    raise ValueError(f"no running aggregate for {aggregation!r}")


def split_fresh(
    fresh: Iterable[tuple[datetime, float]], at: datetime, now: datetime, window: timedelta
) -> tuple[Agg, Agg]:
    """This transaction's own new readings that the SQL ranges get wrong: those in
    ``(at - window, now - window]`` are in the database's "left" range but were never
    counted; those in ``(now - window, at]`` entered late, outside the "entered" range."""
    not_left, late = [], []
    start, old_start = now - window, at - window
    for observed_at, value in fresh:
        if old_start < observed_at <= start:
            not_left.append(value)
        elif start < observed_at <= at:
            late.append(value)
    return Agg.of(not_left), Agg.of(late)
