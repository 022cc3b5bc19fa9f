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
from service.kpis.batch_schema import FAST_BATCH, in_utc
from service.kpis.combiner import IngestCombiner
from service.kpis.evaluator import Fresh, evaluate_rules
from service.kpis.readings_repository import NewReading, ReadingColumns
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
    session: AsyncSession,
    principal: Principal,
    ref: str,
    payload: Any,
    atomic: bool = False,
    combiner: IngestCombiner | None = None,
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
    return await _store(session, principal, items, atomic, combiner)


async def ingest_batch(
    session: AsyncSession,
    principal: Principal,
    raw_items: list[Any],
    atomic: bool,
    combiner: IngestCombiner | None = None,
) -> Ingested:
    """``POST /v1/readings``: up to 10,000 readings across many KPIs, named by key or id.

    With a ``combiner`` the readings are stored by it, possibly together with other
    requests' (``kpis/combiner.py``); without, in ``session``'s transaction."""
    require(principal, Scope.INGEST)
    _check_size(raw_items)
    now = utcnow()
    columns = await _all_valid(session, principal, raw_items, now)
    if columns is not None:
        created = await _insert(session, principal, columns, combiner)
        return _all_valid_result(columns, created)
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
    return await _store(session, principal, items, atomic, combiner)


async def _all_valid(
    session: AsyncSession, principal: Principal, raw_items: list[Any], now: datetime
) -> ReadingColumns | None:
    """The usual batch, in columns without a Python object per item: every item valid,
    every KPI known and open to the key, nothing from the future. None otherwise: the
    batch then goes item by item, so that each refused item gets its own problem."""
    try:
        parsed = FAST_BATCH.validate_python(raw_items)
    except ValidationError:
        return None
    refs = {p["kpi"] for p in parsed}
    ids = await repository.ids_of_refs(session, principal.organization_id, refs)
    if len(ids) < len(refs) or not all(map(principal.may_ingest_into, ids.values())):
        return None
    observed = [in_utc(at) if (at := p.get("observed_at")) else now for p in parsed]
    if max(observed) > now + CLOCK_SKEW:
        return None
    sources: list[str | None] = [p.get("source") for p in parsed]
    default = principal.key_name
    if len(distinct := set(sources)) == 1:  # one source (or none given): sent once
        default, sources = distinct.pop() or default, []
    values = [p["value"] for p in parsed]
    return ReadingColumns([ids[p["kpi"]] for p in parsed], sources, observed, values, default)


def _all_valid_result(columns: ReadingColumns, created: list[int]) -> Ingested:
    new = set(created)
    text = {kpi_id: str(kpi_id) for kpi_id in set(columns.kpi_ids)}
    results = [
        {
            "index": i,
            "status": _CREATED if i in new else _DUPLICATE,
            "kpi_id": text[kpi_id],
            "observed_at": observed_at,  # UTC
            "problem": None,
        }
        for i, (kpi_id, observed_at) in enumerate(
            zip(columns.kpi_ids, columns.observed_at, strict=True)
        )
    ]
    return Ingested(len(new), len(results) - len(new), 0, results)


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
    session: AsyncSession,
    principal: Principal,
    items: list[_Item],
    atomic: bool,
    combiner: IngestCombiner | None,
) -> Ingested:
    if atomic and any(item.problem for item in items):
        result = _result(items, set())
        raise ValidationFailed(
            f"{result.rejected} of {len(items)} readings were refused; nothing was stored "
            "(atomic).",
            errors=[r for r in result.results if r["problem"]],
        )
    valid = [i for i in items if not i.problem and i.kpi_id and i.observed_at]
    rows = [NewReading(i.kpi_id, i.source, i.observed_at, i.value) for i in valid]  # type: ignore[arg-type]
    created = await _insert(session, principal, ReadingColumns.of(rows), combiner)
    return _result(items, {valid[n].index for n in created})


async def _insert(
    session: AsyncSession,
    principal: Principal,
    rows: ReadingColumns,
    combiner: IngestCombiner | None,
) -> list[int]:
    if not rows.kpi_ids:
        return []
    if combiner is None:
        return await insert_and_evaluate(session, principal.organization_id, rows)
    return await combiner.store(principal.organization_id, rows)


async def insert_and_evaluate(
    session: AsyncSession, org: uuid.UUID, rows: ReadingColumns, *, copy: bool = False
) -> list[int]:
    """Store the rows and evaluate the rules of their KPIs in this transaction; returns
    the positions of the rows stored (the first of any repeated). ``copy``: see
    ``readings_repository.insert_only``."""
    touched = sorted(set(rows.kpi_ids))
    # Everything that does not depend on the locked rows happens before the locks: what
    # runs between taking them and the commit is what concurrent batches of the same KPIs
    # wait for. The insert (rows, index entries, foreign-key checks) takes no shared lock;
    # ``lock_and_move`` then locks the KPIs and series and moves their versions, and the
    # window read after it sees every batch committed before the locks were granted.
    rules = await rules_repository.enabled_rules_of_kpis(session, org, touched)
    drives = await goals_repository.any_driven_by(session, org, touched)
    created, newest = await readings_repository.insert_only(session, org, rows, copy=copy)
    by_kpi: dict[uuid.UUID, list[tuple[datetime, float]]] = {}
    for n in created:
        by_kpi.setdefault(rows.kpi_ids[n], []).append((rows.observed_at[n], rows.values[n]))
    locked = await readings_repository.lock_and_move(session, org, newest, [r.id for r in rules])
    # Evaluated at the time the series are locked, not when the request arrived: a batch
    # that waited for another's locks would otherwise carry an older clock than the
    # evaluation it waited for, and be stored without being evaluated.
    await evaluate_rules(session, rules, utcnow(), fresh=by_kpi, locked=locked)
    if drives:
        source = rows.default_source or ""
        fresh = [
            KpiObservation(
                rows.kpi_ids[n],
                (rows.sources[n] if rows.sources else None) or source,
                rows.observed_at[n],
                rows.values[n],
            )
            for n in created
        ]
        await follow_kpi_readings(session, org, fresh)
    return created


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
