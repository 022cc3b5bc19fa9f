"""Errors raised by asyncpg itself (the raw hot paths) get the same problems as SQLAlchemy's."""

from __future__ import annotations

import json

import asyncpg
import pytest
from graphql import GraphQLError
from starlette.requests import Request

from service.api import problems
from service.graphql import errors as graphql_errors


def request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/v1/readings", "headers": []})


DRIVER_ERRORS = [
    (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), 503),
    (asyncpg.exceptions.SerializationError("could not serialize"), 503),
    (asyncpg.exceptions.UniqueViolationError("duplicate key"), 409),
    (asyncpg.exceptions.ForeignKeyViolationError("no such row"), 422),
    (asyncpg.exceptions.NumericValueOutOfRangeError("out of range"), 422),
    (asyncpg.exceptions.AdminShutdownError("terminating"), 503),
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), 503),
    (ConnectionRefusedError("connection refused"), 503),
    # The embedded server's socket file is gone: PostgreSQL is down.
    (FileNotFoundError(2, "No such file or directory"), 503),
    # A FATAL arrived between statements (the server went down): no SQLSTATE.
    (asyncpg.exceptions.InternalClientError("another operation (2) is in progress"), 503),
]


@pytest.mark.parametrize(("error", "status"), DRIVER_ERRORS)
async def test_driver_errors_become_problems_not_500(error: Exception, status: int) -> None:
    response = await problems._database_error(request(), error)
    assert response.status_code == status
    body = json.loads(bytes(response.body))
    assert body["status"] == status
    if status == 503:
        assert "retry-after" in response.headers


@pytest.mark.parametrize(("error", "status"), DRIVER_ERRORS)
def test_graphql_maps_driver_errors_like_rest(error: Exception, status: int) -> None:
    mapped = graphql_errors._database_error(error)
    assert mapped.status == status
    coded = graphql_errors._coded(GraphQLError("boom", original_error=error))
    assert coded.extensions is not None
    assert coded.extensions["code"] == mapped.code
    assert coded.message == mapped.detail


def test_graphql_reraises_what_is_a_bug() -> None:
    bug = asyncpg.exceptions.UndefinedColumnError("column does not exist")
    with pytest.raises(asyncpg.exceptions.UndefinedColumnError):
        graphql_errors._database_error(bug)
    coded = graphql_errors._coded(GraphQLError("boom", original_error=bug))
    assert coded.extensions is not None and coded.extensions["code"] == "internal_error"
