"""Pace: progress against the linear expectation over the cycle. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from service.goals.progress import clamp


class PaceStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NOT_STARTED = "not_started"


@dataclass
class Pace:
    """A plain dataclass, never changed once made: quicker to make than a named tuple or a
    frozen dataclass, and ``orjson`` encodes it as an object (alignment trees hold
    thousands)."""

    status: PaceStatus
    expected: float
    ratio: float | None


def expected_progress(start: date, end: date, now: datetime) -> float:
    """Share of the cycle elapsed: 0 before its first day, 1 after its last (inclusive).

    Counted in whole minutes: a minute of a cycle moves the expectation by a few
    millionths, and a representation that changed on every read could never answer
    ``304 Not Modified`` (its ETag covers the pace it shows)."""
    begins = datetime.combine(start, time.min, UTC)
    ends = datetime.combine(end, time.min, UTC) + timedelta(days=1)
    return clamp((now.replace(second=0, microsecond=0) - begins) / (ends - begins))


def pace(
    progress: float,
    start: date,
    end: date,
    now: datetime,
    *,
    has_check_ins: bool,
    on_track: float = 0.7,
    at_risk: float = 0.5,
) -> Pace:
    expected = expected_progress(start, end, now)
    return pace_at(
        progress, expected, has_check_ins=has_check_ins, on_track=on_track, at_risk=at_risk
    )


def pace_at(
    progress: float,
    expected: float,
    *,
    has_check_ins: bool,
    on_track: float = 0.7,
    at_risk: float = 0.5,
) -> Pace:
    """``pace`` once the expected share is known (a forest computes it once per cycle)."""
    if expected == 0 or not has_check_ins:
        return Pace(PaceStatus.NOT_STARTED, expected, None)
    ratio = progress / expected
    if ratio >= on_track:
        status = PaceStatus.ON_TRACK
    elif ratio >= at_risk:
        status = PaceStatus.AT_RISK
    else:
        status = PaceStatus.OFF_TRACK
    return Pace(status, expected, ratio)
