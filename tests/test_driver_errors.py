"""Errors raised by asyncpg itself (the raw hot paths) get the same problems as SQLAlchemy's."""

from __future__ import annotations

import json

import asyncpg
import pytest
from starlette.requests import Request

from service.api import problems


def request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/v1/readings", "headers": []})


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), 503),
        (asyncpg.exceptions.SerializationError("could not serialize"), 503),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), 409),
        (asyncpg.exceptions.ForeignKeyViolationError("no such row"), 422),
        (asyncpg.exceptions.NumericValueOutOfRangeError("out of range"), 422),
        (asyncpg.exceptions.AdminShutdownError("terminating"), 503),
    ],
)
async def test_driver_errors_become_problems_not_500(error: Exception, status: int) -> None:
    response = await problems._database_error(request(), error)
    assert response.status_code == status
    body = json.loads(bytes(response.body))
    assert body["status"] == status
    if status == 503:
        assert "retry-after" in response.headers
