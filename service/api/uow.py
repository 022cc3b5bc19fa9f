"""One session and one transaction per request, committed before the response is sent.

Reads (``GET``, ``HEAD``) run in autocommit instead: at READ COMMITTED each statement sees
its own snapshot either way, and a read's only write (an API key's ``last_used_at``)
stands on its own. So do requests to endpoints marked ``stores_in_own_transaction``
(readings, stored by the group commit in ``kpis/combiner.py``), unless they carry an
``Idempotency-Key``: the key is then stored with the change, in the request's transaction.

Committing here (not in a dependency's teardown) means a failed commit becomes the
response, and an idempotency record is stored in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute, APIRouter

from service.api.idempotency import IdempotentReplay, idempotency_guard, store_response
from service.api.openapi import problem_responses

_READS = frozenset({"GET", "HEAD"})
_OWN_TRANSACTION = "stores_in_own_transaction"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def stores_in_own_transaction(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint whose writes go through a transaction of their own: its request's
    session only reads, in autocommit (no BEGIN and COMMIT around a few lookups), unless
    the request carries an ``Idempotency-Key``."""
    setattr(endpoint, _OWN_TRANSACTION, True)
    return endpoint


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        own_transaction = getattr(self.endpoint, _OWN_TRANSACTION, False)

        async def run_in_transaction(request: Request) -> Response:
            state = request.app.state
            autocommit = request.method in _READS or (
                own_transaction and "idempotency-key" not in request.headers
            )
            sessions = state.read_sessionmaker if autocommit else state.sessionmaker
            async with sessions() as session:
                request.state.session = session
                try:
                    response = await handler(request)
                except IdempotentReplay as replay:
                    await session.rollback()
                    return replay.response
                except BaseException:
                    await session.rollback()
                    raise
                if response.status_code >= 400:
                    await session.rollback()
                    return response
                await store_response(request, response)
                await session.commit()
                return response

        return run_in_transaction


def domain_router(**kwargs: Any) -> APIRouter:
    """A ``/v1`` router whose routes each run in one unit of work, honour ``Idempotency-Key``
    and document their problem responses. The prefix lives here, not on an enclosing router,
    so each route's own path is the full template that logs and metrics report."""
    return APIRouter(
        prefix="/v1",
        route_class=UnitOfWorkRoute,
        dependencies=[Depends(idempotency_guard)],
        responses=problem_responses(),
        **kwargs,
    )
