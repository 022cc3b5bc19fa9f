"""Ownership that survives people leaving: deactivation applies the organization's
orphan policy and records the events, in the caller's transaction.

``flag`` (the default) leaves what the person owned in place; it is *orphaned* while its
owner is inactive (``GET /v1/objectives?orphaned=true``), and stops being so if they are
reactivated. ``reassign_to_manager`` moves it to the nearest active manager up the chain,
or flags it when there is none.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.common.repository import get_many_scoped
from service.events.outbox import record_event
from service.models import Person
from service.models.base import utcnow
from service.organizations import repository as organizations_repository
from service.people import repository

MAX_MANAGER_DEPTH = 100


class OrphanPolicy(StrEnum):
    FLAG = "flag"
    REASSIGN_TO_MANAGER = "reassign_to_manager"


async def set_active(session: AsyncSession, person: Person, active: bool) -> None:
    """Change ``active``; a deactivation applies the orphan policy, with its events."""
    if person.active == active:
        return
    person.active = active
    await session.flush()
    now = utcnow()
    org = person.organization_id
    if active:
        await record_event(session, org, "person.reactivated", now, {"person_id": person.id})
        return
    await record_event(
        session,
        org,
        "person.deactivated",
        now,
        {"person_id": person.id, "user_name": person.user_name, "external_id": person.external_id},
    )
    await _apply_orphan_policy(session, person, now)


async def _apply_orphan_policy(session: AsyncSession, person: Person, now: datetime) -> None:
    org = person.organization_id
    policy = OrphanPolicy((await organizations_repository.get(session, org)).orphan_policy)
    heir = (
        await _active_manager(session, person)
        if policy is OrphanPolicy.REASSIGN_TO_MANAGER
        else None
    )
    if heir is not None:
        objectives, key_results, kpis = await repository.reassign(
            session, org, person.id, heir, now
        )
        event, extra = "ownership.reassigned", {"to_person_id": str(heir)}
    else:
        owned = await repository.owned(session, org, person.id)
        objectives, key_results, kpis = ([row.id for row in rows] for rows in owned)
        reason = "policy" if policy is OrphanPolicy.FLAG else "no_active_manager"
        event, extra = "ownership.orphaned", {"reason": reason}
    if not (objectives or key_results or kpis):
        return
    data: dict[str, Any] = {
        "person_id": person.id,
        "policy": str(policy),
        "objective_ids": objectives,
        "key_result_ids": key_results,
        "kpi_ids": kpis,
        **extra,
    }
    await record_event(session, org, event, now, data)


async def _active_manager(session: AsyncSession, person: Person) -> uuid.UUID | None:
    """The nearest active person up the management chain, if any."""
    chain = await repository.manager_chain(
        session, person.organization_id, person.id, MAX_MANAGER_DEPTH
    )
    managers = [ident for ident in chain if ident != person.id]
    rows = await get_many_scoped(session, Person, person.organization_id, managers)
    active = {row.id for row in rows if row.active}
    return next((ident for ident in managers if ident in active), None)
