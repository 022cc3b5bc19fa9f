"""Rows to REST representations."""

from __future__ import annotations

from datetime import datetime

from service.alignment.graph import health
from service.alignment.service import state_of
from service.config import get_settings
from service.goals.explain import objective_pace_of
from service.goals.grades import Grade, grade_of
from service.goals.schemas import (
    CheckInRead,
    HealthRead,
    KeyResultRead,
    ObjectiveRead,
    PaceRead,
    ProgressRead,
)
from service.goals.service import ObjectiveView, progress_explanation
from service.models import CheckIn, KeyResult


def objective_read(view: ObjectiveView, now: datetime) -> ObjectiveRead:
    o = view.objective
    if view.standing is None:  # not built by `_views`: key results only, no KPIs
        pace = objective_pace_of(o, view.cycle, now)
        status = health(pace.status, [])
    else:
        state = state_of(
            view.standing.rolled,
            view.cycle.start_date,
            view.cycle.end_date,
            view.standing.kpis,
            now,
        )
        pace, status = state.pace, state.health
    return ObjectiveRead(
        id=o.id,
        title=o.title,
        description=o.description,
        cycle_id=o.cycle_id,
        owner_id=o.owner_id,
        team_id=o.team_id,
        status=o.status,
        outcome=o.outcome,
        final_score=o.final_score,
        grade=graded(o.final_score),
        rollup=o.rollup,
        progress=ProgressRead(**progress_explanation(view)),
        pace=PaceRead(status=pace.status, expected=pace.expected, ratio=pace.ratio),
        health=HealthRead(status=status.status, reasons=status.reasons),
        key_result_ids=[kr.id for kr in view.key_results],
        created_at=o.created_at,
        updated_at=o.updated_at,
    )


def graded(final_score: float | None) -> Grade | None:
    settings = get_settings()
    return grade_of(final_score, settings.grade_green, settings.grade_yellow)


def key_result_read(kr: KeyResult) -> KeyResultRead:
    fields = {name: getattr(kr, name) for name in KeyResultRead.model_fields if name != "progress"}
    return KeyResultRead(**fields, progress=ProgressRead(**progress_explanation(kr)))


def check_in_read(check_in: CheckIn) -> CheckInRead:
    return CheckInRead.model_validate(check_in)
