"""Group commit for readings: batches of one organization that arrive while another of its
batches is being stored go in together, in one transaction.

Storing readings ends under row locks on their KPIs and alert series (``ingest.py``), held
to commit, and integrations' batches usually touch the same KPIs, so concurrent batches
queue there one by one. Each queued batch would lock, read its windows, evaluate and write
back the same 100 series the one before it just did. Taken together they do that once: the
rows of all of them go in with one insert, one evaluation sees them all, one commit. Every
caller still gets its own per-item answer, as if it had been alone.

A round that fails is tried again batch by batch, each in its own transaction, so one
batch's failure (a KPI deleted meanwhile, say) is never another's. Requests with an
``Idempotency-Key`` do not come here: their key is stored in their own transaction, with
their readings.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.common.driver import end_failed
from service.kpis.readings_repository import ReadingColumns
from service.kpis.schemas import MAX_BATCH

logger = logging.getLogger("meridian.ingest")


class Store(Protocol):
    """Inserts the rows and evaluates their rules in the session's transaction; returns the
    positions of the rows stored (``ingest.insert_and_evaluate``). With ``copy``, every
    row is stored, or ``asyncpg.UniqueViolationError`` is raised and the transaction is
    left failed (``readings_repository.insert_only``)."""

    def __call__(
        self, session: AsyncSession, org: uuid.UUID, rows: ReadingColumns, *, copy: bool
    ) -> Awaitable[list[int]]: ...


@dataclass(slots=True)
class _Batch:
    rows: ReadingColumns
    done: asyncio.Future[list[int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class IngestCombiner:
    """One per process. ``store`` answers with the positions of the caller's rows that were
    stored, once the transaction that holds them has committed."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        max_rows: int = MAX_BATCH,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._store = store
        self._max_rows = max_rows
        self._waiting: dict[uuid.UUID, deque[_Batch]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def waiting(self, organization_id: uuid.UUID) -> int:
        """Batches of the organization queued for its next round."""
        return len(self._waiting.get(organization_id, ()))

    async def store(self, organization_id: uuid.UUID, rows: ReadingColumns) -> list[int]:
        batch = _Batch(rows)
        waiting = self._waiting.get(organization_id)
        if waiting is None:
            # No round of this organization in flight here: one starts, with this batch
            # and whatever else is waiting by the time it takes its share. One at a time:
            # two rounds of the same KPIs would only queue on each other's locks.
            waiting = self._waiting[organization_id] = deque()
            task = asyncio.create_task(self._drain(organization_id, waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        waiting.append(batch)
        # A caller that goes away (a client disconnect) does not stop the round: its
        # readings are stored or not as a whole, like a request whose answer was lost.
        try:
            return await asyncio.shield(batch.done)
        except asyncio.CancelledError:
            batch.done.add_done_callback(_report_unheard)
            raise

    async def _drain(self, organization_id: uuid.UUID, waiting: deque[_Batch]) -> None:
        try:
            while waiting:
                await self._round(organization_id, self._take(waiting))
        finally:
            # No await between the last look at the queue and here: a batch queued after
            # it finds no round in flight and starts one.
            del self._waiting[organization_id]

    def _take(self, waiting: deque[_Batch]) -> list[_Batch]:
        taken = [waiting.popleft()]
        rows = len(taken[0].rows.kpi_ids)
        while waiting and rows + len(waiting[0].rows.kpi_ids) <= self._max_rows:
            batch = waiting.popleft()
            rows += len(batch.rows.kpi_ids)
            taken.append(batch)
        return taken

    async def _round(self, organization_id: uuid.UUID, batches: list[_Batch]) -> None:
        rows = _merged([b.rows for b in batches]) if len(batches) > 1 else batches[0].rows
        try:
            created = await self._stored(organization_id, rows)
        except asyncio.CancelledError:  # shutting down mid-round: nothing was committed
            for batch in batches:
                batch.done.cancel()
            raise
        except Exception as exc:
            if len(batches) == 1:
                _fail(batches[0], exc)
                return
            for batch in batches:  # alone, so that a failure is only its own
                await self._round(organization_id, [batch])
            return
        _answer(batches, created)

    async def _stored(self, organization_id: uuid.UUID, rows: ReadingColumns) -> list[int]:
        """The rows copied in a transaction of the round's own; when one repeats a stored
        reading (a batch sent again) or another row, that transaction is undone and they
        go in again with the insert that skips repeats."""
        try:
            return await self._attempt(organization_id, rows, copy=True)
        except asyncpg.UniqueViolationError as exc:
            if not (exc.table_name or "").startswith("kpi_readings"):
                raise
        return await self._attempt(organization_id, rows, copy=False)

    async def _attempt(
        self, organization_id: uuid.UUID, rows: ReadingColumns, *, copy: bool
    ) -> list[int]:
        async with self._sessionmaker() as session:
            try:
                created = await self._store(session, organization_id, rows, copy=copy)
                await session.commit()
            except BaseException as exc:
                await end_failed(session, exc)
                raise
            return created


def _merged(parts: list[ReadingColumns]) -> ReadingColumns:
    """One set of columns; each part's default source written out per row."""
    merged = ReadingColumns([], [], [], [])
    for part in parts:
        merged.kpi_ids += part.kpi_ids
        merged.observed_at += part.observed_at
        merged.values += part.values
        if part.sources:
            merged.sources += [s or part.default_source for s in part.sources]
        else:
            merged.sources += [part.default_source] * len(part.kpi_ids)
    return merged


def _answer(batches: list[_Batch], created: list[int]) -> None:
    """``created`` holds positions in the merged rows, ascending: split them per batch."""
    start, position = 0, 0
    for batch in batches:
        end = start + len(batch.rows.kpi_ids)
        own = []
        while position < len(created) and created[position] < end:
            own.append(created[position] - start)
            position += 1
        if not batch.done.done():
            batch.done.set_result(own)
        start = end


def _report_unheard(done: asyncio.Future[list[int]]) -> None:
    """A failed round's answer to a caller that went away: logged here, since no response
    will carry it (its client had no acknowledgement, so it sends the batch again)."""
    if not done.cancelled() and (exc := done.exception()) is not None:
        logger.warning("a round failed after its caller went away: %s", type(exc).__name__)


def _fail(batch: _Batch, exc: BaseException) -> None:
    if not batch.done.done():
        batch.done.set_exception(exc)
