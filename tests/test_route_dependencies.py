"""Every dependency of every route is a coroutine: FastAPI runs a plain ``def`` dependency
in its thread pool, a thread hop (and a wait for the GIL) on every request for what is
usually one attribute read."""

from __future__ import annotations

import inspect

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from tests.test_scopes import _routes


def calls_of(dependant: Dependant) -> list[object]:
    found = []
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.append(sub.call)
        found += calls_of(sub)
    return found


def is_coroutine(call: object) -> bool:
    if inspect.isroutine(call):
        return inspect.iscoroutinefunction(call)
    return inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004


async def test_every_route_dependency_is_async(app: FastAPI) -> None:
    routes = [r for r in _routes(app) if getattr(r, "dependant", None) is not None]
    assert len(routes) > 50
    sync = {
        f"{route.path} {getattr(call, '__qualname__', type(call).__qualname__)}"
        for route in routes
        for call in calls_of(route.dependant)
        if not is_coroutine(call)
    }
    assert sync == set()
