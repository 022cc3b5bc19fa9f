"""The per-request GraphQL context: one session, one lock, the principal and the loaders.

Concurrency policy
------------------
Strawberry resolves sibling fields concurrently and runs every DataLoader batch as its own
task, but an ``AsyncSession`` (and the asyncpg connection under it) must never be used by
two coroutines at once (sqlalchemy issue 10092). Each request therefore has exactly ONE
session (the ``UnitOfWorkRoute`` one, committed before the response) guarded by ONE
``asyncio.Lock``:

* every database access from GraphQL (root resolvers, mutations, loader batch functions)
  runs inside ``async with ctx.db_lock``;
* the lock is never held while awaiting a DataLoader: loader batches take the lock
  themselves, so awaiting one under the lock would deadlock;
* DataLoaders are built here, per request, never at module level (they cache rows, and a
  cache shared between requests would leak data across organizations).

Queries stay cheap under the lock because loaders batch: a nested query costs one
statement per loader and level, not one per row.
"""

from __future__ import annotations

from asyncio import Lock
from typing import TypeAlias

import strawberry
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext

from service.api.deps import PrincipalDep, SessionDep
from service.auth.keys import Principal
from service.graphql.loaders import Loaders
from service.webhooks.secret_box import SecretBox
from service.webhooks.service import UrlPolicy


class Context(BaseContext):
    """What every resolver sees as ``info.context``."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        url_policy: UrlPolicy,
        secret_box: SecretBox,
    ) -> None:
        super().__init__()
        self.session = session
        self.principal = principal
        self.url_policy = url_policy
        self.secret_box = secret_box
        self.db_lock = Lock()
        self.loaders = Loaders(session, principal, self.db_lock)


Info: TypeAlias = strawberry.Info[Context, None]


async def get_context(session: SessionDep, principal: PrincipalDep, request: Request) -> Context:
    """Authenticate like REST: a missing or bad key raises ``Unauthorized`` here, which the
    app's exception handlers turn into a 401 ``application/problem+json``."""
    state = request.app.state
    return Context(session, principal, state.url_policy, state.secret_box)
