"""Rows locked for a change are the rows as committed, not copies read earlier: a change
committed by another transaction in between is seen, never overwritten or failed on."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from service.kpis import repository as kpi_repository
from service.kpis import rules_repository
from service.models import AlertRule
from tests.conftest import Tenant, until_waiting_on_a_lock

Json = dict[str, Any]


async def committed(app: FastAPI, sql: str, **values: Any) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(text(sql), values)


async def test_a_kpi_locked_after_it_was_read_is_read_again(app: FastAPI, tenant: Tenant) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    rule = await tenant.create("/v1/kpis/mrr/alert-rules", {"operator": "gt", "critical": 1})
    org, kpi_id, rule_id = tenant.organization_id, uuid.UUID(kpi["id"]), uuid.UUID(rule["id"])
    async with app.state.sessionmaker() as session, session.begin():
        before = await kpi_repository.find_by_id_or_key(session, org, "mrr")
        rule_before = await session.get(AlertRule, rule_id)  # read, not locked
        assert before is not None and rule_before is not None
        versions = before.version, rule_before.version
        await committed(app, "UPDATE kpis SET version = version + 1 WHERE id = :i", i=kpi_id)
        await committed(
            app, "UPDATE alert_rules SET version = version + 1 WHERE id = :i", i=rule_id
        )
        locked = await kpi_repository.find_by_id_or_key(session, org, "mrr", for_update=True)
        rule_locked = await rules_repository.get_rule(session, org, kpi_id, rule_id)
        assert locked is not None and rule_locked is not None
        assert (locked.version, rule_locked.version) == (versions[0] + 1, versions[1] + 1)


async def test_deleting_a_key_result_edited_meanwhile_deletes_it(
    app: FastAPI, tenant: Tenant, objective: Json
) -> None:
    """The delete reads the key result, then waits for its objective; an edit committed
    meanwhile bumped the key result's version: the delete must still go through."""
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "KR", "type": "increase", "start": 0, "target": 10},
    )
    async with app.state.sessionmaker() as holder, holder.begin():
        await holder.execute(
            text("SELECT id FROM objectives WHERE id = :o FOR UPDATE"),
            {"o": uuid.UUID(objective["id"])},
        )
        deletion = asyncio.create_task(tenant.delete(f"/v1/key-results/{kr['id']}"))
        await until_waiting_on_a_lock(app)
        await holder.execute(
            text("UPDATE key_results SET version = version + 1, title = 'Edited' WHERE id = :k"),
            {"k": uuid.UUID(kr["id"])},
        )
    response = await deletion
    assert response.status_code == 204, response.text
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).status_code == 404
