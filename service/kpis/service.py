"""KPIs: CRUD and reading history. Ingestion lives in ``ingest.py``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, decode_keyset, encode_keyset, split_page
from service.common.repository import get_scoped, list_scoped
from service.errors import Conflict, NotFound, ValidationFailed, refuse_nulls
from service.kpis import readings_repository, repository
from service.kpis.durations import parse_bucket
from service.kpis.schemas import Aggregation, Direction, Health, KpiCreate, KpiUpdate
from service.models import Kpi, Person, Team

MAX_BUCKETS = 10_000
MAX_BUCKET_LENGTH = 20
# date_bin() multiplies the stride out in microseconds: a century stays far inside its range.
MAX_BUCKET = timedelta(days=36_525)


def health_of(kpi: Kpi) -> Health:
    """Healthy when the latest value is on the right side of the target (or on it)."""
    if kpi.target is None or kpi.latest_value is None:
        return Health.UNKNOWN
    if kpi.direction == Direction.HIGHER_IS_BETTER:
        healthy = kpi.latest_value >= kpi.target
    else:
        healthy = kpi.latest_value <= kpi.target
    return Health.HEALTHY if healthy else Health.UNHEALTHY


async def list_kpis(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> tuple[list[Kpi], str | None]:
    require(principal, Scope.READ)
    rows = await list_scoped(session, Kpi, principal.organization_id, page)
    return split_page(rows, page)


async def get_kpi(session: AsyncSession, principal: Principal, ref: str) -> Kpi:
    require(principal, Scope.READ)
    return await find_kpi(session, principal, ref)


async def create_kpi(session: AsyncSession, principal: Principal, data: KpiCreate) -> Kpi:
    from service.kpis.rules_service import ensure_default_rule

    require(principal, Scope.WRITE)
    org = principal.organization_id
    if await repository.key_taken(session, org, data.key, None):
        raise Conflict(f"A KPI with key {data.key!r} already exists.")
    await _check_owner(session, org, data.owner_id, data.team_id)
    # No reading yet: set here, as the flush keeps these read-only columns but cannot load them.
    kpi = Kpi(organization_id=org, latest_value=None, latest_observed_at=None, **data.model_dump())
    session.add(kpi)
    await session.flush()
    await ensure_default_rule(session, kpi)
    return kpi


async def update_kpi(
    session: AsyncSession, principal: Principal, ref: str, data: KpiUpdate, if_match: str | None
) -> Kpi:
    from service.kpis.rules_service import ensure_default_rule

    require(principal, Scope.WRITE)
    org = principal.organization_id
    kpi = await find_kpi(session, principal, ref, for_update=True)
    check_if_match(if_match, kpi)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("key", "name", "unit", "direction"))
    if changes.get("key") and await repository.key_taken(session, org, changes["key"], kpi.id):
        raise Conflict(f"A KPI with key {changes['key']!r} already exists.")
    await _check_owner(session, org, changes.get("owner_id"), changes.get("team_id"))
    for name, value in changes.items():
        setattr(kpi, name, value)
    await session.flush()
    await ensure_default_rule(session, kpi)
    return kpi


async def delete_kpi(session: AsyncSession, principal: Principal, ref: str) -> None:
    """Its rules and their series go with it (the foreign keys cascade): each series is put
    back to ok first, as deleting the rule alone would, so a firing one says
    ``kpi.recovered`` (``rule_changed``) and no consumer keeps an incident nothing closes."""
    from service.kpis.rules_service import reset_all_series

    require(principal, Scope.WRITE)
    kpi = await find_kpi(session, principal, ref, for_update=True)
    await reset_all_series(session, kpi, "rule_changed")
    await session.delete(kpi)
    await session.flush()


@dataclass(frozen=True)
class ReadingQuery:
    start: datetime | None = None
    end: datetime | None = None
    bucket: str | None = None
    agg: Aggregation = Aggregation.AVG


async def list_readings(
    session: AsyncSession, principal: Principal, ref: str, query: ReadingQuery, page: PageRequest
) -> tuple[list[dict[str, object]], str | None]:
    require(principal, Scope.READ)
    kpi = await find_kpi(session, principal, ref)
    after = None
    if page.cursor:
        observed_at, source = decode_keyset(page.cursor)
        after = (observed_at, source)
    rows = await readings_repository.list_readings(
        session, principal.organization_id, kpi.id, query.start, query.end, after, page.limit + 1
    )
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, encode_keyset(last["observed_at"], str(last["source"]))


async def downsample(
    session: AsyncSession, principal: Principal, ref: str, query: ReadingQuery
) -> list[dict[str, object]]:
    """One value per bucket with data, all of them or a 422: never a series cut short.

    The range may span at most ``MAX_BUCKETS`` buckets of the epoch-aligned grid, counted
    from the bucket holding ``start`` to the one holding the last instant before ``end``; an
    open end stands for the first or last reading in the range. A wider range is refused
    (narrow it or widen the bucket) rather than answered in part."""
    require(principal, Scope.READ)
    kpi = await find_kpi(session, principal, ref)
    assert query.bucket is not None
    bucket = _bucket(query.bucket)
    org = principal.organization_id
    start, end = query.start, query.end
    first, last = start, None if end is None else end - _RESOLUTION
    if first is None or last is None:
        extent = await readings_repository.reading_extent(session, org, kpi.id, start, end)
        if extent is None:
            return []  # no reading in the range: no bucket either
        first, last = first or extent[0], last or extent[1]
    span = bucket_span(first, last, bucket)
    if span > MAX_BUCKETS:
        raise _too_many(f"The range spans {span:,} buckets of {query.bucket}")
    rows = await readings_repository.downsample(
        session, org, kpi.id, bucket, query.agg, start, end, MAX_BUCKETS + 1
    )
    if len(rows) > MAX_BUCKETS:  # readings stored since the extent was read widened it
        raise _too_many(f"More than {MAX_BUCKETS:,} buckets of {query.bucket} hold readings")
    return rows


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # date_bin()'s origin in the repository
_RESOLUTION = timedelta(microseconds=1)  # PostgreSQL's: the last instant before ``end``


def bucket_span(first: datetime, last: datetime, bucket: timedelta) -> int:
    """How many epoch-aligned buckets of ``bucket`` the instants ``first..last`` touch."""
    if last < first:
        return 0
    return (last - _EPOCH) // bucket - (first - _EPOCH) // bucket + 1


def _too_many(what: str) -> ValidationFailed:
    return ValidationFailed.on(
        "bucket",
        f"{what}; at most {MAX_BUCKETS:,} are returned at once: narrow the range "
        "(`from`, `to`) or widen `bucket`.",
    )


def _bucket(text: str) -> timedelta:
    """The bucket width, checked here so REST's ``?bucket=`` and GraphQL's ``bucket:`` refuse
    the same things (REST's query parameter also caps the length, for OpenAPI)."""
    if len(text) > MAX_BUCKET_LENGTH:
        raise ValidationFailed.on(
            "bucket", f"`bucket` is at most {MAX_BUCKET_LENGTH} characters, e.g. 15m or PT1H."
        )
    try:
        bucket = parse_bucket(text, maximum=MAX_BUCKET)
    except ValueError as exc:  # also what is past timedelta's range: parse_bucket refuses it
        raise ValidationFailed.on("bucket", str(exc)) from exc
    if bucket < timedelta(seconds=1):
        raise ValidationFailed.on("bucket", "`bucket` must be at least one second.")
    return bucket


async def find_kpi(
    session: AsyncSession, principal: Principal, ref: str, *, for_update: bool = False
) -> Kpi:
    kpi = await repository.find_by_id_or_key(
        session, principal.organization_id, ref, for_update=for_update
    )
    if kpi is None:
        raise NotFound.of("KPI", ref)
    return kpi


async def _check_owner(
    session: AsyncSession, org: uuid.UUID, owner_id: uuid.UUID | None, team_id: uuid.UUID | None
) -> None:
    if owner_id is not None and await get_scoped(session, Person, org, owner_id) is None:
        raise ValidationFailed.on("owner_id", f"There is no person {owner_id}.")
    if team_id is not None and await get_scoped(session, Team, org, team_id) is None:
        raise ValidationFailed.on("team_id", f"There is no team {team_id}.")
