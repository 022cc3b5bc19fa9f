"""DataLoaders, built per request by the context; every batch runs under the request lock.

Each loader turns the keys collected in one tick into one repository call, so a nested
query costs a fixed number of statements however many rows it returns. Rows are always
scoped to the caller's organization: another tenant's id loads as ``None``.
"""

from __future__ import annotations

import uuid
from asyncio import Lock
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from service.alignment import repository as alignment_repository
from service.alignment import service as alignment_service
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.repository import get_many_scoped
from service.goals import repository as goals_repository
from service.kpis import rules_repository
from service.models import (
    AlertRule,
    AlertState,
    CheckIn,
    Cycle,
    KeyResult,
    Kpi,
    Objective,
    ObjectiveLink,
    Person,
    Team,
)
from service.people import repository as people_repository
from service.teams import repository as teams_repository

M = TypeVar("M", Cycle, Objective, KeyResult, Person, Team, Kpi, AlertRule)
R = TypeVar("R")
G = TypeVar("G")

CheckInKey = tuple[uuid.UUID, int]
"""``(key_result_id, first)``: the newest ``first`` check-ins of a key result."""


class Loaders:
    def __init__(self, session: AsyncSession, principal: Principal, lock: Lock) -> None:
        self._session = session
        self._principal = principal
        self._lock = lock
        self.cycle = self._by_id(Cycle)
        self.objective = self._by_id(Objective)
        self.key_result = self._by_id(KeyResult)
        self.person = self._by_id(Person)
        self.team = self._by_id(Team)
        self.key_results_by_objective = DataLoader[uuid.UUID, list[KeyResult]](self._key_results)
        self.check_ins_by_key_result = DataLoader[CheckInKey, list[CheckIn]](self._check_ins)
        self.members_by_team = DataLoader[uuid.UUID, list[Person]](self._members)
        self.kpi = self._by_id(Kpi)
        self.alert_rule = self._by_id(AlertRule)
        self.rules_by_kpi = DataLoader[uuid.UUID, list[AlertRule]](self._rules)
        self.alerts_by_kpi = DataLoader[uuid.UUID, list[AlertState]](self._alerts)
        self.reports_by_manager = self._grouped(people_repository.reports_of, "manager_id")
        self.objectives_by_owner = self._grouped(people_repository.objectives_owned_by, "owner_id")
        self.kpis_by_owner = self._grouped(people_repository.kpis_owned_by, "owner_id")
        self.objectives_by_team = self._grouped(teams_repository.objectives_of_teams, "team_id")
        self.teams_by_parent = self._grouped(teams_repository.children_of, "parent_id")
        self.parents_by_objective = DataLoader[uuid.UUID, list[ObjectiveLink]](self._parents)
        self.children_by_objective = DataLoader[uuid.UUID, list[ObjectiveLink]](self._children)
        self.standing = DataLoader[uuid.UUID, alignment_service.Standing | None](self._standings)

    def clear_all(self) -> None:
        """Forget cached rows, e.g. after a mutation changed them."""
        for loader in vars(self).values():
            if isinstance(loader, DataLoader):
                loader.clear_all()

    async def _locked(self, query: Callable[..., Awaitable[R]], *args: Any) -> R:
        require(self._principal, Scope.READ)
        async with self._lock:
            return await query(self._session, self._principal.organization_id, *args)

    def _by_id(self, model: type[M]) -> DataLoader[uuid.UUID, M | None]:
        async def load(ids: list[uuid.UUID]) -> Sequence[M | None]:
            rows: list[M] = await self._locked(_get_many, model, ids)
            found = {row.id: row for row in rows}
            return [found.get(ident) for ident in ids]

        return DataLoader(load)

    def _grouped(
        self, query: Callable[..., Awaitable[Sequence[G]]], key: str
    ) -> DataLoader[uuid.UUID, list[G]]:
        """A loader of the rows whose foreign key ``key`` is each id: one query per batch."""

        async def load(ids: list[uuid.UUID]) -> Sequence[list[G]]:
            grouped: dict[uuid.UUID, list[G]] = defaultdict(list)
            for row in await self._locked(query, ids):
                grouped[getattr(row, key)].append(row)
            return [grouped[ident] for ident in ids]

        return DataLoader(load)

    async def _key_results(self, ids: list[uuid.UUID]) -> Sequence[list[KeyResult]]:
        rows = await self._locked(goals_repository.key_results_of, ids)
        grouped: dict[uuid.UUID, list[KeyResult]] = defaultdict(list)
        for row in rows:
            grouped[row.objective_id].append(row)
        return [grouped[ident] for ident in ids]

    async def _check_ins(self, keys: list[CheckInKey]) -> Sequence[list[CheckIn]]:
        # One statement per distinct `first` in the document (usually exactly one).
        grouped: dict[CheckInKey, list[CheckIn]] = defaultdict(list)
        for first in sorted({first for _, first in keys}):
            ids = [ident for ident, f in keys if f == first]
            for row in await self._locked(goals_repository.check_ins_of, ids, first):
                grouped[(row.key_result_id, first)].append(row)
        return [grouped[key] for key in keys]

    async def _members(self, ids: list[uuid.UUID]) -> Sequence[list[Person]]:
        members = await self._locked(teams_repository.members_of, ids)
        return [members[ident] for ident in ids]

    async def _rules(self, ids: list[uuid.UUID]) -> Sequence[list[AlertRule]]:
        grouped: dict[uuid.UUID, list[AlertRule]] = defaultdict(list)
        for row in await self._locked(rules_repository.rules_of_kpis, ids):
            grouped[row.kpi_id].append(row)
        return [grouped[ident] for ident in ids]

    async def _alerts(self, ids: list[uuid.UUID]) -> Sequence[list[AlertState]]:
        grouped: dict[uuid.UUID, list[AlertState]] = defaultdict(list)
        for row in await self._locked(rules_repository.states_of_kpis, ids):
            grouped[row.kpi_id].append(row)
        return [grouped[ident] for ident in ids]

    async def _parents(self, ids: list[uuid.UUID]) -> Sequence[list[ObjectiveLink]]:
        grouped: dict[uuid.UUID, list[ObjectiveLink]] = defaultdict(list)
        for row in await self._locked(alignment_repository.links_of, ids, True):
            grouped[row.child_id].append(row)
        return [grouped[ident] for ident in ids]

    async def _children(self, ids: list[uuid.UUID]) -> Sequence[list[ObjectiveLink]]:
        grouped: dict[uuid.UUID, list[ObjectiveLink]] = defaultdict(list)
        for row in await self._locked(alignment_repository.links_of, ids, False):
            grouped[row.parent_id].append(row)
        return [grouped[ident] for ident in ids]

    async def _standings(self, ids: list[uuid.UUID]) -> Sequence[alignment_service.Standing | None]:
        found = await self._locked(alignment_service.standings_of, ids)
        return [found.get(ident) for ident in ids]


async def _get_many(
    session: AsyncSession, organization_id: uuid.UUID, model: type[M], ids: list[uuid.UUID]
) -> list[M]:
    return await get_many_scoped(session, model, organization_id, ids)
