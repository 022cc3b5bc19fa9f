"""Authentication, scopes, API key lifecycle and cross-organization isolation."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import Tenant

Json = dict[str, Any]


def assert_problem(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    assert body["status"] == status
    for name in ("type", "title", "detail"):
        assert body[name], body
    return body


# ---- authentication ---------------------------------------------------------------------


async def test_no_key_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/objectives")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token mrd_abc",
        "Bearer abc123",
        "Bearer mrd_" + "a" * 300,
        "Bearer mrd_thisKeyWasNeverIssuedByMeridian0000000000000",
        "mrd_thisKeyHasNoScheme",
    ],
)
async def test_malformed_or_unknown_keys_are_401(
    client: httpx.AsyncClient, tenant: Tenant, authorization: str
) -> None:
    response = await client.get("/v1/objectives", headers={"Authorization": authorization})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")


async def test_scheme_is_case_insensitive(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/objectives", headers={"Authorization": f"bearer {tenant.key}"})
    assert response.status_code == 200, response.text


async def test_revoked_key_is_401(tenant: Tenant) -> None:
    reader = await tenant.key_with("read")
    assert (await reader.get("/v1/objectives")).status_code == 200
    keys = (await tenant.get("/v1/api-keys")).json()["items"]
    reader_id = next(k["id"] for k in keys if k["name"] == "read")
    assert (await tenant.delete(f"/v1/api-keys/{reader_id}")).status_code == 204
    response = await reader.get("/v1/objectives")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    listed = {k["id"]: k for k in (await tenant.get("/v1/api-keys")).json()["items"]}
    assert listed[reader_id]["revoked_at"].endswith("Z")
    assert_problem(await tenant.delete(f"/v1/api-keys/{reader_id}"), 404)  # already revoked


async def test_operations_endpoints_need_no_key(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(path)).status_code == 200, path


# ---- scopes -----------------------------------------------------------------------------


async def test_read_key_reads_but_cannot_write(tenant: Tenant, objective: Json) -> None:
    reader = await tenant.key_with("read")
    assert (await reader.get("/v1/objectives")).status_code == 200
    assert (await reader.get(f"/v1/objectives/{objective['id']}")).status_code == 200
    body = {"name": "2027-Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    assert_problem(await reader.post("/v1/cycles", json=body), 403)
    assert_problem(
        await reader.patch(
            f"/v1/objectives/{objective['id']}", json={"title": "x"}, headers={"If-Match": "*"}
        ),
        403,
    )
    assert_problem(await reader.delete(f"/v1/objectives/{objective['id']}"), 403)
    assert (await tenant.get(f"/v1/objectives/{objective['id']}")).json()["title"] == objective[
        "title"
    ]
    assert (await tenant.get("/v1/cycles")).json()["items"][0]["name"] == "2026-Q4"
    assert len((await tenant.get("/v1/cycles")).json()["items"]) == 1


async def test_ingest_key_cannot_read(tenant: Tenant, objective: Json) -> None:
    ingester = await tenant.key_with("ingest")
    for path in ("/v1/objectives", f"/v1/objectives/{objective['id']}", "/v1/people"):
        assert_problem(await ingester.get(path), 403)
    assert_problem(
        await ingester.post("/v1/people", json={"user_name": "a", "display_name": "A"}), 403
    )


async def test_write_key_writes_but_cannot_manage_keys(tenant: Tenant) -> None:
    writer = await tenant.key_with("write")
    person = await writer.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    assert (await writer.get(f"/v1/people/{person['id']}")).status_code == 200
    assert_problem(await writer.get("/v1/api-keys"), 403)
    assert_problem(await writer.post("/v1/api-keys", json={"name": "x", "scopes": ["read"]}), 403)
    keys = (await tenant.get("/v1/api-keys")).json()["items"]
    assert_problem(await writer.delete(f"/v1/api-keys/{keys[0]['id']}"), 403)
    assert len((await tenant.get("/v1/api-keys")).json()["items"]) == 2


async def test_admin_key_manages_keys(tenant: Tenant) -> None:
    response = await tenant.post("/v1/api-keys", json={"name": "ops", "scopes": ["admin"]})
    assert response.status_code == 201, response.text
    admin2 = Tenant(tenant.organization_id, response.json()["key"], tenant.http)
    assert (await admin2.get("/v1/api-keys")).status_code == 200
    created = await admin2.create("/v1/api-keys", {"name": "r", "scopes": ["read"]})
    assert (await admin2.delete(f"/v1/api-keys/{created['id']}")).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["superuser"]},
        {"name": "", "scopes": ["read"]},
        {"scopes": ["read"]},
        {"name": "x"},
    ],
)
async def test_invalid_key_requests_are_422(tenant: Tenant, body: Json) -> None:
    assert_problem(await tenant.post("/v1/api-keys", json=body), 422)


# ---- key material -----------------------------------------------------------------------


async def test_key_is_shown_once_and_stored_hashed(app: FastAPI, tenant: Tenant) -> None:
    response = await tenant.post("/v1/api-keys", json={"name": "sync", "scopes": ["write"]})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    key = created["key"]
    assert key.startswith("mrd_")
    assert len(key) >= 40
    assert created["prefix"] == key[: len(created["prefix"])]
    assert created["prefix"].startswith("mrd_")
    assert len(created["prefix"]) < len(key) - 20
    assert created["scopes"] == ["write"]
    assert created["revoked_at"] is None

    listed = (await tenant.get("/v1/api-keys")).json()["items"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in mine
    assert key not in (await tenant.get("/v1/api-keys")).text

    async with app.state.sessionmaker() as session:
        row = (
            (
                await session.execute(
                    text("SELECT * FROM api_keys WHERE id = :id"), {"id": created["id"]}
                )
            )
            .mappings()
            .one()
        )
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    for column, value in row.items():
        assert key not in str(value), f"column {column} holds the clear key"
        assert key[4:] not in str(value), f"column {column} holds the clear key"


async def test_keys_are_unique(tenant: Tenant) -> None:
    keys = {(await tenant.key_with("read")).key for _ in range(5)}
    assert len(keys) == 5


async def test_last_used_is_recorded(tenant: Tenant) -> None:
    reader = await tenant.key_with("read")
    before = {k["name"]: k for k in (await tenant.get("/v1/api-keys")).json()["items"]}
    assert before["read"]["last_used_at"] is None
    await reader.get("/v1/objectives")
    after = {k["name"]: k for k in (await tenant.get("/v1/api-keys")).json()["items"]}
    assert after["read"]["last_used_at"].endswith("Z")


async def test_revoking_last_admin_key_is_409(tenant: Tenant) -> None:
    keys = (await tenant.get("/v1/api-keys")).json()["items"]
    (bootstrap,) = keys
    assert "admin" in bootstrap["scopes"]
    problem = assert_problem(await tenant.delete(f"/v1/api-keys/{bootstrap['id']}"), 409)
    assert "admin" in problem["detail"]
    assert (await tenant.get("/v1/api-keys")).status_code == 200  # still works
    # A read key does not count as an admin key.
    await tenant.key_with("read")
    assert_problem(await tenant.delete(f"/v1/api-keys/{bootstrap['id']}"), 409)
    # With a second admin key the first can go, and the second is then the last.
    second = await tenant.key_with("admin")
    assert (await tenant.delete(f"/v1/api-keys/{bootstrap['id']}")).status_code == 204
    assert_problem(await tenant.get("/v1/api-keys"), 401)
    second_id = next(
        k["id"] for k in (await second.get("/v1/api-keys")).json()["items"] if k["name"] == "admin"
    )
    assert_problem(await second.delete(f"/v1/api-keys/{second_id}"), 409)


async def test_other_organizations_admin_key_does_not_count(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    (bootstrap,) = (await tenant.get("/v1/api-keys")).json()["items"]
    assert_problem(await tenant.delete(f"/v1/api-keys/{bootstrap['id']}"), 409)


async def test_unknown_api_key_id_is_404(tenant: Tenant) -> None:
    assert_problem(await tenant.delete(f"/v1/api-keys/{uuid.uuid4()}"), 404)


# ---- cross-organization isolation -------------------------------------------------------


def id_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every ``(method, path)`` under /v1 with a path parameter, from the app's routes."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: routes are already flat
        routes = list(app.routes)
    found = set()
    for route in routes:
        path = getattr(route, "path", None) or ""
        if path.startswith("/v1/") and "{" in path:
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, path))
    return sorted(found)


def list_routes(app: FastAPI) -> list[str]:
    try:
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    return sorted(
        {
            r.path
            for r in routes
            if (getattr(r, "path", None) or "").startswith("/v1/")
            and "{" not in r.path
            and "GET" in (getattr(r, "methods", None) or ())
        }
    )


@dataclass
class World:
    """One of each needed resource in an organization, by path-parameter name."""

    ids: dict[str, str]
    alternates: dict[str, list[str]]  # other accepted spellings (a KPI's key)


async def _api_key(t: Tenant, ids: Json) -> str:
    return str((await t.create("/v1/api-keys", {"name": "victim", "scopes": ["read"]}))["id"])


async def _person(t: Tenant, ids: Json) -> str:
    body = {"user_name": f"u{uuid.uuid4().hex[:6]}", "display_name": "P"}
    return str((await t.create("/v1/people", body))["id"])


async def _team(t: Tenant, ids: Json) -> str:
    return str((await t.create("/v1/teams", {"name": "T", "member_ids": [ids["person_id"]]}))["id"])


async def _cycle(t: Tenant, ids: Json) -> str:
    body = {
        "name": f"c{uuid.uuid4().hex[:6]}",
        "start_date": "2026-10-01",
        "end_date": "2026-12-31",
    }
    return str((await t.create("/v1/cycles", body))["id"])


async def _objective(t: Tenant, ids: Json) -> str:
    body = {"title": "O", "cycle_id": ids["cycle_id"], "owner_id": ids["person_id"]}
    return str((await t.create("/v1/objectives", body))["id"])


async def _parent(t: Tenant, ids: Json) -> str:
    """An objective the ``objective_id`` one aligns to (and a KPI it stands on, if any)."""
    body = {"title": "Parent", "cycle_id": ids["cycle_id"]}
    parent = str((await t.create("/v1/objectives", body))["id"])
    await t.create(f"/v1/objectives/{ids['objective_id']}/parents", {"parent_id": parent})
    return parent


async def _key_result(t: Tenant, ids: Json) -> str:
    body = {"title": "KR", "type": "increase", "start": 0, "target": 10}
    kr = await t.create(f"/v1/objectives/{ids['objective_id']}/key-results", body)
    await t.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 3})
    return str(kr["id"])


async def _kpi(t: Tenant, ids: Json) -> str:
    body = {"key": f"kpi-{uuid.uuid4().hex[:6]}", "name": "K", "target": 10}
    kpi = await t.create("/v1/kpis", body)
    ids["kpi_key"] = kpi["key"]
    return str(kpi["id"])


async def _rule(t: Tenant, ids: Json) -> str:
    body = {"operator": "gt", "critical": 100}
    return str((await t.create(f"/v1/kpis/{ids['kpi_ref']}/alert-rules", body))["id"])


async def _endpoint(t: Tenant, ids: Json) -> str:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["webhook.test"]}
    return str((await t.create("/v1/webhook-endpoints", body))["id"])


async def _event(t: Tenant, ids: Json) -> str:
    response = await t.post(f"/v1/webhook-endpoints/{ids['endpoint_id']}/test")
    assert response.status_code == 202, response.text
    return str(response.json()["event_id"])


Factory = Callable[[Tenant, Json], Awaitable[str]]

# Path parameter -> (factory, what it needs first, a GET path proving the row is untouched).
FACTORIES: dict[str, tuple[Factory, tuple[str, ...], str | None]] = {
    "api_key_id": (_api_key, (), None),
    "person_id": (_person, (), "/v1/people/{person_id}"),
    "team_id": (_team, ("person_id",), "/v1/teams/{team_id}"),
    "cycle_id": (_cycle, (), "/v1/cycles/{cycle_id}"),
    "objective_id": (_objective, ("cycle_id", "person_id"), "/v1/objectives/{objective_id}"),
    "parent_id": (_parent, ("objective_id",), "/v1/objectives/{parent_id}"),
    "key_result_id": (_key_result, ("objective_id",), "/v1/key-results/{key_result_id}"),
    "kpi_ref": (_kpi, (), "/v1/kpis/{kpi_ref}"),
    "rule_id": (_rule, ("kpi_ref",), "/v1/kpis/{kpi_ref}/alert-rules/{rule_id}"),
    "endpoint_id": (_endpoint, (), "/v1/webhook-endpoints/{endpoint_id}"),
    "event_id": (_event, ("endpoint_id",), "/v1/events/{event_id}"),
}

# Bodies that pass validation, so a 404 is about the id and not a 422 about the body.
SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/objectives/{objective_id}/key-results"): {"title": "KR", "type": "milestone"},
    ("POST", "/v1/key-results/{key_result_id}/check-ins"): {"value": 1},
    ("POST", "/v1/kpis/{kpi_ref}/readings"): {"value": 1},
    ("POST", "/v1/kpis/{kpi_ref}/alert-rules"): {"operator": "gt", "critical": 1},
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/recover"): {"since": "2026-11-20T00:00:00Z"},
    ("POST", "/v1/objectives/{objective_id}/parents"): {"parent_id": str(uuid.uuid4())},
    ("POST", "/v1/objectives/{objective_id}/kpis"): {"kpi": "any"},
    ("POST", "/v1/cycles/{cycle_id}/rollover"): {"target_cycle_id": str(uuid.uuid4())},
    ("POST", "/v1/key-results/{key_result_id}/promote-to-kpi"): {"key": "promoted"},
}


def params_of(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def with_dependencies(names: set[str]) -> set[str]:
    closed = set(names)
    while True:
        more = {d for n in closed if n in FACTORIES for d in FACTORIES[n][1]} - closed
        if not more:
            return closed
        closed |= more


async def build_world(tenant: Tenant, needed: set[str]) -> World:
    ids: Json = {}
    wanted = with_dependencies(needed)
    for name, (factory, _, _) in FACTORIES.items():  # dict order respects dependencies
        if name in wanted:
            ids[name] = await factory(tenant, ids)
    alternates = {"kpi_ref": [ids.pop("kpi_key")]} if "kpi_key" in ids else {}
    return World({k: str(v) for k, v in ids.items()}, alternates)


def normalised(response: httpx.Response, ident: str) -> Json:
    return {
        "status": response.status_code,
        "content_type": response.headers.get("content-type"),
        "body": response.text.replace(ident, "<id>"),
    }


def _routes_at_import() -> list[tuple[str, str]]:
    from service.app import create_app
    from service.config import Settings

    return id_routes(create_app(Settings(database_url="postgresql+asyncpg://unused/unused")))


ID_ROUTES = _routes_at_import()


def test_id_routes_were_found_and_all_have_factories() -> None:
    assert len(ID_ROUTES) >= 20, ID_ROUTES
    unknown = {p for _, path in ID_ROUTES for p in params_of(path)} - FACTORIES.keys()
    assert not unknown, (
        f"path parameters {sorted(unknown)} have no factory in tests/test_auth.py FACTORIES: "
        "add one so the new routes are covered by the isolation test"
    )


@pytest.mark.parametrize(("method", "path"), ID_ROUTES, ids=[f"{m} {p}" for m, p in ID_ROUTES])
async def test_other_organizations_ids_answer_like_random_ids(
    tenant: Tenant, other_tenant: Tenant, method: str, path: str
) -> None:
    """Another organization's id gets exactly the 404 a random id gets, and changes nothing."""
    params = params_of(path)
    unknown = set(params) - FACTORIES.keys()
    assert not unknown, f"add a factory for {sorted(unknown)} to tests/test_auth.py FACTORIES"
    victim = await build_world(tenant, set(params))
    attacker = await build_world(other_tenant, set(params))

    failures: list[str] = []
    for target in params:
        spellings = [(victim.ids[target], str(uuid.uuid4()))]
        for alternate in victim.alternates.get(target, []):
            spellings.append((alternate, f"no-such-{uuid.uuid4().hex[:8]}"))
        for foreign, random_id in spellings:
            values = {p: attacker.ids[p] for p in params}
            kwargs: Json = {}
            if (method, path) in SAMPLE_BODIES:
                kwargs["json"] = SAMPLE_BODIES[(method, path)]
            elif method in ("POST", "PATCH", "PUT"):
                kwargs["json"] = {}
            if method == "PATCH":
                kwargs["headers"] = {"If-Match": "*"}
            got_foreign = await other_tenant.request(
                method, path.format(**{**values, target: foreign}), **kwargs
            )
            got_random = await other_tenant.request(
                method, path.format(**{**values, target: random_id}), **kwargs
            )
            label = f"another org's {target} ({foreign})"
            if got_random.status_code != 404:
                failures.append(
                    f"{label}: a random id gave {got_random.status_code}, not 404 "
                    f"(does SAMPLE_BODIES need a valid body?): {got_random.text[:300]}"
                )
            if normalised(got_foreign, foreign) != normalised(got_random, random_id):
                failures.append(
                    f"{label}: {got_foreign.status_code} {got_foreign.text[:300]}\n"
                    f"   but a random id: {got_random.status_code} {got_random.text[:300]}"
                )
    assert not failures, "\n".join(failures)

    # Nothing of the victim's changed.
    for name in victim.ids:
        read_path = FACTORIES[name][2]
        if read_path:
            response = await tenant.get(read_path.format(**victim.ids))
            assert response.status_code == 200, f"{name}: {response.text}"
    if "api_key_id" in victim.ids:
        listed = (await tenant.get("/v1/api-keys")).json()["items"]
        assert {k["id"]: k["revoked_at"] for k in listed}[victim.ids["api_key_id"]] is None
    if "team_id" in victim.ids:
        team = (await tenant.get(f"/v1/teams/{victim.ids['team_id']}")).json()
        assert team["member_ids"] == [victim.ids["person_id"]]
    if "key_result_id" in victim.ids:
        url = f"/v1/key-results/{victim.ids['key_result_id']}/check-ins"
        assert len((await tenant.get(url)).json()["items"]) == 1
    if "parent_id" in victim.ids:
        url = f"/v1/objectives/{victim.ids['objective_id']}/parents"
        assert [p["parent_id"] for p in (await tenant.get(url)).json()] == [victim.ids["parent_id"]]
    if "kpi_ref" in victim.ids and "objective_id" in victim.ids:
        url = f"/v1/objectives/{victim.ids['objective_id']}/kpis"
        assert (await tenant.get(url)).json() == []
    if "objective_id" in victim.ids:
        krs = (await tenant.get(f"/v1/objectives/{victim.ids['objective_id']}/key-results")).json()
        assert len(krs) == (1 if "key_result_id" in victim.ids else 0)


async def test_lists_never_show_other_organizations(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    needed = set(FACTORIES) - {"rule_id"}  # alert rules have no list route of their own
    victim = await build_world(tenant, needed)
    await build_world(other_tenant, needed)
    secrets = list(victim.ids.values()) + [a for alts in victim.alternates.values() for a in alts]
    for path in list_routes(app):
        response = await other_tenant.get(path)
        assert response.status_code == 200, f"{path}: {response.text}"
        for secret in secrets:
            assert secret not in response.text, f"{path} leaks {secret}"
