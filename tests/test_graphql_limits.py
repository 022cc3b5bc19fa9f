"""GraphQL under load: statement counts (no N+1), concurrent siblings, and query limits."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from service.graphql import context as graphql_context
from service.models import CheckIn, KeyResult, Objective, Person, Team, TeamMember
from tests.conftest import Tenant
from tests.test_graphql import data, gql

NESTED = """{ objectives(first: 200) { edges { node { id title
    keyResults { id title checkIns(first: 5) { value observedAt } }
    owner { userName } team { name } } } } }"""


async def seed(
    app: FastAPI, tenant: Tenant, cycle_id: str, objectives: int, start: int = 0
) -> None:
    """Objectives owned by distinct people and teams, two key results with three check-ins
    each, written straight through the ORM (the REST round trips would dominate the test)."""
    org = tenant.organization_id
    now = datetime.now(UTC)
    async with app.state.sessionmaker() as session:
        for i in range(start, start + objectives):
            person = Person(organization_id=org, user_name=f"p{i}", display_name=f"P{i}")
            team = Team(organization_id=org, name=f"T{i}")
            session.add_all([person, team])
            await session.flush()
            session.add(TeamMember(organization_id=org, team_id=team.id, person_id=person.id))
            objective = Objective(
                organization_id=org,
                cycle_id=uuid.UUID(cycle_id),
                title=f"O{i}",
                owner_id=person.id,
                team_id=team.id,
            )
            session.add(objective)
            await session.flush()
            for k in range(2):
                kr = KeyResult(organization_id=org, objective_id=objective.id, title=f"K{k}",
                               type="increase", start=0, target=10, current=3)  # fmt: skip
                session.add(kr)
                await session.flush()
                session.add_all(
                    CheckIn(
                        organization_id=org,
                        key_result_id=kr.id,
                        value=v,
                        observed_at=now - timedelta(days=v),
                        progress_before=0,
                    )
                    for v in (1, 2, 3)
                )
        await session.commit()


@contextmanager
def count_statements(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_nested_query_statement_count_does_not_grow(
    app: FastAPI, tenant: Tenant, cycle: dict[str, Any]
) -> None:
    counts: dict[int, int] = {}
    for before, total in ((0, 5), (5, 50)):
        await seed(app, tenant, cycle["id"], total - before, start=before)
        with count_statements(app) as statements:
            got = await data(tenant, NESTED)
        edges = got["objectives"]["edges"]
        assert len(edges) == total
        assert all(len(e["node"]["keyResults"]) == 2 for e in edges)
        assert all(len(k["checkIns"]) == 3 for e in edges for k in e["node"]["keyResults"])
        assert all(e["node"]["owner"] and e["node"]["team"] for e in edges)
        counts[total] = len(statements)
    # The API key (plus its last-used update at most once a minute); objectives, cycles and
    # key results (the service, whose rows prime the loaders); check-ins, people and teams
    # (one batch each). Measured: 7 statements for 5 objectives and for 50.
    assert counts[5] == counts[50], counts
    assert counts[50] <= 8, counts


CONCURRENT = """{
  a: objectives(first: 30) { edges { node { id
      keyResults { id checkIns(first: 2) { value } owner { id } objective { id } }
      owner { manager { id } } team { members { id } parent { id } } cycle { id }
      progress { value } pace { status } } } }
  b: objectives(first: 10, status: DRAFT) { edges { node { id keyResults { checkIns { id } } } } }
  people(first: 100) { edges { node { id manager { id } } } }
  teams(first: 100) { edges { node { id members { userName } parent { name } } } }
  cycles { edges { node { id } } }
}"""


class SessionUse:
    """Records, per AsyncSession, the most tasks ever inside it at the same moment."""

    def __init__(self) -> None:
        self.inside: dict[int, dict[asyncio.Task[Any], int]] = defaultdict(dict)
        self.most = 0

    def watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("execute", "scalars", "scalar", "flush", "get"):
            monkeypatch.setattr(AsyncSession, name, self._wrap(getattr(AsyncSession, name)))

    def _wrap(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def watched(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            assert task is not None
            tasks = self.inside[id(session)]
            tasks[task] = tasks.get(task, 0) + 1  # re-entry (scalars -> execute) is one use
            self.most = max(self.most, len(tasks))
            try:
                return await method(session, *args, **kwargs)
            finally:
                tasks[task] -= 1
                if not tasks[task]:
                    del tasks[task]

        return watched


async def test_sibling_lists_never_share_the_session_at_once(
    app: FastAPI, tenant: Tenant, cycle: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five root lists and nested sibling lists resolve concurrently, and every loader batch
    is its own task, all on the request's one AsyncSession. ``ctx.db_lock`` lets only one
    of them use it at a time: the document is answered completely and the session is never
    entered by two tasks at once. Without the lock it is (see the next test), which is
    sqlalchemy issue 10092: interleaved autoflushes, "concurrent operations are not
    permitted" and corrupted results, depending on timing."""
    await seed(app, tenant, cycle["id"], 30)
    use = SessionUse()
    use.watch(monkeypatch)
    for _ in range(5):
        got = await data(tenant, CONCURRENT)
        assert len(got["a"]["edges"]) == 30 and len(got["b"]["edges"]) == 10
        assert len(got["people"]["edges"]) == 30 and len(got["teams"]["edges"]) == 30
        node = got["a"]["edges"][0]["node"]
        assert len(node["keyResults"]) == 2 and len(node["team"]["members"]) == 1
    # Clients also send documents in parallel: each request has its own session and lock.
    bodies = await asyncio.gather(*(gql(tenant, CONCURRENT) for _ in range(4)))
    assert all("errors" not in body for body in bodies)
    assert use.most == 1


class NoLock:
    """What ``ctx.db_lock`` would be without the policy: lets every coroutine through."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_exc: object) -> None:
        return None


async def test_without_the_lock_siblings_would_share_the_session(
    app: FastAPI, tenant: Tenant, cycle: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the test above: the same document with the lock taken away."""
    await seed(app, tenant, cycle["id"], 5)
    use = SessionUse()
    use.watch(monkeypatch)
    monkeypatch.setattr(graphql_context, "Lock", NoLock)
    await tenant.post("/graphql", json={"query": CONCURRENT})
    assert use.most > 1


async def test_depth_limit(tenant: Tenant) -> None:
    deep = f'{{ person(id: "{uuid.uuid4()}") {{ {"manager { " * 10} id {"}" * 10} }} }}'
    body = await gql(tenant, deep)
    assert body["data"] is None
    assert "exceeds maximum operation depth of 10" in body["errors"][0]["message"]
    ok = f'{{ person(id: "{uuid.uuid4()}") {{ {"manager { " * 5} id {"}" * 5} }} }}'
    assert "errors" not in await gql(tenant, ok)


async def test_alias_limit(tenant: Tenant) -> None:
    many = (
        "{" + " ".join(f"c{i}: cycles(first: 1) {{ edges {{ cursor }} }}" for i in range(16)) + "}"
    )
    body = await gql(tenant, many)
    assert body["data"] is None
    assert body["errors"][0]["message"] == "16 aliases found. Allowed: 15"
    fifteen = "{" + " ".join(f"c{i}: __typename" for i in range(15)) + "}"
    assert "errors" not in await gql(tenant, fifteen)


async def test_token_limit(tenant: Tenant) -> None:
    response = await tenant.post("/graphql", json={"query": "{" + "__typename " * 2000 + "}"})
    body = response.json()
    assert body["data"] is None
    assert "Document contains more than 2000 tokens" in body["errors"][0]["message"]
