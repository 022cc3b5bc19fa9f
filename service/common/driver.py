"""The asyncpg connection under a session, for the statements the hot paths send straight
through the driver, and what to do when that connection breaks under them.

SQLAlchemy notices a connection that broke under one of its own statements and drops it
from the pool. A statement sent through asyncpg directly bypasses that. asyncpg closes the
connection itself when most of its operations find it broken, but not every time (see
``copy_records``), so the group commit, which owns its sessions, ends a failed one with
``end_failed``: a connection the server cut (a restart, a terminated backend) is
invalidated, never rolled back on and put back in the pool.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.database_errors import DATABASE_ERRORS, connection_lost


async def driver_of(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, in the same transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement. If ours
    # came first they would run in autocommit: row locks released at once, writes kept on
    # rollback. The adapter is asked to open the transaction as its first statement
    # would (BEGIN alone, not a statement through the ORM's machinery); should it stop
    # telling, a statement through SQLAlchemy opens it. A read's session is in
    # autocommit (api/uow.py): there is no transaction to open.
    adapter = raw.dbapi_connection
    if getattr(adapter, "_transaction", None) is None and not getattr(adapter, "autocommit", 0):
        start = getattr(adapter, "_start_transaction", None)
        if start is not None:
            await _begin(start)
        else:
            await connection.exec_driver_sql("SELECT 1")
    return raw.driver_connection


async def _begin(start: Any) -> None:
    """The adapter wraps a failed BEGIN in its DB-API exception, which SQLAlchemy would have
    wrapped again had the statement gone through it; called directly, what asyncpg raised
    is what the caller and the API's error mapping expect."""
    try:
        await start()
    except Exception as error:
        cause = error.__cause__
        if isinstance(cause, DATABASE_ERRORS):
            raise cause from None
        raise


async def end_failed(session: AsyncSession, exc: BaseException) -> None:
    """End a session whose work raised ``exc``: roll back, or, when the connection is lost,
    invalidate it (a rollback on it would fail, and the pool would keep it)."""
    if connection_lost(exc):
        await session.invalidate()
    else:
        await session.rollback()


async def copy_records(
    driver: Any, table: str, records: Sequence[tuple[Any, ...]], columns: Sequence[str]
) -> None:
    """``COPY`` the records in, through asyncpg's ``copy_records_to_table``.

    asyncpg 0.32 creates the operation's waiter before it switches its protocol into COPY,
    outside the ``try`` that hands failures to it. When the server's FATAL (a shutdown, a
    terminated backend) arrived just before, that switch raises ``InternalClientError``
    and the waiter stays behind: every later statement on the connection fails with
    "another operation is in progress" (the rollback included, so the pool never got the
    connection back), and when the socket closes the waiter's exception is logged as
    never retrieved. So here the waiter is marked retrieved and the connection closed.
    ``tests/test_lost_connections.py`` replays that FATAL."""
    try:
        await driver.copy_records_to_table(table, records=records, columns=columns)
    except asyncpg.exceptions.InternalClientError:
        _retrieve_abandoned_waiter(driver)
        driver.terminate()
        raise


def _retrieve_abandoned_waiter(driver: Any) -> None:
    # The protocol is a Cython class: its waiter is not an attribute Python can read, but
    # the collector's traversal reaches it.
    for held in gc.get_referents(driver._protocol):
        if isinstance(held, asyncio.Future) and not held.done():
            held.add_done_callback(_retrieved)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
