"""Bulk HRIS sync: people and teams from one snapshot, with a result per row.

People are matched by ``external_id``, else by e-mail (case-insensitively); a row whose
``external_id`` nobody has yet adopts the person with its e-mail who has none (first synced
by e-mail alone). Managers and team members are resolved against the payload first, then
against stored people. ``full`` deactivates the active people the snapshot leaves out
(orphan policy and events apply). A row that errors still names its people: whoever its
``external_id`` or e-mail points at counts as in the snapshot, so a bad row never gets
anyone deactivated (nor their goals reassigned). A dry run does all of it inside a
savepoint and rolls it back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.repository import serialize_in_organization
from service.models import Person, Team
from service.models.base import utcnow
from service.people import ownership, repository
from service.people.schemas import (
    PeopleSync,
    PeopleSyncResult,
    SyncMode,
    SyncPerson,
    SyncRowResult,
    SyncTeam,
)
from service.teams import repository as teams_repository

MAX_DEPTH = 100


@dataclass
class _Directory:
    """The organization's people, indexed the ways a snapshot refers to them."""

    by_external_id: dict[str, Person] = field(default_factory=dict)
    by_email: dict[str, Person] = field(default_factory=dict)
    by_user_name: dict[str, Person] = field(default_factory=dict)

    def add(self, person: Person) -> None:
        if person.external_id:
            self.by_external_id[person.external_id] = person
        if person.email:
            self.by_email.setdefault(person.email.lower(), person)
        self.by_user_name[person.user_name.lower()] = person

    def forget(self, person: Person) -> None:
        """Drop the person's current keys before they change: a later row may take a user
        name or e-mail this person gave up, and must not be matched to (or blocked by) them."""
        entries = (
            (self.by_external_id, person.external_id or ""),
            (self.by_email, (person.email or "").lower()),
            (self.by_user_name, person.user_name.lower()),
        )
        for index, key in entries:
            if index.get(key) is person:
                del index[key]

    def find(self, key: str) -> Person | None:
        return self.by_external_id.get(key) or self.by_email.get(key.lower())

    def match(self, row: SyncPerson) -> Person | None:
        if row.external_id is not None:
            return self.by_external_id.get(row.external_id)
        return self.by_email.get(_email(row))

    def named_by(self, row: SyncPerson) -> list[Person]:
        """Everyone the row's ``external_id`` or e-mail points at, whether or not it applies."""
        named = [self.by_external_id.get(row.external_id or ""), self.by_email.get(_email(row))]
        return [person for person in named if person is not None]


def _email(row: SyncPerson) -> str:
    return (row.email or "").lower()


def _user_name(row: SyncPerson) -> str:
    return row.user_name or row.email or row.external_id or ""


def _resolve(directory: _Directory, row: SyncPerson) -> tuple[Person | None, str | None]:
    """The stored person a row updates (``None``: a new person), or why it cannot apply.

    The e-mail adoption runs before the user-name check: a person first synced by e-mail has
    that e-mail as user name, and it is no conflict when the row is about them."""
    person = directory.match(row)
    if person is None and row.external_id is not None and row.email:
        person = directory.by_email.get(_email(row))
        if person is not None and person.external_id is not None:
            return None, f"{row.email} belongs to external id {person.external_id!r}."
    user_name = _user_name(row)
    holder = directory.by_user_name.get(user_name.lower())
    if holder is not None and holder is not person:
        return person, f"Another person has user name {user_name!r}."
    return person, None


async def sync_people(
    session: AsyncSession, principal: Principal, data: PeopleSync
) -> PeopleSyncResult:
    require(principal, Scope.ADMIN if data.mode is SyncMode.FULL else Scope.WRITE)
    savepoint = await session.begin_nested()
    people, directory = await _sync_rows(session, principal.organization_id, data)
    teams = await _sync_teams(session, principal.organization_id, data.teams, directory)
    if data.dry_run:
        await savepoint.rollback()
        for row in people + teams:
            if row.result == "created":
                row.id = None
    else:
        await savepoint.commit()
    counts = Counter(row.result for row in people + teams)
    return PeopleSyncResult(
        mode=data.mode, dry_run=data.dry_run, people=people, teams=teams, counts=dict(counts)
    )


@dataclass
class _Rows:
    """What the upserts left for the later passes."""

    results: list[SyncRowResult] = field(default_factory=list)
    seen: set[uuid.UUID] = field(default_factory=set)
    stored: list[tuple[SyncPerson, Person, SyncRowResult]] = field(default_factory=list)


async def _sync_rows(
    session: AsyncSession, org: uuid.UUID, data: PeopleSync
) -> tuple[list[SyncRowResult], _Directory]:
    directory = _Directory()
    for person in await repository.all_people(session, org):
        directory.add(person)
    rows = await _upsert_rows(session, org, directory, data.people)
    for row, person, result in rows.stored:
        await _set_manager(session, directory, row, person, result)
        if person.active != row.active:
            await ownership.set_active(session, person, row.active)
            if result.result == "unchanged":
                result.result = "updated"
    if data.mode is SyncMode.FULL:
        for missing in await repository.all_people(session, org):
            if missing.active and missing.id not in rows.seen:
                await ownership.set_active(session, missing, False)
                key = missing.external_id or missing.user_name
                rows.results.append(
                    SyncRowResult(index=None, key=key, id=missing.id, result="deactivated")
                )
    return rows.results, directory


async def _upsert_rows(
    session: AsyncSession, org: uuid.UUID, directory: _Directory, people: list[SyncPerson]
) -> _Rows:
    rows = _Rows()
    keys: set[str] = set()
    for index, row in enumerate(people):
        key = row.external_id or _email(row)
        result = SyncRowResult(index=index, key=key, id=None, result="unchanged")
        rows.results.append(result)
        upserted = None
        if key in keys:
            result.result, result.errors = "error", ["The payload lists this person twice."]
        else:
            keys.add(key)
            upserted = await _upsert(session, org, directory, row, result)
        if upserted is None:
            # The snapshot still holds whoever this row names: `full` must keep them.
            rows.seen.update(person.id for person in directory.named_by(row))
            continue
        rows.seen.add(upserted.id)
        rows.stored.append((row, upserted, result))
    return rows


async def _upsert(
    session: AsyncSession,
    org: uuid.UUID,
    directory: _Directory,
    row: SyncPerson,
    result: SyncRowResult,
) -> Person | None:
    person, problem = _resolve(directory, row)
    if problem is not None:
        result.result, result.errors = "error", [problem]
        return None
    values = {
        "external_id": row.external_id,
        "email": row.email,
        "user_name": _user_name(row),
        "display_name": row.display_name,
        "title": row.title,
        "employee_number": row.employee_number,
        "department": row.department,
    }
    if person is None:
        person = Person(organization_id=org, active=row.active, **values)
        session.add(person)
        await session.flush()
        result.result = "created"
    else:
        if row.external_id is None:
            values["external_id"] = person.external_id
        changed = {k: v for k, v in values.items() if getattr(person, k) != v}
        if changed:
            directory.forget(person)
            for name, value in changed.items():
                setattr(person, name, value)
            await session.flush()
            result.result = "updated"
    result.id = person.id
    directory.add(person)
    return person


async def _set_manager(
    session: AsyncSession,
    directory: _Directory,
    row: SyncPerson,
    person: Person,
    result: SyncRowResult,
) -> None:
    manager = directory.find(row.manager) if row.manager is not None else None
    if row.manager is not None and manager is None:
        result.errors.append(f"There is no manager {row.manager!r}.")
        return
    manager_id = manager.id if manager is not None else None
    if manager_id == person.manager_id:
        return
    if manager_id is not None:
        await serialize_in_organization(session, repository.MANAGERS, person.organization_id)
        chain = await repository.manager_chain(
            session, person.organization_id, manager_id, MAX_DEPTH
        )
        if person.id in chain:
            result.errors.append(f"{row.manager!r} reports to this person: manager left as is.")
            return
    person.manager_id = manager_id
    await session.flush()
    if result.result == "unchanged":
        result.result = "updated"


async def _sync_teams(
    session: AsyncSession, org: uuid.UUID, rows: list[SyncTeam], directory: _Directory
) -> list[SyncRowResult]:
    existing = await teams_repository.teams_by_external_id(
        session, org, [row.external_id for row in rows]
    )
    results: list[SyncRowResult] = []
    for index, row in enumerate(rows):
        result = SyncRowResult(index=index, key=row.external_id, id=None, result="unchanged")
        results.append(result)
        team = existing.get(row.external_id)
        if team is None:
            team = Team(organization_id=org, external_id=row.external_id, name=row.name)
            session.add(team)
            await session.flush()
            existing[row.external_id] = team
            result.result = "created"
        elif team.name != row.name:
            team.name = row.name
            result.result = "updated"
        result.id = team.id
    for row, result in zip(rows, results, strict=True):
        team = existing[row.external_id]
        await _team_links(session, org, row, team, existing, directory, result)
    return results


async def _team_links(
    session: AsyncSession,
    org: uuid.UUID,
    row: SyncTeam,
    team: Team,
    teams: dict[str, Team],
    directory: _Directory,
    result: SyncRowResult,
) -> None:
    parent = teams.get(row.parent) if row.parent is not None else None
    if row.parent is not None and parent is None:
        parent = (await teams_repository.teams_by_external_id(session, org, [row.parent])).get(
            row.parent
        )
    if row.parent is not None and parent is None:
        result.errors.append(f"There is no team {row.parent!r}.")
    elif (parent.id if parent else None) != team.parent_id:
        await serialize_in_organization(session, teams_repository.TEAM_PARENTS, org)
        lineage = (
            await teams_repository.ancestors(session, org, parent.id, MAX_DEPTH) if parent else []
        )
        if team.id in lineage:
            result.errors.append(f"{row.parent!r} is this team or one of its sub-teams.")
        else:
            team.parent_id = parent.id if parent else None
            result.result = "updated" if result.result == "unchanged" else result.result
    if row.members is not None:
        members = [directory.find(key) for key in row.members]
        missing = [key for key, m in zip(row.members, members, strict=True) if m is None]
        if missing:
            result.errors.append(f"There are no people {', '.join(missing[:5])}.")
        ids = list(dict.fromkeys(m.id for m in members if m is not None))
        before = (await teams_repository.member_ids_of(session, org, [team.id]))[team.id]
        if sorted(before) != sorted(ids):
            await teams_repository.replace_members(session, org, team.id, ids)
            result.result = "updated" if result.result == "unchanged" else result.result
            team.updated_at = utcnow()
    await session.flush()
