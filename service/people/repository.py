"""SQL for people."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import KeyResult, Kpi, Objective, Person


async def find_conflict(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    user_name: str | None,
    external_id: str | None,
    excluding: uuid.UUID | None,
) -> str | None:
    """Which unique field another person already holds, if any."""
    checks = (
        ("user_name", func.lower(Person.user_name) == (user_name or "").lower(), user_name),
        ("external_id", Person.external_id == external_id, external_id),
    )
    for name, clause, value in checks:
        if value is None:
            continue
        stmt = select(Person.id).where(Person.organization_id == organization_id, clause)
        if excluding is not None:
            stmt = stmt.where(Person.id != excluding)
        if (await session.execute(stmt.limit(1))).first() is not None:
            return name
    return None


async def manager_chain(
    session: AsyncSession, organization_id: uuid.UUID, start: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """``start`` and its managers upwards, nearest first, in one recursive query."""
    base = (
        select(Person.id, Person.manager_id, literal(1, Integer).label("depth"))
        .where(Person.organization_id == organization_id, Person.id == start)
        .cte("chain", recursive=True)
    )
    step = (
        select(Person.id, Person.manager_id, (base.c.depth + 1).label("depth"))
        .join(base, Person.id == base.c.manager_id)
        .where(Person.organization_id == organization_id, base.c.depth < limit)
    )
    chain = base.union(step)
    return list((await session.scalars(select(chain.c.id).order_by(chain.c.depth))).all())


# ---- ownership --------------------------------------------------------------------------

OPEN_OBJECTIVE_STATUSES = ("draft", "active")
# The lock (``serialize_in_organization``) every change of a manager takes before it walks
# the new manager's chain: two changes checked at once could make two people each other's.
MANAGERS = "people.managers"


def owner_is_inactive(owner_column: Any) -> ColumnElement[bool]:
    """Rows whose owner has been deactivated: what needs a new owner."""
    return exists().where(Person.id == owner_column, Person.active.is_(False))


def _open_objectives(org: uuid.UUID, person_id: uuid.UUID) -> Any:
    return select(Objective.id).where(
        Objective.organization_id == org,
        Objective.owner_id == person_id,
        Objective.status.in_(OPEN_OBJECTIVE_STATUSES),
    )


def _open_key_results(org: uuid.UUID, person_id: uuid.UUID) -> Any:
    return (
        select(KeyResult.id)
        .join(Objective, Objective.id == KeyResult.objective_id)
        .where(
            KeyResult.organization_id == org,
            KeyResult.owner_id == person_id,
            Objective.status.in_(OPEN_OBJECTIVE_STATUSES),
        )
    )


async def owned(
    session: AsyncSession, org: uuid.UUID, person_id: uuid.UUID
) -> tuple[list[Objective], list[KeyResult], list[Kpi]]:
    """What a person owns that is still in play: open objectives, key results of open
    objectives, and KPIs."""
    objectives = await session.scalars(
        select(Objective)
        .where(Objective.id.in_(_open_objectives(org, person_id)))
        .order_by(Objective.created_at, Objective.id)
    )
    key_results = await session.scalars(
        select(KeyResult)
        .where(KeyResult.id.in_(_open_key_results(org, person_id)))
        .order_by(KeyResult.created_at, KeyResult.id)
    )
    kpis = await session.scalars(
        select(Kpi)
        .where(Kpi.organization_id == org, Kpi.owner_id == person_id)
        .order_by(Kpi.created_at, Kpi.id)
    )
    return list(objectives.all()), list(key_results.all()), list(kpis.all())


async def reassign(
    session: AsyncSession,
    org: uuid.UUID,
    person_id: uuid.UUID,
    to: uuid.UUID,
    now: datetime,
) -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID]]:
    """Move what a person owns to someone else; each row's version moves too (ETags)."""
    moved: list[list[uuid.UUID]] = []
    targets: list[tuple[Any, Any]] = [
        (Objective, _open_objectives(org, person_id)),
        (KeyResult, _open_key_results(org, person_id)),
        (Kpi, select(Kpi.id).where(Kpi.organization_id == org, Kpi.owner_id == person_id)),
    ]
    for model, ids in targets:
        stmt = (
            update(model)
            .where(model.id.in_(ids))
            .values(owner_id=to, version=model.version + 1, updated_at=now)
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        moved.append(sorted((await session.scalars(stmt)).all()))
    return moved[0], moved[1], moved[2]


async def inactive_people(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID | None]
) -> frozenset[uuid.UUID]:
    """Those of these people who have been deactivated, in one statement."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return frozenset()
    stmt = select(Person.id).where(
        Person.organization_id == organization_id,
        Person.id.in_(wanted),
        Person.active.is_(False),
    )
    return frozenset((await session.scalars(stmt)).all())


async def all_people(session: AsyncSession, org: uuid.UUID) -> list[Person]:
    """Every person of the organization, locked: a sync matches a whole snapshot.

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: a sync never deletes a person or changes
    an id, and ``FOR UPDATE`` would also block the key-share lock every foreign-key check
    on ``people`` takes. A team membership added meanwhile (it locks its team, then its
    insert checks the person) then waited for the sync, while the sync waited for that
    team's rows to replace its members: a deadlock, and one side rolled back."""
    stmt = (
        select(Person)
        .where(Person.organization_id == org)
        .order_by(Person.created_at, Person.id)
        .with_for_update(key_share=True)
    )
    return list((await session.scalars(stmt)).all())


async def reports_of(
    session: AsyncSession, org: uuid.UUID, manager_ids: Sequence[uuid.UUID]
) -> list[Person]:
    """The direct reports of many managers in one query, by user name."""
    stmt = (
        select(Person)
        .where(Person.organization_id == org, Person.manager_id.in_(manager_ids))
        .order_by(Person.user_name, Person.id)
    )
    return list((await session.scalars(stmt)).all())


async def objectives_owned_by(
    session: AsyncSession, org: uuid.UUID, owner_ids: Sequence[uuid.UUID]
) -> list[Objective]:
    stmt = (
        select(Objective)
        .where(Objective.organization_id == org, Objective.owner_id.in_(owner_ids))
        .order_by(Objective.created_at, Objective.id)
    )
    return list((await session.scalars(stmt)).all())


async def kpis_owned_by(
    session: AsyncSession, org: uuid.UUID, owner_ids: Sequence[uuid.UUID]
) -> list[Kpi]:
    stmt = (
        select(Kpi)
        .where(Kpi.organization_id == org, Kpi.owner_id.in_(owner_ids))
        .order_by(Kpi.created_at, Kpi.id)
    )
    return list((await session.scalars(stmt)).all())
