"""Working with cycles: lint, rollover and promoting a key result to a KPI. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.alignment import repository as alignment_repository
from service.alignment import service as alignment
from service.alignment.graph import LinkKind
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.repository import get_scoped
from service.errors import NotFound, ValidationFailed
from service.goals import events as goal_events
from service.goals import repository as goals_repository
from service.goals import service as goals
from service.goals.explain import definition_of, key_result_progress_of
from service.goals.progress import KeyResultDefinition, KeyResultType
from service.kpis import readings_repository, rules_service
from service.kpis import service as kpis
from service.kpis.ingest import evaluate_on_ingest
from service.kpis.readings_repository import NewReading
from service.kpis.rule_schemas import AlertRuleCreate
from service.kpis.rules_service import TARGET_RULE
from service.kpis.schemas import Direction, KpiCreate
from service.kpis.thresholds import Operator
from service.models import (
    CheckIn,
    Cycle,
    KeyResult,
    Kpi,
    Objective,
    ObjectiveKpi,
    ObjectiveLink,
)
from service.models.base import utcnow
from service.people import repository as people_repository
from service.planning import lint as rules
from service.planning import repository
from service.planning.schemas import PromoteCreate, RolloverCreate

KR_FIELDS = (
    "title", "description", "type", "start", "target", "lower", "upper", "inclusive",
    "unit", "currency", "weight", "owner_id", "kpi_id",
)  # fmt: skip
OBJECTIVE_FIELDS = ("title", "description", "owner_id", "team_id", "rollup")


async def lint_cycle(
    session: AsyncSession, principal: Principal, cycle_id: uuid.UUID
) -> list[rules.Finding]:
    require(principal, Scope.READ)
    org = principal.organization_id
    await _cycle(session, org, cycle_id)
    objectives = await repository.objectives_of_cycle(
        session, org, cycle_id, leaving_out=rules.LEFT_OUT_STATUSES
    )
    krs = await goals_repository.key_results_of(session, org, [o.id for o in objectives])
    kpi_rows = await repository.kpis_behind(
        session, org, [o.id for o in objectives], [kr.id for kr in krs]
    )
    owners = [o.owner_id for o in objectives] + [kr.owner_id for kr in krs]
    inactive = await people_repository.inactive_people(session, org, owners)
    return rules.lint(
        [rules.ObjectiveFacts(o.id, o.owner_id, o.team_id) for o in objectives],
        [rules.KeyResultFacts(k.id, k.objective_id, k.owner_id, definition_of(k)) for k in krs],
        [rules.KpiFacts(k.id, k.target, has_rule) for k, has_rule in kpi_rows],
        inactive,
    )


# ---- rollover --------------------------------------------------------------------------


@dataclass
class RolledObjective:
    source: Objective
    copy: Objective
    key_results: list[KeyResult] = field(default_factory=list)


@dataclass
class Rollover:
    target_cycle_id: uuid.UUID
    objectives: list[RolledObjective]
    links: list[ObjectiveLink]
    kpi_links: list[ObjectiveKpi]


async def rollover(
    session: AsyncSession, principal: Principal, cycle_id: uuid.UUID, data: RolloverCreate
) -> Rollover:
    """Copy objectives and key results into another cycle as drafts, without check-ins,
    keeping owners, linked KPIs and alignment (a copied parent's copy replaces it; a link
    to a parent not copied is carried as ``supports``: see ``_carried``).

    By default the unfinished objectives are copied: not closed or archived, and below 100%
    as the API shows them (rolled up over their children where they roll children up).
    A deactivated owner is not carried over: the copy has none (lint reports it), since no
    goal can be given an inactive owner and a new cycle needs someone who is there."""
    require(principal, Scope.WRITE)
    org = principal.organization_id
    await _cycle(session, org, cycle_id)
    if data.target_cycle_id == cycle_id:
        raise ValidationFailed.on("target_cycle_id", "Roll over into another cycle.")
    if await get_scoped(session, Cycle, org, data.target_cycle_id) is None:
        raise ValidationFailed.on("target_cycle_id", f"There is no cycle {data.target_cycle_id}.")
    sources = await _chosen(
        session, org, await repository.objectives_of_cycle(session, org, cycle_id), data
    )
    plan = await _plan(session, org, data.target_cycle_id, sources)
    if not data.dry_run:
        await repository.add_all(session, [r.copy for r in plan.objectives])
        rows: list[object] = [kr for r in plan.objectives for kr in r.key_results]
        await repository.add_all(session, [*rows, *plan.links, *plan.kpi_links])
        await _announce(session, plan)
        for rolled in plan.objectives:
            for kr in rolled.key_results:
                if kr.kpi_id is not None:  # driven: its KPI's latest reading, as on create
                    await goals.follow_kpi_now(session, rolled.copy, kr)
    return plan


async def _announce(session: AsyncSession, plan: Rollover) -> None:
    """Copies are new objectives and key results to subscribers, like any other."""
    for rolled in plan.objectives:
        await goal_events.objective_created(session, rolled.copy)
        for kr in rolled.key_results:
            await goal_events.key_result_created(session, kr)


async def _chosen(
    session: AsyncSession, org: uuid.UUID, in_cycle: list[Objective], data: RolloverCreate
) -> list[Objective]:
    if data.objective_ids is None:
        # `progress_value` counts the objective's own key results only; one rolling up its
        # children shows (and is finished by) their roll-up instead.
        still_open = [o for o in in_cycle if o.status not in ("closed", "archived")]
        standings = await alignment.standings_of(session, org, [o.id for o in still_open])
        return [o for o in still_open if standings[o.id].rolled.progress.value < 1]
    by_id = {o.id: o for o in in_cycle}
    missing = [str(i) for i in data.objective_ids if i not in by_id]
    if missing:
        raise ValidationFailed.on(
            "objective_ids", f"Not objectives of this cycle: {', '.join(missing)}."
        )
    return [by_id[i] for i in dict.fromkeys(data.objective_ids)]


async def _plan(
    session: AsyncSession, org: uuid.UUID, target: uuid.UUID, sources: list[Objective]
) -> Rollover:
    ids = [o.id for o in sources]
    krs = await goals_repository.key_results_of(session, org, ids)
    owners = [o.owner_id for o in sources] + [kr.owner_id for kr in krs]
    inactive = await people_repository.inactive_people(session, org, owners)
    copies = {
        o.id: RolledObjective(
            o,
            Objective(
                id=uuid.uuid4(),
                organization_id=org,
                cycle_id=target,
                status="draft",
                **_copied(o, OBJECTIVE_FIELDS, inactive),
            ),
        )
        for o in sources
    }
    for kr in krs:
        copy = KeyResult(
            organization_id=org,
            objective_id=copies[kr.objective_id].copy.id,
            **_copied(kr, KR_FIELDS, inactive),
        )
        progress = key_result_progress_of(copy)
        copy.progress_value, copy.progress_raw = progress.value, progress.raw
        copies[kr.objective_id].key_results.append(copy)
    links = [
        _carried(org, link, copies[link.child_id].copy.id, copies.get(link.parent_id))
        for link in await alignment_repository.links_of(session, org, ids, True)
    ]
    kpi_links = [
        ObjectiveKpi(
            organization_id=org, objective_id=copies[k.objective_id].copy.id, kpi_id=k.kpi_id
        )
        for k in await alignment_repository.kpi_ids_of(session, org, ids)
    ]
    return Rollover(target, list(copies.values()), links, kpi_links)


def _carried(
    org: uuid.UUID, link: ObjectiveLink, child_id: uuid.UUID, parent: RolledObjective | None
) -> ObjectiveLink:
    """A copy's link to its original's parent: to the parent's copy when it was copied too;
    else to the parent itself, as ``supports``. A contributing copy starts at 0 and would
    count beside its original in that parent's roll-up (and change a closed or earlier
    cycle's numbers): it shows under the parent until someone makes it count."""
    return ObjectiveLink(
        organization_id=org,
        child_id=child_id,
        parent_id=link.parent_id if parent is None else parent.copy.id,
        weight=link.weight,
        kind=LinkKind.SUPPORTS.value if parent is None else link.kind,
    )


def _copied(
    row: Objective | KeyResult, names: Sequence[str], inactive_owners: frozenset[uuid.UUID]
) -> dict[str, Any]:
    """A row's fields for its copy, without an owner who has been deactivated."""
    values = {name: getattr(row, name) for name in names}
    if values["owner_id"] in inactive_owners:
        values["owner_id"] = None
    return values


# ---- promotion -------------------------------------------------------------------------

LOWER_IS_BETTER = (KeyResultType.DECREASE, KeyResultType.STAY_BELOW)


async def promote_to_kpi(
    session: AsyncSession, principal: Principal, key_result_id: uuid.UUID, data: PromoteCreate
) -> Kpi:
    """The key result becomes business as usual: a KPI with its check-ins as readings, a
    rule at its target (the default rule, or ``breach_rule`` where the key result's bounds
    need another), linked to the objective and driving the key result."""
    require(principal, Scope.WRITE)
    org = principal.organization_id
    found = await get_scoped(session, KeyResult, org, key_result_id)
    if found is None:
        raise NotFound.of("Key result", key_result_id)
    # Locked before anything is decided, in the order check-ins lock them (objective, then
    # key result): a second promotion, or a PATCH of `kpi_id`, waits here and is then seen;
    # checked before the lock, both promotions made a KPI and the last one's link won.
    await get_scoped(session, Objective, org, found.objective_id, for_update=True)
    kr = await get_scoped(session, KeyResult, org, key_result_id, for_update=True)
    if kr is None:
        raise NotFound.of("Key result", key_result_id)
    if kr.kpi_id is not None:
        raise ValidationFailed.on(
            "key_result_id", f"Key result is already driven by KPI {kr.kpi_id}."
        )
    kind = KeyResultType(kr.type)
    kpi = await kpis.create_kpi(
        session,
        principal,
        KpiCreate(
            key=data.key,
            name=data.name or kr.title[:200],
            description=kr.description,
            unit=kr.currency or kr.unit,
            owner_id=kr.owner_id,
            direction=Direction.LOWER_IS_BETTER
            if kind in LOWER_IS_BETTER
            else Direction.HIGHER_IS_BETTER,
            target=_kpi_target(kr, kind),
        ),
    )
    breach = breach_rule(definition_of(kr))
    if breach is not None:
        await rules_service.create_rule(session, principal, str(kpi.id), breach)
    check_ins = await goals_repository.check_ins_of(session, org, [kr.id])
    await readings_repository.insert_readings(session, org, history(kpi.id, check_ins))
    await session.refresh(kpi)
    await evaluate_on_ingest(session, org, [kpi.id], utcnow())
    await alignment.add_kpi_link(session, org, kr.objective_id, kpi.id)
    kr.kpi_id = kpi.id
    await session.flush()
    return kpi


def _kpi_target(kr: KeyResult, kind: KeyResultType) -> float | None:
    """A range has two bounds and no one target: its rule holds them (``breach_rule``)."""
    if kind is KeyResultType.MILESTONE:
        return 1.0
    return None if kind is KeyResultType.RANGE else kr.target


def breach_rule(d: KeyResultDefinition) -> AlertRuleCreate | None:
    """The rule that fires when the key result would not be met, where the KPI's default
    rule (below the target for higher is better, above it for lower) is not exactly that:
    a strict bound (``stay_above`` 90 not inclusive is missed at 90 itself) and a range
    (outside its bounds; a band's edges count as inside, so an exclusive range's edges are
    the one place the KPI is laxer than the key result). ``None``: the default rule fits,
    or a range of a single value, which no one rule can hold."""
    if d.type in (KeyResultType.STAY_ABOVE, KeyResultType.STAY_BELOW):
        if d.inclusive or d.target is None:
            return None
        operator = Operator.LTE if d.type is KeyResultType.STAY_ABOVE else Operator.GTE
        return _target_rule(operator, d.target)
    if d.type is KeyResultType.RANGE and d.lower is not None and d.upper is not None:
        if d.lower >= d.upper:
            return None
        return _target_rule(Operator.OUTSIDE, {"lo": d.lower, "hi": d.upper})
    return None


def _target_rule(operator: Operator, critical: Any) -> AlertRuleCreate:
    """Judges the latest value over a long window, as the default rule does."""
    return AlertRuleCreate(
        **TARGET_RULE,
        operator=operator,
        critical=critical,
        annotations={"summary": "outside the key result's bounds"},
    )


def history(kpi_id: uuid.UUID, check_ins: Sequence[CheckIn]) -> list[NewReading]:
    """Check-ins as readings, oldest first. Check-ins are newest first; of several at one
    time (a correction) the key result counts the one made last, and a KPI keeps the first
    reading of a time it is sent, so only that one is sent."""
    seen: set[tuple[str, datetime]] = set()
    latest: list[NewReading] = []
    for c in check_ins:
        if (c.source, c.observed_at) not in seen:
            seen.add((c.source, c.observed_at))
            latest.append(NewReading(kpi_id, c.source, c.observed_at, c.value))
    return latest[::-1]


async def _cycle(session: AsyncSession, org: uuid.UUID, ident: uuid.UUID) -> Cycle:
    row = await get_scoped(session, Cycle, org, ident)
    if row is None:
        raise NotFound.of("Cycle", ident)
    return row
