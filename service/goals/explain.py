"""From stored rows to explainable progress and pace (pure: rows in, numbers out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from service.config import get_settings
from service.goals.pace import Pace, pace
from service.goals.progress import (
    KeyResultDefinition,
    KeyResultType,
    Progress,
    WeightedInput,
    key_result_progress,
    weighted_progress,
)
from service.models import Cycle, KeyResult, Objective


def definition_of(kr: KeyResult) -> KeyResultDefinition:
    return KeyResultDefinition(
        type=KeyResultType(kr.type),
        start=kr.start,
        target=kr.target,
        lower=kr.lower,
        upper=kr.upper,
        inclusive=kr.inclusive,
    )


def key_result_progress_of(kr: KeyResult) -> Progress:
    return key_result_progress(definition_of(kr), kr.current)


def objective_progress_of(key_results: Sequence[KeyResult]) -> Progress:
    return weighted_progress(
        [WeightedInput(kr.id, kr.weight, key_result_progress_of(kr)) for kr in key_results]
    )


def objective_pace_of(objective: Objective, cycle: Cycle, now: datetime) -> Pace:
    settings = get_settings()
    return pace(
        objective.progress_value,
        cycle.start_date,
        cycle.end_date,
        now,
        has_check_ins=objective.last_check_in_at is not None,
        on_track=settings.pace_on_track,
        at_risk=settings.pace_at_risk,
    )
