"""SQL for teams and their members."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Integer, delete, exists, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Objective, Person, Team, TeamMember

# The lock (``serialize_in_organization``) every change of a team's parent takes before it
# walks the new parent's ancestors: two changes checked at once could close a loop.
TEAM_PARENTS = "teams.parents"


async def member_ids_of(
    session: AsyncSession, organization_id: uuid.UUID, team_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    members: dict[uuid.UUID, list[uuid.UUID]] = {t: [] for t in team_ids}
    if not team_ids:
        return members
    stmt = (
        select(TeamMember.team_id, TeamMember.person_id)
        .where(TeamMember.organization_id == organization_id, TeamMember.team_id.in_(team_ids))
        .order_by(TeamMember.team_id, TeamMember.person_id)
    )
    for team_id, person_id in (await session.execute(stmt)).all():
        members[team_id].append(person_id)
    return members


async def existing_people(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not ids:
        return set()
    stmt = select(Person.id).where(Person.organization_id == organization_id, Person.id.in_(ids))
    return set((await session.scalars(stmt)).all())


async def replace_members(
    session: AsyncSession, organization_id: uuid.UUID, team_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    await add_members(session, organization_id, team_id, ids)


async def add_members(
    session: AsyncSession, organization_id: uuid.UUID, team_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    if not ids:
        return
    rows = [{"organization_id": organization_id, "team_id": team_id, "person_id": p} for p in ids]
    await session.execute(insert(TeamMember).values(rows).on_conflict_do_nothing())


async def remove_member(session: AsyncSession, team_id: uuid.UUID, person_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.person_id == person_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def ancestors(
    session: AsyncSession, organization_id: uuid.UUID, start: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """``start`` and its parent teams upwards, in one recursive query."""
    base = (
        select(Team.id, Team.parent_id, literal(1, Integer).label("depth"))
        .where(Team.organization_id == organization_id, Team.id == start)
        .cte("lineage", recursive=True)
    )
    step = (
        select(Team.id, Team.parent_id, (base.c.depth + 1).label("depth"))
        .join(base, Team.id == base.c.parent_id)
        .where(Team.organization_id == organization_id, base.c.depth < limit)
    )
    lineage = base.union(step)
    return list((await session.scalars(select(lineage.c.id))).all())


async def has_children(
    session: AsyncSession, organization_id: uuid.UUID, team_id: uuid.UUID
) -> bool:
    stmt = select(
        exists().where(Team.organization_id == organization_id, Team.parent_id == team_id)
    )
    return bool((await session.execute(stmt)).scalar())


async def external_id_taken(
    session: AsyncSession, organization_id: uuid.UUID, external_id: str, excluding: uuid.UUID | None
) -> bool:
    stmt = select(Team.id).where(
        Team.organization_id == organization_id, Team.external_id == external_id
    )
    if excluding is not None:
        stmt = stmt.where(Team.id != excluding)
    return (await session.execute(stmt.limit(1))).first() is not None


async def members_of(
    session: AsyncSession, organization_id: uuid.UUID, team_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Person]]:
    """The members of many teams in one query, each team's ordered by user name."""
    members: dict[uuid.UUID, list[Person]] = {t: [] for t in team_ids}
    if not team_ids:
        return members
    stmt = (
        select(TeamMember.team_id, Person)
        .join(Person, Person.id == TeamMember.person_id)
        .where(
            TeamMember.organization_id == organization_id,
            Person.organization_id == organization_id,
            TeamMember.team_id.in_(team_ids),
        )
        .order_by(TeamMember.team_id, Person.user_name, Person.id)
    )
    for team_id, person in (await session.execute(stmt)).all():
        members[team_id].append(person)
    return members


async def teams_by_external_id(
    session: AsyncSession, organization_id: uuid.UUID, external_ids: Sequence[str]
) -> dict[str, Team]:
    if not external_ids:
        return {}
    stmt = select(Team).where(
        Team.organization_id == organization_id, Team.external_id.in_(external_ids)
    )
    return {team.external_id or "": team for team in (await session.scalars(stmt)).all()}


async def children_of(
    session: AsyncSession, organization_id: uuid.UUID, parent_ids: Sequence[uuid.UUID]
) -> list[Team]:
    """The sub-teams of many teams in one query, by name."""
    stmt = (
        select(Team)
        .where(Team.organization_id == organization_id, Team.parent_id.in_(parent_ids))
        .order_by(Team.name, Team.id)
    )
    return list((await session.scalars(stmt)).all())


async def objectives_of_teams(
    session: AsyncSession, organization_id: uuid.UUID, team_ids: Sequence[uuid.UUID]
) -> list[Objective]:
    stmt = (
        select(Objective)
        .where(Objective.organization_id == organization_id, Objective.team_id.in_(team_ids))
        .order_by(Objective.created_at, Objective.id)
    )
    return list((await session.scalars(stmt)).all())
