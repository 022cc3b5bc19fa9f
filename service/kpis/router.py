"""REST for KPIs, their readings, alert rules and alerts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Depends, Query, Request, Response, status

from service.api.deps import IngestPrincipal, PageDep, ReadPrincipal, SessionDep, WritePrincipal
from service.api.etag import IfMatch, etag_of, set_etag
from service.api.uow import domain_router, stores_in_own_transaction
from service.common.schemas import InputDateTime, Page
from service.errors import ValidationFailed
from service.kpis import ingest, rules_service, service
from service.kpis.combiner import IngestCombiner
from service.kpis.evaluation import State
from service.kpis.rule_schemas import (
    AlertEventRead,
    AlertRead,
    AlertRuleCreate,
    AlertRuleRead,
    AlertRuleUpdate,
)
from service.kpis.schemas import (
    Aggregation,
    BucketRead,
    IngestResult,
    KpiCreate,
    KpiRead,
    KpiUpdate,
    ReadingBatch,
    ReadingRead,
    ReadingSeries,
)
from service.kpis.views import alert_read, event_read, kpi_read, rule_read

router = domain_router(tags=["kpis"])
KpiRef = Annotated[str, "The KPI's id or key"]


async def _combiner(request: Request) -> IngestCombiner | None:
    """The process's group commit for readings, unless the request carries an
    ``Idempotency-Key``: that is stored in the request's own transaction, with its change."""
    if getattr(request.state, "idempotency_key", None) is not None:
        return None
    combiner: IngestCombiner | None = request.app.state.ingest_combiner
    return combiner


CombinerDep = Annotated[IngestCombiner | None, Depends(_combiner)]


@router.get("/kpis", operation_id="listKpis")
async def list_kpis(session: SessionDep, principal: ReadPrincipal, page: PageDep) -> Page[KpiRead]:
    """List KPIs with their health and latest reading, oldest first."""
    rows, next_cursor = await service.list_kpis(session, principal, page)
    return Page(items=[kpi_read(k) for k in rows], next_cursor=next_cursor)


@router.post("/kpis", status_code=status.HTTP_201_CREATED, operation_id="createKpi")
async def create_kpi(
    session: SessionDep, principal: WritePrincipal, body: KpiCreate, response: Response
) -> KpiRead:
    """Create a KPI. With a `target` and no rule, a default rule breaches on the wrong side."""
    kpi = await service.create_kpi(session, principal, body)
    response.headers["Location"] = f"/v1/kpis/{kpi.id}"
    read = kpi_read(kpi)
    response.headers["ETag"] = etag_of(kpi, read)
    return read


@router.get("/kpis/{kpi_ref}", operation_id="getKpi")
async def get_kpi(
    session: SessionDep,
    principal: ReadPrincipal,
    kpi_ref: KpiRef,
    request: Request,
    response: Response,
) -> KpiRead:
    """One KPI, by id or key."""
    kpi = await service.get_kpi(session, principal, kpi_ref)
    read = kpi_read(kpi)
    set_etag(response, request, kpi, read)
    return read


@router.patch("/kpis/{kpi_ref}", operation_id="updateKpi")
async def update_kpi(
    session: SessionDep,
    principal: WritePrincipal,
    kpi_ref: KpiRef,
    body: KpiUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> KpiRead:
    """Change a KPI; a new target moves its default rule."""
    kpi = await service.update_kpi(session, principal, kpi_ref, body, if_match)
    read = kpi_read(kpi)
    set_etag(response, request, kpi, read)
    return read


@router.delete("/kpis/{kpi_ref}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteKpi")
async def delete_kpi(session: SessionDep, principal: WritePrincipal, kpi_ref: KpiRef) -> None:
    """Delete a KPI with its readings and rules."""
    await service.delete_kpi(session, principal, kpi_ref)


@router.post(
    "/kpis/{kpi_ref}/readings",
    operation_id="ingestKpiReadings",
    response_model=IngestResult,
    responses={201: {"model": IngestResult, "description": "The one reading sent was stored"}},
)
@stores_in_own_transaction
async def ingest_kpi_readings(
    session: SessionDep,
    principal: IngestPrincipal,
    combiner: CombinerDep,
    kpi_ref: KpiRef,
    response: Response,
    body: Annotated[
        dict[str, Any] | list[dict[str, Any]],
        Body(description="One reading `{value, observed_at?, source?}` or a list of them."),
    ],
    atomic: Annotated[bool, Query(description="All or nothing for a list.")] = False,
) -> Response:
    """Post readings to one KPI. Each item comes back `created`, `duplicate` or `rejected`;
    a repeat of `(kpi, source, observed_at)` is stored once."""
    result = await ingest.ingest_for_kpi(session, principal, kpi_ref, body, atomic, combiner)
    created = isinstance(body, dict) and result.created
    return _json(result, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.post("/readings", operation_id="ingestReadings", response_model=IngestResult)
@stores_in_own_transaction
async def ingest_readings(
    session: SessionDep, principal: IngestPrincipal, combiner: CombinerDep, body: ReadingBatch
) -> Response:
    """Post up to 10,000 readings across KPIs (each names its `kpi` by key or id), with a
    result per item; `atomic: true` stores all or nothing."""
    result = await ingest.ingest_batch(session, principal, body.readings, body.atomic, combiner)
    return _json(result)


def _json(result: ingest.Ingested, status_code: int = status.HTTP_200_OK) -> Response:
    """Encoded once, as built: 10,000 per-item results are the hot path's output, and
    FastAPI's generic validation and encoding of them would cost more than the insert."""
    return Response(result.json(), status_code, media_type="application/json")


@router.get(
    "/kpis/{kpi_ref}/readings",
    operation_id="listKpiReadings",
    response_model=Page[ReadingRead] | ReadingSeries,
)
async def list_kpi_readings(
    session: SessionDep,
    principal: ReadPrincipal,
    kpi_ref: KpiRef,
    page: PageDep,
    request: Request,
    from_: Annotated[InputDateTime | None, Query(alias="from")] = None,
    to: Annotated[InputDateTime | None, Query()] = None,
    bucket: Annotated[str | None, Query(max_length=20, description="e.g. 15m, 1h, 1d")] = None,
    agg: Annotated[Aggregation, Query()] = Aggregation.AVG,
) -> Page[ReadingRead] | ReadingSeries:
    """Readings in `[from, to)` by `observed_at`, paged with `limit` and `cursor`.

    With `bucket`, one `agg` value per bucket holding readings (buckets aligned to the Unix
    epoch), every one of them in a single answer: `limit` and `cursor` are refused (422).
    The range may span at most 10,000 buckets, counted from `from` (or, without it, the
    first reading) to `to` (or the last reading); a wider one is refused with 422, never
    cut short: narrow the range or widen the bucket."""
    query = service.ReadingQuery(start=from_, end=to, bucket=bucket, agg=agg)
    if bucket:
        _refuse_paging(request)
        rows = await service.downsample(session, principal, kpi_ref, query)
        return ReadingSeries(
            bucket=bucket, agg=agg, items=[BucketRead.model_validate(r) for r in rows]
        )
    readings, next_cursor = await service.list_readings(session, principal, kpi_ref, query, page)
    return Page(items=[ReadingRead.model_validate(r) for r in readings], next_cursor=next_cursor)


def _refuse_paging(request: Request) -> None:
    """A downsampled series comes whole: a page size or cursor sent with `bucket` would
    otherwise be ignored, and the client would not get what it asked for."""
    for name in ("limit", "cursor"):
        if name in request.query_params:
            raise ValidationFailed.on(
                f"query.{name}",
                f"`{name}` does not apply with `bucket`: a series is returned whole, "
                "up to 10,000 buckets.",
            )


@router.get("/kpis/{kpi_ref}/alert-rules", operation_id="listAlertRules")
async def list_alert_rules(
    session: SessionDep, principal: ReadPrincipal, kpi_ref: KpiRef
) -> list[AlertRuleRead]:
    """The KPI's alert rules."""
    return [rule_read(r) for r in await rules_service.list_rules(session, principal, kpi_ref)]


@router.post(
    "/kpis/{kpi_ref}/alert-rules",
    status_code=status.HTTP_201_CREATED,
    operation_id="createAlertRule",
)
async def create_alert_rule(
    session: SessionDep,
    principal: WritePrincipal,
    kpi_ref: KpiRef,
    body: AlertRuleCreate,
    response: Response,
) -> AlertRuleRead:
    """Add a rule; inconsistent thresholds are refused with 422. Replaces the default rule."""
    rule = await rules_service.create_rule(session, principal, kpi_ref, body)
    response.headers["Location"] = f"/v1/kpis/{rule.kpi_id}/alert-rules/{rule.id}"
    read = rule_read(rule)
    response.headers["ETag"] = etag_of(rule, read)
    return read


@router.get("/kpis/{kpi_ref}/alert-rules/{rule_id}", operation_id="getAlertRule")
async def get_alert_rule(
    session: SessionDep,
    principal: ReadPrincipal,
    kpi_ref: KpiRef,
    rule_id: uuid.UUID,
    request: Request,
    response: Response,
) -> AlertRuleRead:
    """One rule."""
    rule = await rules_service.get_rule(session, principal, kpi_ref, rule_id)
    read = rule_read(rule)
    set_etag(response, request, rule, read)
    return read


@router.patch("/kpis/{kpi_ref}/alert-rules/{rule_id}", operation_id="updateAlertRule")
async def update_alert_rule(
    session: SessionDep,
    principal: WritePrincipal,
    kpi_ref: KpiRef,
    rule_id: uuid.UUID,
    body: AlertRuleUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> AlertRuleRead:
    """Change a rule: its version moves and its series restarts from ok, unless only
    `muted_until` changed (a silence: the series goes on; ending one tells a breach it kept
    from consumers)."""
    rule = await rules_service.update_rule(session, principal, kpi_ref, rule_id, body, if_match)
    read = rule_read(rule)
    response.headers["ETag"] = etag_of(rule, read)
    return read


@router.delete(
    "/kpis/{kpi_ref}/alert-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteAlertRule",
)
async def delete_alert_rule(
    session: SessionDep, principal: WritePrincipal, kpi_ref: KpiRef, rule_id: uuid.UUID
) -> None:
    """Delete a rule; a firing series is resolved with `rule_changed`."""
    await rules_service.delete_rule(session, principal, kpi_ref, rule_id)


@router.get("/alerts", operation_id="listAlerts")
async def list_alerts(
    session: SessionDep,
    principal: ReadPrincipal,
    page: PageDep,
    state: Annotated[State | None, Query()] = None,
) -> Page[AlertRead]:
    """Current alert series, optionally only those in one state (e.g. `firing`)."""
    rows, next_cursor = await rules_service.list_alerts(session, principal, state, page)
    return Page(items=[alert_read(r) for r in rows], next_cursor=next_cursor)


@router.get("/kpis/{kpi_ref}/alert-history", operation_id="getAlertHistory")
async def alert_history(
    session: SessionDep, principal: ReadPrincipal, kpi_ref: KpiRef, page: PageDep
) -> Page[AlertEventRead]:
    """Transitions of the KPI's alert series, newest first."""
    rows, next_cursor = await rules_service.alert_history(session, principal, kpi_ref, page)
    return Page(items=[event_read(e) for e in rows], next_cursor=next_cursor)
