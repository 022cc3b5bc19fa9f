"""REST for working with cycles: lint, rollover, promoting a key result to a KPI. Thin."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from service.api.deps import ReadPrincipal, SessionDep, WritePrincipal
from service.api.etag import etag_of
from service.api.uow import domain_router
from service.kpis.schemas import KpiRead
from service.kpis.views import kpi_read
from service.planning import service
from service.planning.schemas import (
    LintFindingRead,
    LintRead,
    PromoteCreate,
    RolledObjectiveRead,
    RolloverCreate,
    RolloverRead,
)

router = domain_router(tags=["planning"])


@router.get("/cycles/{cycle_id}/lint", operation_id="lintCycle")
async def lint_cycle(
    session: SessionDep, principal: ReadPrincipal, cycle_id: uuid.UUID
) -> LintRead:
    """The seeds' common OKR mistakes in this cycle, each with the offending ids: more than 3
    objectives for a team or person, objectives outside 3 to 5 key results, objectives or key
    results without an owner (a deactivated owner is none), KPIs with neither a target nor an
    alert rule, key results that cannot be measured. Archived objectives are left out."""
    findings = await service.lint_cycle(session, principal, cycle_id)
    return LintRead(
        cycle_id=cycle_id,
        findings=[
            LintFindingRead(check=f.check, message=f.message, ids=f.ids, subject_id=f.subject_id)
            for f in findings
        ],
    )


@router.post("/cycles/{cycle_id}/rollover", operation_id="rolloverCycle")
async def rollover(
    session: SessionDep, principal: WritePrincipal, cycle_id: uuid.UUID, body: RolloverCreate
) -> RolloverRead:
    """Copy chosen (by default all unfinished: not closed or archived, below 100% as shown,
    rolled up) objectives and their key results into another cycle as drafts, without
    check-ins, keeping owners (but deactivated ones), linked KPIs and alignment. A link to
    a parent that is not copied is carried as `supports`: the copy shows under that parent
    without changing its progress, where the original still counts. With `dry_run`
    nothing changes and the report says what would be copied."""
    plan = await service.rollover(session, principal, cycle_id, body)
    return RolloverRead(
        dry_run=body.dry_run,
        target_cycle_id=plan.target_cycle_id,
        objectives=[
            RolledObjectiveRead(
                source_id=r.source.id,
                id=None if body.dry_run else r.copy.id,
                title=r.copy.title,
                key_results=len(r.key_results),
            )
            for r in plan.objectives
        ],
        links=len(plan.links),
        kpi_links=len(plan.kpi_links),
    )


@router.post(
    "/key-results/{key_result_id}/promote-to-kpi",
    status_code=status.HTTP_201_CREATED,
    operation_id="promoteKeyResultToKpi",
)
async def promote_to_kpi(
    session: SessionDep,
    principal: WritePrincipal,
    key_result_id: uuid.UUID,
    body: PromoteCreate,
    response: Response,
) -> KpiRead:
    """The key result became business as usual: create a KPI carrying its check-ins as
    readings (of corrections at one time, the last), with an alert rule where the key result
    is missed (the default rule at its target; `lte`/`gte` at a strict bound; `outside` a
    range), linked to its objective; the key result is then driven by the KPI."""
    kpi = await service.promote_to_kpi(session, principal, key_result_id, body)
    response.headers["Location"] = f"/v1/kpis/{kpi.id}"
    read = kpi_read(kpi)
    response.headers["ETag"] = etag_of(kpi, read)
    return read
