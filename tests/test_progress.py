"""Pure unit tests of key-result progress, objective roll-up and pace (no database)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from service.config import Settings
from service.goals.grades import Grade, grade_of
from service.goals.pace import PaceStatus, expected_progress, pace
from service.goals.progress import (
    KeyResultDefinition,
    KeyResultType,
    Progress,
    WeightedInput,
    definition_problems,
    key_result_progress,
    weighted_progress,
)

T = KeyResultType


def increase(start: float, target: float) -> KeyResultDefinition:
    return KeyResultDefinition(T.INCREASE, start=start, target=target)


def decrease(start: float, target: float) -> KeyResultDefinition:
    return KeyResultDefinition(T.DECREASE, start=start, target=target)


# ---- increase / decrease ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target", "current", "raw"),
    [
        (0, 50, 31, 0.62),
        (0, 100, 0, 0.0),
        (0, 100, 100, 1.0),
        (10, 20, 15, 0.5),
        (-100, -50, -75, 0.5),  # negative values, increasing
        (-10, 10, 0, 0.5),  # crossing zero
    ],
)
def test_increase_progress_is_share_of_distance(
    start: float, target: float, current: float, raw: float
) -> None:
    progress = key_result_progress(increase(start, target), current)
    assert progress.raw == pytest.approx(raw)
    assert progress.value == pytest.approx(raw)
    assert progress.formula == "(current - start) / (target - start)"
    assert progress.inputs == {"current": current, "start": start, "target": target}


@pytest.mark.parametrize(
    ("start", "target", "current", "raw"),
    [
        (100, 50, 75, 0.5),
        (100, 0, 100, 0.0),
        (100, 0, 0, 1.0),
        (-10, -30, -20, 0.5),  # negative values, decreasing
        (5, -5, -2.5, 0.75),  # crossing zero downwards
    ],
)
def test_decrease_progress_counts_downwards(
    start: float, target: float, current: float, raw: float
) -> None:
    progress = key_result_progress(decrease(start, target), current)
    assert progress.raw == pytest.approx(raw)
    assert progress.value == pytest.approx(raw)


def test_increase_past_target_keeps_raw_above_one_and_clamps_value() -> None:
    progress = key_result_progress(increase(0, 50), 75)
    assert progress.raw == pytest.approx(1.5)
    assert progress.value == 1.0


def test_decrease_past_target_keeps_raw_above_one_and_clamps_value() -> None:
    progress = key_result_progress(decrease(100, 50), 0)
    assert progress.raw == pytest.approx(2.0)
    assert progress.value == 1.0


def test_increase_going_backwards_has_negative_raw_and_zero_value() -> None:
    progress = key_result_progress(increase(10, 20), 5)
    assert progress.raw == pytest.approx(-0.5)
    assert progress.value == 0.0


def test_decrease_going_backwards_has_negative_raw_and_zero_value() -> None:
    progress = key_result_progress(decrease(100, 50), 125)
    assert progress.raw == pytest.approx(-0.5)
    assert progress.value == 0.0


@pytest.mark.parametrize("definition", [increase(10, 20), decrease(20, 10)])
def test_no_check_in_yet_means_zero_progress(definition: KeyResultDefinition) -> None:
    progress = key_result_progress(definition, None)
    assert (progress.value, progress.raw) == (0.0, 0.0)
    assert progress.inputs["current"] is None


# ---- stay_above / stay_below ------------------------------------------------------------


@pytest.mark.parametrize(
    ("inclusive", "current", "met"),
    [
        (True, 99.0, True),
        (True, 99.5, True),
        (True, 98.99, False),
        (False, 99.0, False),
        (False, 99.01, True),
        (False, 50.0, False),
    ],
)
def test_stay_above_at_and_around_the_bound(inclusive: bool, current: float, met: bool) -> None:
    d = KeyResultDefinition(T.STAY_ABOVE, target=99.0, inclusive=inclusive)
    progress = key_result_progress(d, current)
    assert progress.value == float(met)
    assert progress.raw == float(met)
    op = ">=" if inclusive else ">"
    assert progress.formula == f"1 if current {op} target else 0"
    assert progress.inputs == {"current": current, "target": 99.0, "inclusive": inclusive}


@pytest.mark.parametrize(
    ("inclusive", "current", "met"),
    [
        (True, 2.0, True),
        (True, 1.0, True),
        (True, 2.01, False),
        (False, 2.0, False),
        (False, 1.99, True),
        (False, 3.0, False),
    ],
)
def test_stay_below_at_and_around_the_bound(inclusive: bool, current: float, met: bool) -> None:
    d = KeyResultDefinition(T.STAY_BELOW, target=2.0, inclusive=inclusive)
    progress = key_result_progress(d, current)
    assert progress.value == float(met)
    op = "<=" if inclusive else "<"
    assert progress.formula == f"1 if current {op} target else 0"


def test_stay_below_with_negative_threshold() -> None:
    d = KeyResultDefinition(T.STAY_BELOW, target=-5.0)
    assert key_result_progress(d, -6).value == 1.0
    assert key_result_progress(d, -4).value == 0.0


@pytest.mark.parametrize("kr_type", [T.STAY_ABOVE, T.STAY_BELOW])
def test_stay_without_check_in_is_not_met(kr_type: KeyResultType) -> None:
    progress = key_result_progress(KeyResultDefinition(kr_type, target=0.0), None)
    assert progress.value == 0.0


# ---- range ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inclusive", "current", "met"),
    [
        (True, 10.0, True),
        (True, 20.0, True),
        (True, 15.0, True),
        (True, 9.99, False),
        (True, 20.01, False),
        (False, 10.0, False),
        (False, 20.0, False),
        (False, 10.01, True),
        (False, 19.99, True),
    ],
)
def test_range_bounds(inclusive: bool, current: float, met: bool) -> None:
    d = KeyResultDefinition(T.RANGE, lower=10.0, upper=20.0, inclusive=inclusive)
    progress = key_result_progress(d, current)
    assert progress.value == float(met)
    op = "<=" if inclusive else "<"
    assert progress.formula == f"1 if lower {op} current {op} upper else 0"
    assert progress.inputs["lower"] == 10.0
    assert progress.inputs["upper"] == 20.0


def test_range_with_negative_bounds_and_no_check_in() -> None:
    d = KeyResultDefinition(T.RANGE, lower=-5.0, upper=-1.0)
    assert key_result_progress(d, -3).value == 1.0
    assert key_result_progress(d, 0).value == 0.0
    assert key_result_progress(d, None).value == 0.0


def test_range_with_equal_inclusive_bounds_is_a_single_point() -> None:
    d = KeyResultDefinition(T.RANGE, lower=5.0, upper=5.0, inclusive=True)
    assert definition_problems(d) == []
    assert key_result_progress(d, 5.0).value == 1.0
    assert key_result_progress(d, 5.1).value == 0.0


# ---- milestone --------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "done"), [(None, 0.0), (0, 0.0), (1, 1.0)])
def test_milestone_is_done_or_not(current: float | None, done: float) -> None:
    progress = key_result_progress(KeyResultDefinition(T.MILESTONE), current)
    assert progress.value == done
    assert progress.raw == done
    assert progress.formula == "1 if done else 0"


# ---- definition problems ----------------------------------------------------------------


def fields_of(problems: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in problems]


@pytest.mark.parametrize(
    "definition",
    [
        increase(0, 10),
        increase(-10, -5),
        decrease(10, 0),
        decrease(-5, -10),
        KeyResultDefinition(T.STAY_ABOVE, target=1),
        KeyResultDefinition(T.STAY_BELOW, target=-1, inclusive=False),
        KeyResultDefinition(T.RANGE, lower=1, upper=2),
        KeyResultDefinition(T.RANGE, lower=1, upper=2, inclusive=False),
        KeyResultDefinition(T.MILESTONE),
    ],
)
def test_sound_definitions_have_no_problems(definition: KeyResultDefinition) -> None:
    assert definition_problems(definition) == []


@pytest.mark.parametrize("kr_type", [T.INCREASE, T.DECREASE])
def test_start_equal_to_target_is_refused(kr_type: KeyResultType) -> None:
    problems = definition_problems(KeyResultDefinition(kr_type, start=5, target=5))
    assert fields_of(problems) == ["target"]
    assert "differ" in problems[0][1]


def test_increase_with_target_below_start_is_refused() -> None:
    problems = definition_problems(increase(10, 5))
    assert fields_of(problems) == ["target"]
    assert "above" in problems[0][1]


def test_decrease_with_target_above_start_is_refused() -> None:
    problems = definition_problems(decrease(5, 10))
    assert fields_of(problems) == ["target"]
    assert "below" in problems[0][1]


@pytest.mark.parametrize("kr_type", [T.INCREASE, T.DECREASE])
def test_increase_and_decrease_need_start_and_target(kr_type: KeyResultType) -> None:
    assert fields_of(definition_problems(KeyResultDefinition(kr_type))) == ["start", "target"]
    assert fields_of(definition_problems(KeyResultDefinition(kr_type, start=1))) == ["target"]
    assert fields_of(definition_problems(KeyResultDefinition(kr_type, target=1))) == ["start"]


@pytest.mark.parametrize("kr_type", [T.STAY_ABOVE, T.STAY_BELOW])
def test_stay_needs_target(kr_type: KeyResultType) -> None:
    assert fields_of(definition_problems(KeyResultDefinition(kr_type))) == ["target"]


def test_range_needs_both_bounds() -> None:
    assert fields_of(definition_problems(KeyResultDefinition(T.RANGE))) == ["lower", "upper"]
    assert fields_of(definition_problems(KeyResultDefinition(T.RANGE, lower=1))) == ["upper"]
    assert fields_of(definition_problems(KeyResultDefinition(T.RANGE, upper=1))) == ["lower"]


def test_range_with_upper_below_lower_is_refused() -> None:
    problems = definition_problems(KeyResultDefinition(T.RANGE, lower=10, upper=5))
    assert fields_of(problems) == ["upper"]


def test_empty_exclusive_range_is_refused() -> None:
    d = KeyResultDefinition(T.RANGE, lower=5, upper=5, inclusive=False)
    assert fields_of(definition_problems(d)) == ["upper"]


# ---- weighted objective progress --------------------------------------------------------


def part(weight: float, value: float, raw: float | None = None) -> WeightedInput:
    raw = value if raw is None else raw
    return WeightedInput(uuid.uuid4(), weight, Progress(value, raw, "x"))


def test_weighted_mean_uses_weights() -> None:
    parts = [part(3, 1.0), part(1, 0.0)]
    progress = weighted_progress(parts)
    assert progress.value == pytest.approx(0.75)
    assert progress.raw == pytest.approx(0.75)
    assert progress.formula == "sum(weight_i * value_i) / sum(weight_i)"
    listed = progress.inputs["key_results"]
    assert [p["weight"] for p in listed] == [3, 1]
    assert [p["id"] for p in listed] == [str(p.id) for p in parts]


def test_equal_weights_give_the_plain_mean() -> None:
    progress = weighted_progress([part(1, 0.2), part(1, 0.4), part(1, 0.9)])
    assert progress.value == pytest.approx(0.5)


def test_weighted_value_uses_clamped_values_and_raw_uses_raw() -> None:
    # One KR at 150 % (clamped 1.0), one going backwards (-50 %, clamped 0).
    progress = weighted_progress([part(1, 1.0, 1.5), part(1, 0.0, -0.5)])
    assert progress.value == pytest.approx(0.5)
    assert progress.raw == pytest.approx(0.5)
    over = weighted_progress([part(1, 1.0, 3.0), part(1, 1.0, 1.0)])
    assert over.value == 1.0
    assert over.raw == pytest.approx(2.0)


def test_objective_without_key_results_is_zero() -> None:
    progress = weighted_progress([])
    assert (progress.value, progress.raw) == (0.0, 0.0)
    assert progress.inputs == {"key_results": []}


def test_weighted_progress_end_to_end_with_key_result_definitions() -> None:
    krs = [
        (2.0, key_result_progress(increase(0, 100), 50)),  # 0.5
        (1.0, key_result_progress(KeyResultDefinition(T.MILESTONE), 1)),  # 1.0
        (1.0, key_result_progress(decrease(10, 0), 10)),  # 0.0
    ]
    progress = weighted_progress([WeightedInput(uuid.uuid4(), w, p) for w, p in krs])
    assert progress.value == pytest.approx((2 * 0.5 + 1 + 0) / 4)
    assert math.isfinite(progress.raw)


# ---- pace -------------------------------------------------------------------------------

START, END = date(2026, 1, 1), date(2026, 1, 10)  # ten days


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day - 1, hours=hour)


def test_expected_progress_is_linear_and_inclusive_of_the_last_day() -> None:
    assert expected_progress(START, END, at(1)) == 0.0
    assert expected_progress(START, END, at(6)) == pytest.approx(0.5)
    assert expected_progress(START, END, at(10, 12)) == pytest.approx(0.95)
    assert expected_progress(START, END, at(11)) == 1.0
    assert expected_progress(START, END, at(1) - timedelta(days=3)) == 0.0
    assert expected_progress(START, END, at(40)) == 1.0


def test_expected_progress_moves_minute_by_minute() -> None:
    noon = at(6, 12)
    same = [expected_progress(START, END, noon + timedelta(seconds=s)) for s in (0, 1, 59.9)]
    assert len(set(same)) == 1
    assert expected_progress(START, END, noon + timedelta(minutes=1)) > same[0]


def test_pace_not_started_before_the_cycle() -> None:
    result = pace(0.5, START, END, at(1) - timedelta(hours=1), has_check_ins=True)
    assert result.status is PaceStatus.NOT_STARTED
    assert result.expected == 0.0
    assert result.ratio is None


def test_pace_not_started_without_check_ins() -> None:
    result = pace(0.9, START, END, at(6), has_check_ins=False)
    assert result.status is PaceStatus.NOT_STARTED
    assert result.expected == pytest.approx(0.5)
    assert result.ratio is None


@pytest.mark.parametrize(
    ("progress", "status"),
    [
        (1.0, PaceStatus.ON_TRACK),
        (0.7, PaceStatus.ON_TRACK),
        (0.69, PaceStatus.AT_RISK),
        (0.5, PaceStatus.AT_RISK),
        (0.49, PaceStatus.OFF_TRACK),
        (0.0, PaceStatus.OFF_TRACK),
    ],
)
def test_pace_bands_after_the_cycle(progress: float, status: PaceStatus) -> None:
    # After the end, expected is 1 so the ratio equals progress: exact band edges.
    result = pace(progress, START, END, at(12), has_check_ins=True)
    assert result.status is status
    assert result.expected == 1.0
    assert result.ratio == pytest.approx(progress)


@pytest.mark.parametrize(
    ("progress", "status"),
    [
        (0.5, PaceStatus.ON_TRACK),
        (0.4, PaceStatus.ON_TRACK),  # 0.8 of expected
        (0.3, PaceStatus.AT_RISK),  # 0.6
        (0.2, PaceStatus.OFF_TRACK),  # 0.4
    ],
)
def test_pace_bands_halfway(progress: float, status: PaceStatus) -> None:
    result = pace(progress, START, END, at(6), has_check_ins=True)
    assert result.expected == pytest.approx(0.5)
    assert result.ratio == pytest.approx(progress / 0.5)
    assert result.status is status


def test_pace_ahead_of_schedule_is_on_track_with_ratio_above_one() -> None:
    result = pace(0.9, START, END, at(3), has_check_ins=True)
    assert result.status is PaceStatus.ON_TRACK
    assert result.ratio is not None and result.ratio > 1


def test_pace_bands_are_configurable() -> None:
    now = at(12)
    strict = {"on_track": 0.9, "at_risk": 0.8}
    assert pace(0.85, START, END, now, has_check_ins=True, **strict).status is PaceStatus.AT_RISK
    assert pace(0.75, START, END, now, has_check_ins=True, **strict).status is PaceStatus.OFF_TRACK
    assert pace(0.95, START, END, now, has_check_ins=True, **strict).status is PaceStatus.ON_TRACK


def test_grade_and_pace_bands_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="grade_yellow"):
        Settings(grade_green=0.3, grade_yellow=0.5)
    with pytest.raises(ValidationError, match="pace_at_risk"):
        Settings(pace_on_track=0.4, pace_at_risk=0.6)
    assert grade_of(0.5, green=0.8, yellow=0.5) is Grade.YELLOW
    assert grade_of(None, green=0.7, yellow=0.4) is None
