"""Schemathesis against a live ``meridian serve``: every operation of ``/openapi.json``, and
every query and mutation of ``/graphql``.

The service runs as users run it (the console script, a real socket, the test database) with
seeded rows, and Schemathesis (the CLI, in a subprocess) generates requests for every
operation: schema examples, the coverage phase's boundary and negative values, property-based
fuzzing, and stateful sequences along links inferred from the responses. Path ids, and the
ids bodies and queries refer to, are drawn from the seeded rows most of the time, so
operations reach real objects and not only 404s. Any 5xx, any status, content type, header
or body outside the documented schema, a schema-violating request that is accepted, a
wrong answer to an undeclared method, or a deleted object still served, fails the test.
The GraphQL run fuzzes every field of ``Query`` and ``Mutation`` (hypothesis-graphql) and
fails on a 5xx, an ``internal_error`` (see ``tests/schemathesis_hooks.py``) or an invalid
document that is accepted. Either run also fails on an unhandled error in the server's log.

The number of examples per operation is bounded (``MAX_EXAMPLES``) so the run stays within a
couple of minutes on two cores; the seed is fixed so a failure reproduces. Set
``MERIDIAN_FUZZ_SEED`` to explore with another seed and ``MERIDIAN_FUZZ_EXAMPLES`` to go
deeper locally.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from graphql import build_schema

from service.graphql.router import schema
from tests.conftest import Tenant, emit
from tests.test_cli import MERIDIAN, _free_port, _wait_for_lines

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
ROOT = Path(__file__).parent.parent  # for the CLI to import tests.schemathesis_hooks
MAX_EXAMPLES = int(os.environ.get("MERIDIAN_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("MERIDIAN_FUZZ_SEED", "20261123"))
# Every check but positive_data_acceptance, which expects any schema-valid request to succeed:
# a schema cannot say "a cursor this service issued" or "a cycle that exists", so its 400s
# and 422s there are the contract, not a failure.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
)
# GraphQL: Schemathesis's own not_a_server_error would count every coded error (`not_found`)
# as a server fault, so a check of ours stands in for it (tests/schemathesis_hooks.py).
GRAPHQL_CHECKS = ("meridian_graphql_internal_error", "negative_data_rejection")
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
# How often a parameter of that name takes a seeded id rather than a generated value.
SEEDED = 0.8


@dataclass
class Live:
    url: str
    key: str
    ids: dict[str, list[str]]


async def _seed(tenant: Tenant, app: FastAPI) -> dict[str, list[str]]:
    """A small organization with one or more of everything, and the ids to aim at."""
    people = [
        await tenant.create("/v1/people", {"user_name": name, "display_name": name.title()})
        for name in ("ada", "grace", "linus")
    ]
    manager = people[0]["id"]
    await tenant.patch(f"/v1/people/{people[1]['id']}", json={"manager_id": manager})
    teams = [
        await tenant.create("/v1/teams", {"name": "Platform", "member_ids": [manager]}),
        await tenant.create("/v1/teams", {"name": "Growth"}),
    ]
    cycles = [
        await tenant.create(
            "/v1/cycles",
            {"name": name, "start_date": start, "end_date": end, "status": status},
        )
        for name, start, end, status in (
            ("2026-Q4", "2026-10-01", "2026-12-31", "active"),
            ("2027-Q1", "2027-01-01", "2027-03-31", "planning"),
        )
    ]
    cycle = cycles[0]["id"]
    parent = await tenant.create(
        "/v1/objectives",
        {"title": "Delight customers", "cycle_id": cycle, "owner_id": manager},
    )
    child = await tenant.create(
        "/v1/objectives",
        {"title": "Faster support", "cycle_id": cycle, "team_id": teams[0]["id"]},
    )
    linked = await tenant.post(
        f"/v1/objectives/{child['id']}/parents", json={"parent_id": parent["id"]}
    )
    assert linked.status_code == 201, linked.text
    kpis = [
        await tenant.create("/v1/kpis", {"key": key, "name": key.upper(), "owner_id": manager})
        for key in ("mrr", "churn")
    ]
    for value, day in ((90, 1), (120, 2)):
        posted = await tenant.post(
            "/v1/kpis/mrr/readings",
            json={"value": value, "observed_at": f"2026-11-0{day}T00:00:00Z"},
        )
        assert posted.status_code == 201, posted.text
    rule = await tenant.create(
        "/v1/kpis/churn/alert-rules", {"operator": "gt", "warning": 2.0, "critical": 2.5}
    )
    key_result = await tenant.create(
        f"/v1/objectives/{parent['id']}/key-results",
        {"title": "NPS", "type": "increase", "start": 0, "target": 100, "owner_id": manager},
    )
    await tenant.create(f"/v1/key-results/{key_result['id']}/check-ins", {"value": 40})
    linked_kpi = await tenant.post(f"/v1/objectives/{parent['id']}/kpis", json={"kpi": "mrr"})
    assert linked_kpi.status_code == 201, linked_kpi.text
    endpoint = await tenant.create("/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/meridian"})
    events = await emit(app, tenant.organization_id, "kpi.breached", count=2)
    reader = await tenant.create("/v1/api-keys", {"name": "reader", "scopes": ["read"]})
    spares = await _seed_spares(tenant, parent["id"], cycle)
    kpi_refs = [k["key"] for k in kpis] + [k["id"] for k in kpis]
    return {
        "people": [p["id"] for p in people],
        "teams": [t["id"] for t in teams],
        "cycles": [c["id"] for c in cycles],
        "objectives": [parent["id"], child["id"]],
        "parents": [parent["id"], teams[0]["id"]],
        "kpis": kpi_refs,
        "rules": [rule["id"]],
        "key_results": [key_result["id"]],
        "endpoints": [endpoint["id"]],
        "events": events,
        "api_keys": [reader["id"]],
        **spares,
    }


async def _seed_spares(tenant: Tenant, objective_id: str, cycle_id: str) -> dict[str, list[str]]:
    """Rows for the DELETE operations to take, so the rows above stay for everything else."""
    person = await tenant.create("/v1/people", {"user_name": "spare", "display_name": "Spare"})
    team = await tenant.create("/v1/teams", {"name": "Spare"})
    cycle = await tenant.create(
        "/v1/cycles", {"name": "2027-Q2", "start_date": "2027-04-01", "end_date": "2027-06-30"}
    )
    objective = await tenant.create("/v1/objectives", {"title": "Spare", "cycle_id": cycle_id})
    key_result = await tenant.create(
        f"/v1/objectives/{objective_id}/key-results", {"title": "Spare", "type": "milestone"}
    )
    kpi = await tenant.create("/v1/kpis", {"key": "spare", "name": "Spare"})
    rule = await tenant.create(
        "/v1/kpis/spare/alert-rules", {"operator": "lt", "warning": 1.0, "critical": 0.5}
    )
    endpoint = await tenant.create("/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/spare"})
    return {
        "spare_people": [person["id"]],
        "spare_teams": [team["id"]],
        "spare_cycles": [cycle["id"]],
        "spare_objectives": [objective["id"]],
        "spare_key_results": [key_result["id"]],
        "spare_kpis": [kpi["key"], kpi["id"]],
        "spare_rules": [rule["id"]],
        "spare_endpoints": [endpoint["id"]],
    }


# Which seeded ids each parameter name draws from, wherever it appears.
BINDINGS = {
    "people": ("path.person_id", "query.owner_id", "body.owner_id", "body.manager_id"),
    "teams": ("path.team_id", "query.team_id", "body.team_id"),
    "cycles": ("path.cycle_id", "query.cycle_id", "body.cycle_id", "body.target_cycle_id"),
    "objectives": ("path.objective_id", "path.parent_id"),
    "parents": ("body.parent_id", "query.parent_id"),
    "kpis": ("path.kpi_ref", "body.kpi", "body.kpi_id"),
    "rules": ("path.rule_id",),
    "key_results": ("path.key_result_id",),
    "endpoints": ("path.endpoint_id",),
    "events": ("path.event_id",),
    "api_keys": ("path.api_key_id",),
}


# The operations that delete what they name take the spare rows instead.
DELETES = {
    "deleteCycle": {"path.cycle_id": "spare_cycles"},
    "deleteKeyResult": {"path.key_result_id": "spare_key_results"},
    "deleteKpi": {"path.kpi_ref": "spare_kpis"},
    "deleteAlertRule": {"path.kpi_ref": "spare_kpis", "path.rule_id": "spare_rules"},
    "deleteObjective": {"path.objective_id": "spare_objectives"},
    "deactivatePerson": {"path.person_id": "spare_people"},
    "deleteTeam": {"path.team_id": "spare_teams"},
    "deleteWebhookEndpoint": {"path.endpoint_id": "spare_endpoints"},
}


def _binding(name: str) -> str:
    return f'{{ dictionary = "{name}", probability = {SEEDED} }}'


# The GraphQL arguments that name seeded rows, and the rows they draw from.
GRAPHQL_BINDINGS = {
    "people": ("Query.person.id", "*.*.ownerId", "*.*.input.ownerId"),
    "teams": ("Query.team.id", "Query.teams.parentId", "*.*.teamId", "*.*.input.teamId"),
    "cycles": ("Query.cycle.id", "*.*.cycleId", "*.*.input.cycleId"),
    "objectives": (
        "Query.objective.id",
        "Query.alignment.rootId",
        "*.*.objectiveId",
        "Mutation.updateObjective.id",
        "Mutation.alignObjective.id",
        "Mutation.alignObjective.input.parentId",
        "Mutation.unalignObjective.id",
        "Mutation.unalignObjective.parentId",
        "Mutation.linkObjectiveKpi.id",
        "Mutation.unlinkObjectiveKpi.id",
    ),
    "key_results": ("Query.keyResult.id", "*.*.keyResultId", "Mutation.updateKeyResult.id"),
    "kpis": ("Query.kpi.idOrKey", "*.*.kpi", "Mutation.updateKpi.idOrKey"),
    "rules": ("Mutation.updateAlertRule.id",),
    "endpoints": (
        "Mutation.updateWebhookEndpoint.id",
        "Mutation.setWebhookEndpointDisabled.id",
        "Mutation.rotateWebhookSecret.id",
    ),
    "events": ("Query.eventDeliveries.eventId",),
    "spare_kpis": ("Mutation.deleteKpi.idOrKey",),
    "spare_rules": ("Mutation.deleteAlertRule.id",),
    "spare_endpoints": ("Mutation.deleteWebhookEndpoint.id",),
}


def _config(live: Live, checks: dict[str, str], bindings: dict[str, tuple[str, ...]]) -> str:
    """schemathesis.toml: auth, bounds, the checks, and the seeded ids as dictionaries."""
    return "\n".join(
        [
            f"seed = {SEED}",
            "workers = 2",
            'hooks = "tests.schemathesis_hooks"',
            f'headers = {{ Authorization = "Bearer {live.key}" }}',
            "[generation]",
            f"max-examples = {MAX_EXAMPLES}",
            "[checks]",
            "enabled = false",
            *(f"{check} = {{ {settings} }}" for check, settings in checks.items()),
            "[dictionaries]",
            *(f"{name} = {{ values = {json.dumps(ids)} }}" for name, ids in live.ids.items()),
            "[parameters]",
            *(f'"{key}" = {_binding(name)}' for name, keys in bindings.items() for key in keys),
        ]
    )


def _openapi_config(live: Live) -> str:
    checks = {check: "enabled = true" for check in CHECKS}
    # Its default list, plus 413: a body over the size limit is refused before it is read.
    checks["negative_data_rejection"] += f", expected-statuses = {json.dumps(REJECTIONS)}"
    lines = [_config(live, checks, BINDINGS)]
    # DELETE /v1/people/{id} deactivates: the person and what they own stay readable (their
    # objectives need a new owner), which use_after_free would count as a deleted resource.
    for operation in ("getPerson", "getPersonOwnership"):
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            "checks.use_after_free.enabled = false",
        ]
    for operation, parameters in DELETES.items():
        bound = ", ".join(f'"{key}" = {_binding(name)}' for key, name in parameters.items())
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            f"parameters = {{ {bound} }}",
        ]
    return "\n".join(lines) + "\n"


def _graphql_config(live: Live) -> str:
    checks = {check: "enabled = true" for check in GRAPHQL_CHECKS}
    return _config(live, checks, GRAPHQL_BINDINGS) + "\n"


@pytest.fixture
async def live(tenant: Tenant, app: FastAPI, database_url: str) -> AsyncIterator[Live]:
    """``meridian serve`` on the seeded test database."""
    ids = await _seed(tenant, app)
    port = _free_port()
    env = {
        **os.environ,
        "MERIDIAN_DATABASE_URL": database_url,
        "MERIDIAN_RUN_BACKGROUND": "false",
        "MERIDIAN_LOG_LEVEL": "INFO",
        # Fuzzing is a burst from one key; the rate limit has tests of its own.
        "MERIDIAN_RATE_LIMIT_ENABLED": "false",
    }
    process = await asyncio.create_subprocess_exec(
        MERIDIAN,
        *("serve", "--port", str(port), "--no-migrate"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    log: list[str] = []
    drain = None
    try:
        assert process.stderr is not None
        await _wait_for_lines(process.stderr, "Application startup complete", 1, log)
        # Drain the access log as it comes, so the pipe never fills and stalls the server.
        drain = asyncio.create_task(_collect(process.stderr, log))
        yield Live(f"http://127.0.0.1:{port}", tenant.key, ids)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=60)
        if drain is not None:
            await drain
    # The server's own account: an unhandled exception is logged even when the client got a
    # well-formed 500. The last line of each traceback says which.
    errors = [line for line in log if '"level": "error"' in line]
    assert not errors, "\n".join(f"{e[:200]} ... {e[-300:]}" for e in errors[:10])


async def _collect(stream: asyncio.StreamReader, log: list[str]) -> None:
    while line := await stream.readline():
        log.append(line.decode())


async def _schemathesis(tmp_path: Path, config: str, location: str) -> tuple[str, str]:
    """Run the CLI; its whole output, and the same with each line cut short for a report."""
    (tmp_path / "schemathesis.toml").write_text(config)
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        *("--config-file", str(tmp_path / "schemathesis.toml"), "run", location),
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=900)
    text = output.decode()
    (tmp_path / "schemathesis.log").write_text(text)
    # Generated bodies can be megabytes long: keep each line of the report short.
    report = "\n".join(line[:400] for line in text.splitlines())
    assert process.returncode == 0, report
    return text, report


async def test_schemathesis_finds_nothing_in_any_rest_operation(live: Live, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        document = (await http.get("/openapi.json")).json()
    text, report = await _schemathesis(tmp_path, _openapi_config(live), f"{live.url}/openapi.json")
    operations = sum(len(methods) for methods in document["paths"].values())
    assert f"Selected: {operations}/{operations}" in text, report
    assert f"Tested: {operations}" in text, report


async def test_schemathesis_finds_nothing_in_any_graphql_field(live: Live, tmp_path: Path) -> None:
    text, report = await _schemathesis(tmp_path, _graphql_config(live), f"{live.url}/graphql")
    sdl = build_schema(schema.as_str())
    assert sdl.query_type is not None and sdl.mutation_type is not None
    fields = len(sdl.query_type.fields) + len(sdl.mutation_type.fields)
    assert f"Selected: {fields}/{fields}" in text, report
    assert f"Tested: {fields}" in text, report
