"""Readings ingestion: validate per item, insert in bulk, evaluate in the same transaction.

Nothing is dropped silently: every item comes back as ``created``, ``duplicate`` or
``rejected`` with the problem, and valid items land even when others are refused unless
the caller asks for ``atomic`` all-or-nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.errors import Forbidden, ValidationFailed
from service.goals import repository as goals_repository
from service.goals.service import KpiObservation, follow_kpi_readings
from service.kpis import readings_repository, repository, rules_repository
from service.kpis.evaluator import Fresh, evaluate_rules
from service.kpis.readings_repository import NewReading
from service.kpis.schemas import (
    MAX_BATCH,
    BatchReadingIn,
    IngestResult,
    ItemStatus,
    ReadingIn,
)
from service.kpis.service import find_kpi
from service.models.base import utcnow

CLOCK_SKEW = timedelta(minutes=5)
_CREATED, _DUPLICATE, _REJECTED = (s.value for s in ItemStatus)


@dataclass(slots=True)
class _Item:
    """One submitted reading on its way through: validated fields, or the problem."""

    index: int
    ref: str | None = None  # the batch item's `kpi`, until resolved
    kpi_id: uuid.UUID | None = None
    source: str = ""
    observed_at: datetime | None = None
    value: float = 0.0
    problem: dict[str, Any] | None = None


@dataclass
class Ingested:
    """The answer: counts and one JSON-ready result per item, in submission order.

    Built as plain dicts and encoded once: a pydantic model per item cost more than the
    insert. ``IngestResult`` documents the shape and serves GraphQL (``model()``)."""

    created: int
    duplicates: int
    rejected: int
    results: list[dict[str, Any]]

    def json(self) -> bytes:
        """One ``pydantic_core.to_json`` call: ids and instants are written as
        ``IngestResult`` writes them (``...Z``, as ``UtcDateTime``)."""
        body = {
            "created": self.created,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "results": self.results,
        }
        return to_json(body)

    def model(self) -> IngestResult:
        return IngestResult.model_validate_json(self.json())


async def ingest_for_kpi(
    session: AsyncSession, principal: Principal, ref: str, payload: Any, atomic: bool = False
) -> Ingested:
    """``POST /v1/kpis/{id_or_key}/readings``: one reading or a list of them."""
    require(principal, Scope.INGEST)
    kpi = await find_kpi(session, principal, ref)
    if not principal.may_ingest_into(kpi.id):
        raise Forbidden(f"This API key may not ingest into KPI {ref}.")
    single = isinstance(payload, dict)
    raw_items = [payload] if single else payload
    _check_size(raw_items)
    now = utcnow()
    items = _parse_all(raw_items, ReadingIn, principal, now)
    for item in items:
        item.kpi_id = kpi.id
    if single and items[0].problem:
        problem = items[0].problem
        raise ValidationFailed(problem["detail"], errors=problem.get("errors"))
    return await _store(session, principal, items, atomic, now)


async def ingest_batch(
    session: AsyncSession, principal: Principal, raw_items: list[Any], atomic: bool
) -> Ingested:
    """``POST /v1/readings``: up to 10,000 readings across many KPIs, named by key or id."""
    require(principal, Scope.INGEST)
    _check_size(raw_items)
    now = utcnow()
    items = _parse_all(raw_items, BatchReadingIn, principal, now)
    refs = {item.ref for item in items if item.ref is not None and not item.problem}
    ids = await repository.ids_of_refs(session, principal.organization_id, refs)
    for item in items:
        if item.problem or item.ref is None:
            continue
        kpi_id = ids.get(item.ref)
        if kpi_id is None:
            item.problem = _problem(404, f"There is no KPI {item.ref}.")
        elif not principal.may_ingest_into(kpi_id):
            item.problem = _problem(403, f"This API key may not ingest into KPI {item.ref}.")
        else:
            item.kpi_id = kpi_id
    return await _store(session, principal, items, atomic, now)


def _check_size(raw_items: Sequence[Any]) -> None:
    if not raw_items:
        raise ValidationFailed.on("readings", "Send at least one reading.")
    if len(raw_items) > MAX_BATCH:
        raise ValidationFailed.on("readings", f"At most {MAX_BATCH} readings per request.")


_LIST_ADAPTERS: dict[type[ReadingIn], TypeAdapter[Any]] = {
    ReadingIn: TypeAdapter(list[ReadingIn]),
    BatchReadingIn: TypeAdapter(list[BatchReadingIn]),
}


def _parse_all(
    raw_items: Sequence[Any], schema: type[ReadingIn], principal: Principal, now: datetime
) -> list[_Item]:
    """Validate the whole list in one pass (fast); only when that fails, item by item, so
    each refused item gets its own problem."""
    try:
        parsed = _LIST_ADAPTERS[schema].validate_python(raw_items)
    except ValidationError:
        return [_parse(i, raw, schema, principal, now) for i, raw in enumerate(raw_items)]
    return [_item(i, reading, principal, now) for i, reading in enumerate(parsed)]


def _parse(
    index: int, raw: Any, schema: type[ReadingIn], principal: Principal, now: datetime
) -> _Item:
    try:
        parsed = schema.model_validate(raw)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return _Item(index, problem=_problem(422, "; ".join(e["msg"] for e in errors), errors))
    return _item(index, parsed, principal, now)


def _item(index: int, parsed: ReadingIn, principal: Principal, now: datetime) -> _Item:
    observed_at = parsed.observed_at or now
    if observed_at > now + CLOCK_SKEW:
        return _Item(index, problem=_problem(422, "`observed_at` is in the future."))
    return _Item(
        index,
        getattr(parsed, "kpi", None),
        None,
        parsed.source or principal.key_name,
        observed_at,
        parsed.value,
    )


def _problem(
    status: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    problem: dict[str, Any] = {"status": status, "detail": detail}
    if errors:
        problem["errors"] = errors
    return problem


async def _store(
    session: AsyncSession, principal: Principal, items: list[_Item], atomic: bool, now: datetime
) -> Ingested:
    if atomic and any(item.problem for item in items):
        result = _result(items, set())
        raise ValidationFailed(
            f"{result.rejected} of {len(items)} readings were refused; nothing was stored "
            "(atomic).",
            errors=[r for r in result.results if r["problem"]],
        )
    seen: set[tuple[uuid.UUID, str, datetime]] = set()
    stored: list[_Item] = []  # the first of each (kpi, source, observed_at) in the batch
    rows: list[NewReading] = []
    for item in items:
        if item.problem or item.kpi_id is None or item.observed_at is None:
            continue
        key = (item.kpi_id, item.source, item.observed_at)
        if key not in seen:
            seen.add(key)
            stored.append(item)
            rows.append(NewReading(*key, item.value))
    org = principal.organization_id
    touched = sorted({row.kpi_id for row in rows})
    # Read before the insert takes the KPIs' and series' locks: what runs between the lock
    # and the commit is what concurrent batches of the same KPIs wait for.
    rules = await rules_repository.enabled_rules_of_kpis(session, org, touched)
    drives = await goals_repository.any_driven_by(session, org, touched)
    inserted, locked = await readings_repository.insert_and_lock(
        session, org, rows, [r.id for r in rules]
    )
    result = _result(items, {stored[i].index for i in inserted})
    new_rows = [rows[i] for i in inserted]
    by_kpi: dict[uuid.UUID, list[tuple[datetime, float]]] = {}
    for row in new_rows:
        by_kpi.setdefault(row.kpi_id, []).append((row.observed_at, row.value))
    await evaluate_rules(session, rules, now, fresh=by_kpi, locked=locked)
    if drives:
        fresh = [KpiObservation(r.kpi_id, r.source, r.observed_at, r.value) for r in new_rows]
        await follow_kpi_readings(session, org, fresh)
    return result


def _result(items: list[_Item], created: set[int]) -> Ingested:
    """``created``: indexes of the items stored by this request; any other valid item
    repeats a stored reading (or an earlier item of the batch)."""
    results: list[dict[str, Any]] = []
    append = results.append
    n_created = n_rejected = 0
    # Ids as text once per KPI: asyncpg's UUID subclass is slow for the encoder.
    ids: dict[uuid.UUID, str] = {}
    for item in items:
        if item.problem or item.kpi_id is None or item.observed_at is None:
            n_rejected += 1
            append(
                {
                    "index": item.index,
                    "status": _REJECTED,
                    "kpi_id": None,
                    "observed_at": None,
                    "problem": item.problem,
                }
            )
            continue
        if item.index in created:
            n_created += 1
            status = _CREATED
        else:
            status = _DUPLICATE
        append(
            {
                "index": item.index,
                "status": status,
                "kpi_id": ids.get(item.kpi_id) or ids.setdefault(item.kpi_id, str(item.kpi_id)),
                "observed_at": item.observed_at,  # already UTC
                "problem": None,
            }
        )
    duplicates = len(items) - n_created - n_rejected
    return Ingested(n_created, duplicates, n_rejected, results)


async def evaluate_on_ingest(
    session: AsyncSession,
    organization_id: uuid.UUID,
    kpi_ids: Sequence[uuid.UUID],
    now: datetime,
    fresh: Fresh | None = None,
) -> int:
    """Evaluate every enabled rule of the touched KPIs, in this transaction. ``fresh``: the
    readings this transaction's one insert stored, per KPI (see ``evaluate_rules``)."""
    rules = await rules_repository.enabled_rules_of_kpis(session, organization_id, kpi_ids)
    return await evaluate_rules(session, rules, now, fresh=fresh)
