"""What a database failure means to a client, for REST problems and GraphQL errors alike.

The ORM paths raise SQLAlchemy's wrappers; the hot paths (readings, trees, the webhook
queue) talk to asyncpg directly and raise its own exceptions. Both carry a SQLSTATE, and
the same SQLSTATE gets the same answer whichever API the request came through.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from service.errors import Conflict, ServiceError, ServiceUnavailable, ValidationFailed

DATABASE_ERRORS = (
    DBAPIError,
    StaleDataError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    # A server that is down fails asyncpg's connect with a bare OSError that SQLAlchemy does
    # not wrap (no socket file: FileNotFoundError; a TCP timeout: TimeoutError). A request's
    # only I/O is the database (the webhook URL check handles its own resolver errors), so
    # an OSError reaching the API is an outage.
    OSError,
)


def sqlstate_of(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return str(state or "")


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The database is unavailable; retry shortly.")


def service_error_for(exc: BaseException) -> ServiceError | None:
    """The client's error for a database failure; ``None`` when it is our bug (a 500)."""
    if getattr(exc, "connection_invalidated", False):
        # SQLAlchemy saw the connection break under its statement and dropped it from the
        # pool (on the raw hot paths, ``connection_lost`` below tells): an outage.
        return unavailable()
    if isinstance(exc, StaleDataError):
        return Conflict("The resource was changed by another request; read it again and retry.")
    sqlstate = sqlstate_of(exc)
    if sqlstate == "23505":
        return Conflict(
            "A resource with these unique values already exists.", scim_type="uniqueness"
        )
    if sqlstate.startswith("23"):
        return ValidationFailed("The change breaks a data constraint (a reference or a bound).")
    if sqlstate in ("40001", "40P01"):  # serialization failure, deadlock: safe to retry
        return ServiceUnavailable("A concurrent change conflicted; retry shortly.", retry_after=1)
    if sqlstate.startswith("22"):  # data exception: out of range, bad encoding
        return ValidationFailed("A value is out of the range the store accepts.")
    if connection_lost(exc) or isinstance(
        exc, OperationalError | InterfaceError | asyncpg.InterfaceError
    ):
        return unavailable()
    return None


def connection_lost(exc: BaseException) -> bool:
    """Whether a driver error says the connection can no longer be used: the server closed
    it or announced it would (SQLSTATE class 08, 57P), the socket failed (``OSError``), or
    asyncpg's protocol is left mid-operation. A server that shuts down or cuts a backend
    sends an unsolicited FATAL, which asyncpg reports on the next statement without a
    SQLSTATE: "connection was closed in the middle of operation", or (before it has seen
    the socket close) "another operation is in progress", an ``InternalClientError``.
    A bad argument (``asyncpg.DataError``) leaves the connection usable."""
    if isinstance(exc, asyncpg.DataError):
        return False
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError | OSError):
        return True
    return sqlstate_of(exc).startswith(("08", "57P"))
