"""OKR quality checks for a cycle: the seeds' common mistakes, pure (rows in, findings out).

Objectives of ``LEFT_OUT_STATUSES`` (and their key results) are not linted.

* ``too_many_objectives``: a team or person with more than 3 objectives in the cycle;
* ``key_result_count``: an objective with fewer than 3 or more than 5 key results;
* ``objective_without_owner`` / ``key_result_without_owner``: nobody is in charge (a key
  result without an owner of its own is owned by its objective's owner). A deactivated
  owner is nobody: people leave, their rows keep their id, and no one answers for them;
* ``kpi_without_target``: a KPI the cycle's objectives stand on (linked, or driving a key
  result) has neither a target nor an alert rule, so nothing tells when it falls short (a
  rule of its own says it as a target does: a range promoted to a KPI has only its
  ``outside`` band);
* ``key_result_not_measurable``: a definition progress cannot be computed from.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.goals.progress import KeyResultDefinition, definition_problems

MAX_OBJECTIVES = 3
MIN_KEY_RESULTS, MAX_KEY_RESULTS = 3, 5
# An archived objective is no longer part of the cycle's plan; a closed one was, and counts.
LEFT_OUT_STATUSES = ("archived",)


class Check(StrEnum):
    TOO_MANY_OBJECTIVES = "too_many_objectives"
    KEY_RESULT_COUNT = "key_result_count"
    OBJECTIVE_WITHOUT_OWNER = "objective_without_owner"
    KEY_RESULT_WITHOUT_OWNER = "key_result_without_owner"
    KPI_WITHOUT_TARGET = "kpi_without_target"
    KEY_RESULT_NOT_MEASURABLE = "key_result_not_measurable"


@dataclass(frozen=True)
class ObjectiveFacts:
    id: uuid.UUID
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None


@dataclass(frozen=True)
class KeyResultFacts:
    id: uuid.UUID
    objective_id: uuid.UUID
    owner_id: uuid.UUID | None
    definition: KeyResultDefinition


@dataclass(frozen=True)
class KpiFacts:
    id: uuid.UUID
    target: float | None
    has_rule: bool = False


@dataclass(frozen=True)
class Finding:
    check: Check
    message: str
    ids: list[uuid.UUID]
    subject_id: uuid.UUID | None = None


def lint(
    objectives: Sequence[ObjectiveFacts],
    key_results: Sequence[KeyResultFacts],
    kpis: Sequence[KpiFacts],
    inactive_owners: frozenset[uuid.UUID] = frozenset(),
) -> list[Finding]:
    """``inactive_owners``: the deactivated people among the rows' owners."""
    return [
        *_too_many(objectives),
        *_key_result_counts(objectives, key_results),
        *_owners(objectives, key_results, inactive_owners),
        *(
            Finding(
                Check.KPI_WITHOUT_TARGET,
                f"KPI {k.id} has no target and no alert rule.",
                [k.id],
                k.id,
            )
            for k in kpis
            if k.target is None and not k.has_rule
        ),
        *(
            Finding(
                Check.KEY_RESULT_NOT_MEASURABLE,
                "; ".join(message for _, message in definition_problems(kr.definition)),
                [kr.id],
                kr.id,
            )
            for kr in key_results
            if definition_problems(kr.definition)
        ),
    ]


def _too_many(objectives: Sequence[ObjectiveFacts]) -> list[Finding]:
    findings = []
    for kind, attribute in (("team", "team_id"), ("person", "owner_id")):
        groups: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for o in objectives:
            holder = getattr(o, attribute)
            if holder is not None:
                groups[holder].append(o.id)
        for holder, ids in groups.items():
            if len(ids) > MAX_OBJECTIVES:
                message = (
                    f"The {kind} {holder} has {len(ids)} objectives in the cycle; "
                    f"at most {MAX_OBJECTIVES} keep focus."
                )
                findings.append(Finding(Check.TOO_MANY_OBJECTIVES, message, ids, holder))
    return findings


def _key_result_counts(
    objectives: Sequence[ObjectiveFacts], key_results: Sequence[KeyResultFacts]
) -> list[Finding]:
    counts = {o.id: 0 for o in objectives}
    for kr in key_results:
        counts[kr.objective_id] = counts.get(kr.objective_id, 0) + 1
    return [
        Finding(
            Check.KEY_RESULT_COUNT,
            f"Objective {ident} has {n} key results; {MIN_KEY_RESULTS} to {MAX_KEY_RESULTS} "
            "is the rule.",
            [ident],
            ident,
        )
        for ident, n in counts.items()
        if not MIN_KEY_RESULTS <= n <= MAX_KEY_RESULTS
    ]


def _owners(
    objectives: Sequence[ObjectiveFacts],
    key_results: Sequence[KeyResultFacts],
    inactive: frozenset[uuid.UUID],
) -> list[Finding]:
    def lacks(owner_id: uuid.UUID | None) -> bool:
        return owner_id is None or owner_id in inactive

    def state(owner_id: uuid.UUID | None) -> str:
        return "no owner" if owner_id is None else f"an inactive owner ({owner_id})"

    owner_of = {o.id: o.owner_id for o in objectives}
    findings = [
        Finding(
            Check.OBJECTIVE_WITHOUT_OWNER,
            f"Objective {o.id} has {state(o.owner_id)}.",
            [o.id],
            o.id,
        )
        for o in objectives
        if lacks(o.owner_id)
    ]
    for kr in key_results:
        fallback = owner_of.get(kr.objective_id)
        if lacks(kr.owner_id) and lacks(fallback):
            message = (
                f"Key result {kr.id} has {state(kr.owner_id)}, "
                f"and its objective has {state(fallback)}."
            )
            findings.append(Finding(Check.KEY_RESULT_WITHOUT_OWNER, message, [kr.id], kr.id))
    return findings
