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
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.errors import Forbidden, ValidationFailed
from service.goals.service import KpiObservation, follow_kpi_readings
from service.kpis import readings_repository, repository, rules_repository
from service.kpis.evaluator import evaluate_rules
from service.kpis.readings_repository import NewReading
from service.kpis.schemas import (
    MAX_BATCH,
    BatchReadingIn,
    IngestResult,
    ItemStatus,
    ReadingIn,
    ReadingResult,
)
from service.kpis.service import find_kpi
from service.models import Kpi
from service.models.base import utcnow

CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class _Item:
    index: int
    kpi: Kpi | None = None
    reading: NewReading | None = None
    problem: dict[str, Any] | None = None


async def ingest_for_kpi(
    session: AsyncSession, principal: Principal, ref: str, payload: Any, atomic: bool = False
) -> IngestResult:
    """``POST /v1/kpis/{id_or_key}/readings``: one reading or a list of them."""
    require(principal, Scope.INGEST)
    kpi = await find_kpi(session, principal, ref)
    if not principal.may_ingest_into(kpi.id):
        raise Forbidden(f"This API key may not ingest into KPI {ref}.")
    single = isinstance(payload, dict)
    raw_items = [payload] if single else payload
    _check_size(raw_items)
    now = utcnow()
    items = _parse_all(raw_items, ReadingIn, principal, now, kpi)
    if single and items[0].problem:
        problem = items[0].problem
        raise ValidationFailed(problem["detail"], errors=problem.get("errors"))
    return await _store(session, principal, items, atomic, now)


async def ingest_batch(
    session: AsyncSession, principal: Principal, raw_items: list[Any], atomic: bool
) -> IngestResult:
    """``POST /v1/readings``: up to 10,000 readings across many KPIs, named by key or id."""
    require(principal, Scope.INGEST)
    _check_size(raw_items)
    now = utcnow()
    items = _parse_all(raw_items, BatchReadingIn, principal, now, None)
    refs = [raw["kpi"] for raw, item in zip(raw_items, items, strict=True) if not item.problem]
    kpis = await repository.resolve_refs(session, principal.organization_id, refs)
    for raw, item in zip(raw_items, items, strict=True):
        if item.problem or item.reading is None:
            continue
        kpi = kpis.get(raw["kpi"])
        if kpi is None:
            item.problem = _problem(404, f"There is no KPI {raw['kpi']}.")
        elif not principal.may_ingest_into(kpi.id):
            item.problem = _problem(403, f"This API key may not ingest into KPI {raw['kpi']}.")
        else:
            item.kpi = kpi
            item.reading = NewReading(kpi.id, *_rest(item.reading))
    return await _store(session, principal, items, atomic, now)


def _rest(reading: NewReading) -> tuple[str, datetime, float]:
    return reading.source, reading.observed_at, reading.value


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
    raw_items: Sequence[Any],
    schema: type[ReadingIn],
    principal: Principal,
    now: datetime,
    kpi: Kpi | None,
) -> list[_Item]:
    """Validate the whole list in one pass (fast); only when that fails, item by item, so
    each refused item gets its own problem."""
    try:
        parsed = _LIST_ADAPTERS[schema].validate_python(raw_items)
    except ValidationError:
        return [_parse(i, raw, schema, principal, now, kpi) for i, raw in enumerate(raw_items)]
    return [_item(i, reading, principal, now, kpi) for i, reading in enumerate(parsed)]


def _parse(
    index: int,
    raw: Any,
    schema: type[ReadingIn],
    principal: Principal,
    now: datetime,
    kpi: Kpi | None,
) -> _Item:
    try:
        parsed = schema.model_validate(raw)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return _Item(index, problem=_problem(422, "; ".join(e["msg"] for e in errors), errors))
    return _item(index, parsed, principal, now, kpi)


def _item(
    index: int, parsed: ReadingIn, principal: Principal, now: datetime, kpi: Kpi | None
) -> _Item:
    observed_at = parsed.observed_at or now
    if observed_at > now + CLOCK_SKEW:
        return _Item(index, problem=_problem(422, "`observed_at` is in the future."))
    source = parsed.source or principal.key_name
    placeholder = kpi.id if kpi is not None else uuid.UUID(int=0)
    return _Item(index, kpi=kpi, reading=NewReading(placeholder, source, observed_at, parsed.value))


def _problem(
    status: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    problem: dict[str, Any] = {"status": status, "detail": detail}
    if errors:
        problem["errors"] = errors
    return problem


async def _store(
    session: AsyncSession, principal: Principal, items: list[_Item], atomic: bool, now: datetime
) -> IngestResult:
    rejected = [item for item in items if item.problem]
    if atomic and rejected:
        result = _result(items, set(), set())
        raise ValidationFailed(
            f"{len(rejected)} of {len(items)} readings were refused; nothing was stored (atomic).",
            errors=[r.model_dump(mode="json") for r in result.results if r.problem],
        )
    seen: set[tuple[uuid.UUID, str, datetime]] = set()
    first_in_batch: set[int] = set()
    rows: list[NewReading] = []
    for item in items:
        if item.problem or item.reading is None:
            continue
        key = (item.reading.kpi_id, item.reading.source, item.reading.observed_at)
        if key not in seen:
            seen.add(key)
            first_in_batch.add(item.index)
            rows.append(item.reading)
    created = await readings_repository.insert_readings(session, principal.organization_id, rows)
    result = _result(items, created, first_in_batch)
    touched = sorted({item.kpi.id for item in items if item.kpi and item.index in first_in_batch})
    await evaluate_on_ingest(session, principal.organization_id, touched, now)
    fresh = [
        KpiObservation(r.kpi_id, r.source, r.observed_at, r.value)
        for r in rows
        if (r.kpi_id, r.source, r.observed_at) in created
    ]
    await follow_kpi_readings(session, principal.organization_id, fresh)
    return result


def _result(
    items: list[_Item], created: set[tuple[uuid.UUID, str, datetime]], first: set[int]
) -> IngestResult:
    results: list[ReadingResult] = []
    for item in items:
        if item.problem or item.reading is None:
            results.append(
                ReadingResult(index=item.index, status=ItemStatus.REJECTED, problem=item.problem)
            )
            continue
        key = (item.reading.kpi_id, item.reading.source, item.reading.observed_at)
        fresh = item.index in first and key in created
        results.append(
            ReadingResult(
                index=item.index,
                status=ItemStatus.CREATED if fresh else ItemStatus.DUPLICATE,
                kpi_id=item.reading.kpi_id,
                observed_at=item.reading.observed_at,
            )
        )
    counts = {status: 0 for status in ItemStatus}
    for r in results:
        counts[r.status] += 1
    return IngestResult(
        created=counts[ItemStatus.CREATED],
        duplicates=counts[ItemStatus.DUPLICATE],
        rejected=counts[ItemStatus.REJECTED],
        results=results,
    )


async def evaluate_on_ingest(
    session: AsyncSession, organization_id: uuid.UUID, kpi_ids: Sequence[uuid.UUID], now: datetime
) -> int:
    """Evaluate every enabled rule of the touched KPIs, in this transaction."""
    rules = await rules_repository.enabled_rules_of_kpis(session, organization_id, kpi_ids)
    kpis = await rules_repository.kpis_by_id(session, organization_id, [r.kpi_id for r in rules])
    return await evaluate_rules(session, kpis, rules, now)
