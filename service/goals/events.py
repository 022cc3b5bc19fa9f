"""Domain events of goals, written in the transaction of the change (the outbox).

Payloads are small and self-describing: ids, the fields a consumer routes on, and progress.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.events.outbox import record_event
from service.models import CheckIn, KeyResult, Objective
from service.models.base import utcnow


def objective_data(objective: Objective) -> dict[str, Any]:
    return {
        "id": objective.id,
        "title": objective.title,
        "cycle_id": objective.cycle_id,
        "owner_id": objective.owner_id,
        "team_id": objective.team_id,
        "status": objective.status,
        "progress": round(objective.progress_value, 4),
        "version": objective.version,
    }


def key_result_data(kr: KeyResult) -> dict[str, Any]:
    return {
        "id": kr.id,
        "objective_id": kr.objective_id,
        "title": kr.title,
        "type": kr.type,
        "owner_id": kr.owner_id,
        "kpi_id": kr.kpi_id,
        "current": kr.current,
        "target": kr.target,
        "progress": round(kr.progress_value, 4),
    }


async def objective_created(session: AsyncSession, objective: Objective) -> None:
    await record_event(
        session,
        objective.organization_id,
        "objective.created",
        utcnow(),
        {"objective": objective_data(objective)},
    )


async def objective_updated(
    session: AsyncSession, objective: Objective, changed: Iterable[str], previous_status: str
) -> None:
    """``objective.updated`` for any change; ``objective.status_changed`` as well when the
    status moved, so consumers of status alone need not diff."""
    now = utcnow()
    data = objective_data(objective)
    fields = sorted(changed)
    if fields:
        await record_event(
            session,
            objective.organization_id,
            "objective.updated",
            now,
            {"objective": data, "changed": fields},
        )
    if objective.status != previous_status:
        await record_event(
            session,
            objective.organization_id,
            "objective.status_changed",
            now,
            {"objective": data, "from": previous_status, "to": objective.status},
        )


async def key_result_created(session: AsyncSession, kr: KeyResult) -> None:
    await record_event(
        session,
        kr.organization_id,
        "key_result.created",
        utcnow(),
        {"key_result": key_result_data(kr)},
    )


async def key_result_checked_in(
    session: AsyncSession, kr: KeyResult, check_in: CheckIn | None, count: int = 1
) -> None:
    """One event per key result per request: a KPI batch that writes many check-ins on one
    key result reports how many, with the key result's resulting state."""
    data: dict[str, Any] = {"key_result": key_result_data(kr), "check_ins": count}
    if check_in is not None:
        data["check_in"] = {
            "id": check_in.id,
            "value": check_in.value,
            "confidence": check_in.confidence,
            "source": check_in.source,
            "observed_at": check_in.observed_at,
        }
    await record_event(session, kr.organization_id, "key_result.checked_in", utcnow(), data)
