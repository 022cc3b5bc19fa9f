"""Business rules for objectives, key results and check-ins. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from service.alignment import service as alignment
from service.alignment.graph import Rollup
from service.alignment.schemas import LinkCreate
from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import (
    PageRequest,
    decode_tied_cursor,
    encode_tied_cursor,
    split_page,
)
from service.common.repository import get_many_scoped, get_scoped
from service.errors import Conflict, NotFound, ValidationFailed, refuse_nulls
from service.goals import events, repository
from service.goals.explain import definition_of, key_result_progress_of, objective_progress_of
from service.goals.progress import KeyResultType, definition_problems, key_result_progress
from service.goals.schemas import (
    CheckInCreate,
    CheckInSource,
    KeyResultCreate,
    KeyResultUpdate,
    ObjectiveCreate,
    ObjectiveStatus,
    ObjectiveUpdate,
    Unit,
)
from service.models import CheckIn, Cycle, KeyResult, Kpi, Objective, Person, Team
from service.models.base import utcnow
from service.people import repository as people_repository

CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class ObjectiveView:
    """An objective with what its progress and pace are computed from."""

    objective: Objective
    cycle: Cycle
    key_results: list[KeyResult] = field(default_factory=list)
    standing: alignment.Standing | None = None


@dataclass(frozen=True)
class ObjectiveFilters:
    cycle_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    status: ObjectiveStatus | None = None
    orphaned: bool | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        for name in ("cycle_id", "owner_id", "team_id", "status"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(getattr(Objective, name) == value)
        if self.orphaned is not None:
            orphaned = people_repository.owner_is_inactive(Objective.owner_id)
            clauses.append(orphaned if self.orphaned else ~orphaned)
        return clauses


# ---- objectives -----------------------------------------------------------------------


async def list_objectives(
    session: AsyncSession, principal: Principal, filters: ObjectiveFilters, page: PageRequest
) -> tuple[list[ObjectiveView], str | None]:
    require(principal, Scope.READ)
    rows = await repository.list_objectives(
        session, principal.organization_id, page, filters.clauses()
    )
    rows, next_cursor = split_page(rows, page)
    return await _views(session, principal.organization_id, rows), next_cursor


async def get_objective(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID
) -> ObjectiveView:
    require(principal, Scope.READ)
    objective = await _objective(session, principal, objective_id)
    return (await _views(session, principal.organization_id, [objective]))[0]


async def create_objective(
    session: AsyncSession, principal: Principal, data: ObjectiveCreate
) -> ObjectiveView:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    await _check_references(
        session, org, data.model_dump(include={"cycle_id", "owner_id", "team_id"})
    )
    objective = Objective(organization_id=org, **data.model_dump(exclude={"parent_id"}))
    await repository.add(session, objective)
    if data.parent_id is not None:
        await alignment.add_link(session, org, objective.id, LinkCreate(parent_id=data.parent_id))
    await events.objective_created(session, objective)
    return (await _views(session, org, [objective]))[0]


async def update_objective(
    session: AsyncSession,
    principal: Principal,
    objective_id: uuid.UUID,
    data: ObjectiveUpdate,
    if_match: str | None = None,
) -> ObjectiveView:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    objective = await _objective(session, principal, objective_id, for_update=True)
    check_if_match(if_match, objective)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("title", "cycle_id", "status", "rollup"))
    await _check_references(session, org, changes)
    status = changes.get("status", objective.status)
    if status in _ENDED:
        closing = status == "closed" and objective.status != "closed"
    else:
        if changes.get("outcome") is not None or changes.get("final_score") is not None:
            raise ValidationFailed.on(
                "outcome", "`outcome` and `final_score` are set when closing."
            )
        # Reopened: the outcome and score of the ended run no longer describe it.
        changes["outcome"] = changes["final_score"] = None
        closing = False
    previous_status = objective.status
    changed = [name for name, value in changes.items() if getattr(objective, name) != value]
    for name, value in changes.items():
        setattr(objective, name, value)
    await session.flush()
    if closing and "final_score" not in changes:
        # The score is the progress the objective shows as it closes: rolled up from its
        # children when it rolls them up (under the rollup this same change may set).
        shown = await alignment.standings_of(session, org, [objective.id])
        objective.final_score = round(shown[objective.id].rolled.progress.value, 4)
        changed.append("final_score")
        await session.flush()
    await events.objective_updated(session, objective, changed, previous_status)
    return (await _views(session, org, [objective]))[0]


_ENDED = ("closed", "archived")


async def delete_objective(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID
) -> None:
    require(principal, Scope.WRITE)
    objective = await _objective(session, principal, objective_id, for_update=True)
    await repository.remove(session, objective)


# ---- key results ----------------------------------------------------------------------


async def list_key_results(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID
) -> list[KeyResult]:
    require(principal, Scope.READ)
    await _objective(session, principal, objective_id)
    return await repository.key_results_of(session, principal.organization_id, [objective_id])


async def get_key_result(
    session: AsyncSession, principal: Principal, key_result_id: uuid.UUID
) -> KeyResult:
    require(principal, Scope.READ)
    return await _key_result(session, principal, key_result_id)


async def create_key_result(
    session: AsyncSession, principal: Principal, objective_id: uuid.UUID, data: KeyResultCreate
) -> KeyResult:
    require(principal, Scope.WRITE)
    org = principal.organization_id
    objective = await _objective(session, principal, objective_id, for_update=True)
    await _check_references(session, org, {"owner_id": data.owner_id, "kpi_id": data.kpi_id})
    kr = KeyResult(organization_id=org, objective_id=objective.id, **data.model_dump())
    _validate_definition(kr)
    _refresh_key_result_progress(kr)
    await repository.add(session, kr)
    await events.key_result_created(session, kr)
    await follow_kpi_now(session, objective, kr)
    return kr


async def update_key_result(
    session: AsyncSession,
    principal: Principal,
    key_result_id: uuid.UUID,
    data: KeyResultUpdate,
    if_match: str | None = None,
) -> KeyResult:
    require(principal, Scope.WRITE)
    kr = await _key_result(session, principal, key_result_id)
    objective = await _objective(session, principal, kr.objective_id, for_update=True)
    kr = await _key_result(session, principal, key_result_id, for_update=True)
    check_if_match(if_match, kr)
    previous_kpi, previous_type = kr.kpi_id, kr.type
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("title", "type", "inclusive", "unit", "weight"))
    await _check_references(session, principal.organization_id, changes)
    for name, value in changes.items():
        setattr(kr, name, value)
    _validate_definition(kr)
    becomes_milestone = kr.type == KeyResultType.MILESTONE and previous_type != kr.type
    if becomes_milestone and kr.current not in (None, 0, 1):
        # Its latest check-in would read as a milestone's progress (37 as "done").
        raise ValidationFailed.on(
            "type",
            f"A milestone's value is 1 (done) or 0 (not done); the latest check-in is "
            f"{kr.current:g}. Check in 0 or 1 first.",
        )
    _refresh_key_result_progress(kr)
    await session.flush()
    if changes.get("kpi_id") not in (None, previous_kpi):
        await follow_kpi_now(session, objective, kr)
    else:
        await _refresh_objective_progress(session, objective)
    return kr


async def delete_key_result(
    session: AsyncSession, principal: Principal, key_result_id: uuid.UUID
) -> None:
    require(principal, Scope.WRITE)
    kr = await _key_result(session, principal, key_result_id)
    objective = await _objective(session, principal, kr.objective_id, for_update=True)
    # Locked (and read again) after its objective, as edits lock it: read before, a version
    # bumped by an edit committed meanwhile made the versioned delete fail (a 409).
    kr = await _key_result(session, principal, key_result_id, for_update=True)
    await repository.remove(session, kr)
    await _refresh_objective_progress(session, objective)


# ---- check-ins ------------------------------------------------------------------------


async def record_check_in(
    session: AsyncSession, principal: Principal, key_result_id: uuid.UUID, data: CheckInCreate
) -> CheckIn:
    """Store a check-in; the key result follows its latest observation, late ones included."""
    require(principal, Scope.WRITE)
    org = principal.organization_id
    kr = await _key_result(session, principal, key_result_id)
    # Lock order objective -> key result, the same everywhere, so check-ins cannot deadlock.
    objective = await _objective(session, principal, kr.objective_id, for_update=True)
    kr = await _key_result(session, principal, key_result_id, for_update=True)
    now = utcnow()
    observed_at = data.observed_at or now
    if observed_at > now + CLOCK_SKEW:
        raise ValidationFailed.on("observed_at", "`observed_at` is in the future.")
    if kr.type == KeyResultType.MILESTONE and data.value not in (0, 1):
        raise ValidationFailed.on("value", "A milestone is checked in as 1 (done) or 0 (not done).")
    if data.source == CheckInSource.KPI:
        raise ValidationFailed.on(
            "source", "`kpi` marks the check-ins a KPI's readings make; they are not posted."
        )
    if kr.kpi_id is not None:
        # Its value is the KPI's: a manual value would stand until the next reading.
        raise Conflict(
            f"Key result {kr.id} follows KPI {kr.kpi_id}: post readings to the KPI, or "
            "unlink it (`kpi_id: null`) to check in by hand."
        )
    check_in = CheckIn(
        organization_id=org,
        key_result_id=kr.id,
        value=data.value,
        confidence=data.confidence,
        note=data.note,
        source=data.source,
        author=principal.key_name,
        observed_at=observed_at,
        value_before=kr.current,
        progress_before=kr.progress_value,
    )
    await repository.add(session, check_in)
    latest = await repository.latest_check_in(session, org, kr.id)
    assert latest is not None
    await _follow_latest_check_in(session, kr, latest.value, latest.observed_at)
    await _refresh_objective_progress(session, objective, checked_in_at=observed_at)
    await events.key_result_checked_in(session, kr, check_in)
    return check_in


async def list_check_ins(
    session: AsyncSession, principal: Principal, key_result_id: uuid.UUID, page: PageRequest
) -> tuple[list[CheckIn], str | None]:
    require(principal, Scope.READ)
    await _key_result(session, principal, key_result_id)
    after = decode_tied_cursor(page.cursor) if page.cursor else None
    rows = await repository.list_check_ins(
        session, principal.organization_id, key_result_id, page.limit, after
    )
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, encode_tied_cursor(last.observed_at, last.created_at, last.id)


# ---- helpers --------------------------------------------------------------------------


async def _objective(
    session: AsyncSession, principal: Principal, ident: uuid.UUID, *, for_update: bool = False
) -> Objective:
    row = await get_scoped(
        session, Objective, principal.organization_id, ident, for_update=for_update
    )
    if row is None:
        raise NotFound.of("Objective", ident)
    return row


async def _key_result(
    session: AsyncSession, principal: Principal, ident: uuid.UUID, *, for_update: bool = False
) -> KeyResult:
    row = await get_scoped(
        session, KeyResult, principal.organization_id, ident, for_update=for_update
    )
    if row is None:
        raise NotFound.of("Key result", ident)
    return row


async def _views(
    session: AsyncSession, org: uuid.UUID, objectives: Sequence[Objective]
) -> list[ObjectiveView]:
    """Attach cycles, key results and roll-ups with three queries, however many objectives."""
    cycles = {
        c.id: c
        for c in await get_many_scoped(session, Cycle, org, list({o.cycle_id for o in objectives}))
    }
    krs = await repository.key_results_of(session, org, [o.id for o in objectives])
    views = {o.id: ObjectiveView(o, cycles[o.cycle_id]) for o in objectives}
    for kr in krs:
        views[kr.objective_id].key_results.append(kr)
    for ident, standing in (await alignment.standings_of(session, org, list(views))).items():
        views[ident].standing = standing
    return list(views.values())


_REFERENCES: dict[str, tuple[type[Any], str]] = {
    "cycle_id": (Cycle, "cycle"),
    "owner_id": (Person, "person"),
    "team_id": (Team, "team"),
    "kpi_id": (Kpi, "KPI"),
}


async def _check_references(session: AsyncSession, org: uuid.UUID, values: dict[str, Any]) -> None:
    """Referenced rows must exist in the caller's organization (and owners be active)."""
    for name, (model, kind) in _REFERENCES.items():
        ident = values.get(name)
        if ident is None:
            continue
        row = await get_scoped(session, model, org, ident)
        if row is None:
            raise ValidationFailed.on(name, f"There is no {kind} {ident}.")
        if model is Person and not row.active:
            raise ValidationFailed.on(name, f"Person {ident} is inactive and cannot own goals.")


def _validate_definition(kr: KeyResult) -> None:
    problems = definition_problems(definition_of(kr))
    if kr.unit == Unit.CURRENCY and not kr.currency:
        problems.append(("currency", "`currency` (ISO 4217) is required when `unit` is currency."))
    if kr.unit != Unit.CURRENCY and kr.currency:
        problems.append(("currency", "`currency` is only for `unit: currency`."))
    if problems:
        raise ValidationFailed(
            "; ".join(message for _, message in problems),
            errors=[{"loc": ["body", name], "msg": message} for name, message in problems],
        )


def _refresh_key_result_progress(kr: KeyResult) -> None:
    progress = key_result_progress_of(kr)
    kr.progress_value, kr.progress_raw = progress.value, progress.raw


async def _follow_latest_check_in(
    session: AsyncSession, kr: KeyResult, value: float, observed_at: datetime
) -> None:
    """``current`` is the latest check-in's value: computed, so stored without moving the
    key result's version (a check-in does not make a PATCH of its definition stale)."""
    progress = key_result_progress(definition_of(kr), value)
    values = {"current": value, "last_check_in_at": observed_at, "updated_at": utcnow()}
    values |= {"progress_value": progress.value, "progress_raw": progress.raw}
    await repository.store_computed(session, kr, values)


async def _refresh_objective_progress(
    session: AsyncSession, objective: Objective, checked_in_at: datetime | None = None
) -> None:
    """Progress from the key results, stored without moving the objective's version: key
    results and check-ins are not edits of the objective's own fields, so they must not
    make a PATCH of it stale. Its ETag still moves, through the digest of what it shows."""
    krs = await repository.key_results_of(session, objective.organization_id, [objective.id])
    progress = objective_progress_of(krs)
    values: dict[str, object] = {"progress_value": progress.value, "progress_raw": progress.raw}
    values["updated_at"] = utcnow()  # key results are part of what the objective shows
    if checked_in_at is not None:
        stamps = [objective.last_check_in_at, checked_in_at]
        values["last_check_in_at"] = max(filter(None, stamps))
    await repository.store_computed(session, objective, values)


def progress_explanation(kr_or_view: KeyResult | ObjectiveView) -> dict[str, Any]:
    """Progress as the API shows it: value, raw, formula and inputs."""
    if isinstance(kr_or_view, ObjectiveView):
        view = kr_or_view
        rolls_up_children = view.objective.rollup != Rollup.KEY_RESULTS
        if rolls_up_children and view.standing is not None:
            progress = view.standing.rolled.progress
        else:
            progress = objective_progress_of(view.key_results)
    else:
        progress = key_result_progress_of(kr_or_view)
    return {
        "value": progress.value,
        "raw": progress.raw,
        "formula": progress.formula,
        "inputs": progress.inputs,
    }


def now() -> datetime:
    return utcnow()


# ---- key results driven by KPIs ----------------------------------------------------


@dataclass(frozen=True)
class KpiObservation:
    kpi_id: uuid.UUID
    source: str
    observed_at: datetime
    value: float


async def follow_kpi_readings(
    session: AsyncSession, org: uuid.UUID, readings: Sequence[KpiObservation]
) -> int:
    """Turn new readings into check-ins (source ``kpi``) on the key results they drive.

    Runs in the ingest transaction. Locks objectives, then key results, in id order: the
    same order as manual check-ins, so the two cannot deadlock. Returns check-ins written.
    """
    kpi_ids = sorted({r.kpi_id for r in readings})
    driven = await repository.key_results_driven_by(session, org, kpi_ids)
    if not driven:
        return 0
    objectives = await repository.lock_objectives(
        session, org, sorted({k.objective_id for k in driven})
    )
    krs = await repository.lock_key_results(session, org, sorted(k.id for k in driven))
    by_kpi: dict[uuid.UUID, list[KpiObservation]] = {}
    for reading in sorted(readings, key=lambda r: r.observed_at):
        by_kpi.setdefault(reading.kpi_id, []).append(reading)
    rows: list[dict[str, Any]] = []
    for kr in krs:
        check_ins, latest = _kpi_check_ins(org, kr, by_kpi.get(kr.kpi_id, []) if kr.kpi_id else [])
        rows += check_ins
        if latest is not None:
            await _follow_latest_check_in(session, kr, latest.value, latest.observed_at)
    await repository.add_check_ins(session, rows)
    for kr in krs:
        count = sum(1 for row in rows if row["key_result_id"] == kr.id)
        if count:
            await events.key_result_checked_in(session, kr, None, count)
    for objective in objectives:
        stamps = [k.last_check_in_at for k in krs if k.objective_id == objective.id]
        newest = max(filter(None, stamps), default=None)
        await _refresh_objective_progress(session, objective, checked_in_at=newest)
    return len(rows)


async def follow_kpi_now(session: AsyncSession, objective: Objective, kr: KeyResult) -> None:
    """A key result linked to a KPI takes the KPI's latest reading as a check-in at once,
    rather than showing nothing until the next reading, and its ``current`` is that
    reading's even when an earlier source (a hand check-in, another KPI) observed later:
    it follows this KPI now. Then its objective's progress."""
    reading = None
    if kr.kpi_id is not None:
        reading = await repository.latest_reading(session, kr.organization_id, kr.kpi_id)
    if reading is None:
        await _refresh_objective_progress(session, objective)
        return
    observation = KpiObservation(reading.kpi_id, reading.source, reading.observed_at, reading.value)
    rows, _ = _kpi_check_ins(kr.organization_id, kr, [observation])
    await _follow_latest_check_in(session, kr, reading.value, reading.observed_at)
    await repository.add_check_ins(session, rows)
    await events.key_result_checked_in(session, kr, None, len(rows))
    await _refresh_objective_progress(session, objective, checked_in_at=kr.last_check_in_at)


def _kpi_check_ins(
    org: uuid.UUID, kr: KeyResult, readings: Sequence[KpiObservation]
) -> tuple[list[dict[str, Any]], KpiObservation | None]:
    """Check-in rows for ``readings`` (oldest first), each with the value and progress it
    found, and the reading ``current`` now follows, if one is newer than the latest."""
    current, progress, latest_at = kr.current, kr.progress_value, kr.last_check_in_at
    rows: list[dict[str, Any]] = []
    latest = None
    for reading in readings:
        rows.append(
            {
                "id": uuid.uuid4(),
                "organization_id": org,
                "key_result_id": kr.id,
                "value": reading.value,
                "source": "kpi",
                "author": reading.source[:200],
                "observed_at": reading.observed_at,
                "value_before": current,
                "progress_before": progress,
                "created_at": utcnow(),
            }
        )
        if latest_at is None or reading.observed_at >= latest_at:
            latest, current, latest_at = reading, reading.value, reading.observed_at
            progress = key_result_progress(definition_of(kr), current).value
    return rows, latest
