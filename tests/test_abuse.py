"""Hostile input: every body-taking route refuses garbage with a problem, and stores nothing.

The REST sweep is generated from the app's routes (like the isolation matrix in
tests/test_auth.py), so a new route is swept without being listed here. Targeted tests then
put NaN, huge numbers, NUL, lone surrogates and long strings into real fields, REST and
GraphQL, and check that well-formed unusual text (RTL, combining marks, emoji) round-trips.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from service.config import Settings
from tests.conftest import Tenant
from tests.test_auth import FACTORIES, build_world, params_of

Json = dict[str, Any]
MAX_BODY = 256 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": MAX_BODY})


# ---- what the database holds ----------------------------------------------------------------


async def fingerprint(app: FastAPI) -> dict[str, str]:
    """Every table's rows, hashed: equal fingerprints mean nothing was stored or changed.
    ``api_keys`` is counted only (``last_used_at`` moves when a key is used)."""
    async with app.state.sessionmaker() as session:
        tables = (
            await session.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version' ORDER BY tablename"
                )
            )
        ).all()
        result = {}
        for table in tables:
            if table == "api_keys":
                # Table names come from the catalog, not from input.
                query = f"SELECT count(*)::text FROM {table}"  # noqa: S608
            else:
                rows = "coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '')"
                query = f"SELECT count(*) || ':' || {rows} FROM {table} t"  # noqa: S608
            result[table] = str((await session.execute(text(query))).scalar_one())
        return result


def problem_status(response: httpx.Response) -> int:
    """The status of a refusal, checked to be a problem document (SCIM's error under /scim)."""
    status = response.status_code
    assert 400 <= status < 500, f"{status}: {response.text[:500]}"
    body = response.json()
    if response.request.url.path.startswith("/scim/"):
        assert response.headers["content-type"].startswith("application/scim+json")
        assert body["status"] == str(status) and body["detail"], body
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["status"] == status and body["title"] and body["detail"], body
    return status


# ---- the REST sweep, generated from the routes ---------------------------------------------


def _all_routes(app: FastAPI) -> list[Any]:
    try:
        from fastapi.routing import iter_route_contexts

        return list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: routes are already flat
        return list(app.routes)


def body_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Routes that read a body: a declared one (``body_field``), or SCIM's raw JSON."""
    found = set()
    for route in _all_routes(app):
        path = getattr(route, "path", "")
        if not path.startswith(("/v1/", "/scim/v2/")):
            continue
        if path.startswith("/v1/") and getattr(route, "body_field", None) is None:
            continue  # takes no body: one sent is ignored, as HTTP allows
        for method in getattr(route, "methods", None) or ():
            if method in ("POST", "PUT", "PATCH"):
                found.add((method, path))
    return sorted(found)


def _routes_at_import() -> list[tuple[str, str]]:
    from service.app import create_app

    return body_routes(create_app(Settings(database_url="postgresql+asyncpg://unused/unused")))


BODY_ROUTES = _routes_at_import()

DEEP = 100_000
# Bodies no route accepts, whatever it expects: each must be a 4xx problem.
GARBAGE: dict[str, bytes] = {
    "truncated": b'{"name": ',
    "not json": b"name=x&title=y",
    "invalid utf-8": b'{"name": "\xff\xfe"}',
    "two documents": b'{"name": "a"}{"name": "b"}',
    "deep nesting": b"[" * DEEP + b"]" * DEEP,
    "deep objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "top-level NaN": b"NaN",
    "top-level 1e309": b"1e309",
    "huge integer": b"1" + b"0" * 400,
    "longer than Python parses": b"9" * 5000,
    "null": b"null",
    "a string": b'"x"',
    "empty object of the wrong type": b"[]",
    "oversized": b'{"name": "' + b"x" * (MAX_BODY + 1) + b'"}',
}
# Well-formed JSON with odd member names: a route may ignore them (SCIM searches ignore
# unknown attributes), but never with a 5xx or a change.
ODD: dict[str, bytes] = {
    "lone surrogate key": b'{"\\ud800": 1}',
    "NUL key": b'{"a\\u0000": 1}',
}
CONTENT_TYPES = {"/v1/": "application/json", "/scim/v2/": "application/scim+json"}


def test_body_routes_were_found() -> None:
    assert len(BODY_ROUTES) >= 30, BODY_ROUTES
    scim_params = {
        p for _, path in BODY_ROUTES if path.startswith("/scim") for p in params_of(path)
    }
    unknown = {
        p for _, path in BODY_ROUTES if path.startswith("/v1") for p in params_of(path)
    } - FACTORIES.keys()
    assert not unknown, f"add a factory for {sorted(unknown)} to tests/test_auth.py FACTORIES"
    assert scim_params <= {"ident"}, scim_params


async def test_every_body_route_refuses_garbage_and_stores_nothing(
    app: FastAPI, tenant: Tenant
) -> None:
    world = await build_world(tenant, {p for _, path in BODY_ROUTES for p in params_of(path)})
    people = {"ident": world.ids["person_id"]}
    groups = {"ident": world.ids["team_id"]}
    before = await fingerprint(app)
    failures = []
    for method, path in BODY_ROUTES:
        values = groups if "/Groups/" in path else people if path.startswith("/scim") else {}
        url = path.format(**{**world.ids, **values})
        content_type = next(v for k, v in CONTENT_TYPES.items() if path.startswith(k))
        for label, body in GARBAGE.items():
            response = await tenant.request(
                method,
                url,
                content=body,
                headers={"Content-Type": content_type, "If-Match": "*"},
            )
            try:
                status = problem_status(response)
            except (AssertionError, ValueError) as exc:
                failures.append(f"{method} {path} {label}: {exc}")
                continue
            if label == "oversized" and status != 413:
                failures.append(f"{method} {path} oversized: {status}, not 413")
        for label, body in ODD.items():
            response = await tenant.request(
                method, url, content=body, headers={"Content-Type": content_type, "If-Match": "*"}
            )
            if response.status_code >= 500:
                failures.append(f"{method} {path} {label}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert await fingerprint(app) == before


HOSTILE_PARAMS = ["%00", "9" * 400, "x" * 5000, "%ED%A0%80", "NaN"]
HOSTILE_HEADERS = {
    "If-Match": b'W/"' + b"9" * 400 + b'"',
    "If-None-Match": b"x" * 9000,
    "Idempotency-Key": "\u00e9\u0000".encode("latin-1"),
    "X-Request-ID": b"\xff" * 300,
}


async def test_hostile_query_strings_path_segments_and_headers(
    app: FastAPI, tenant: Tenant
) -> None:
    """Every route's query parameters and path parameters get NUL, a 400-digit number, a
    5,000-character value, an encoded lone surrogate and NaN; every route-method gets absurd
    conditional, idempotency and request-id headers. Answers are below 500, and problems."""
    world = await build_world(tenant, set(FACTORIES))
    values = {**world.ids, "ident": world.ids["person_id"], "name": "User", "urn": "x"}
    failures = []

    async def check(method: str, url: str, **kwargs: Any) -> None:
        response = await tenant.request(method, url, **kwargs)
        if response.status_code >= 500:
            failures.append(f"{method} {url[:120]}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400 and "json" not in response.headers["content-type"]:
            failures.append(f"{method} {url[:120]}: {response.status_code} is not a problem")

    for route in _all_routes(app):
        path = route.path
        if not path.startswith(("/v1/", "/scim/v2/")):
            continue
        url = path.format(**values)
        methods = sorted(route.methods - {"HEAD"})
        if "GET" in methods:
            names = [p.alias for p in route.dependant.query_params]
            if path.startswith("/scim/"):
                names += ["filter", "startIndex", "count", "attributes"]
            for name in names:
                for value in HOSTILE_PARAMS:
                    await check("GET", f"{url}?{name}={value}")
        for name in params_of(path):
            for value in HOSTILE_PARAMS:
                await check(methods[0], path.format(**{**values, name: value}), json={})
        for method in methods:
            await check(method, url, headers=HOSTILE_HEADERS, json={})
    assert not failures, "\n".join(failures)


async def test_content_length_lies_are_refused(tenant: Tenant) -> None:
    for declared in ("abc", "-1", str(MAX_BODY + 1)):
        response = await tenant.post(
            "/v1/people",
            content=b"{}",
            headers={"Content-Type": "application/json", "Content-Length": declared},
        )
        assert problem_status(response) == 413, declared


# ---- numbers ---------------------------------------------------------------------------------

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1" + "0" * 400]


async def test_non_finite_and_huge_numbers_are_422_and_not_stored(
    app: FastAPI, tenant: Tenant, objective: Json
) -> None:
    kpi = await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR", "target": 10})
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "KR", "type": "increase", "start": 0, "target": 10},
    )
    before = await fingerprint(app)
    cases = [
        ("POST", "/v1/kpis", '{{"key": "k", "name": "K", "target": {n}}}'),
        ("PATCH", f"/v1/kpis/{kpi['id']}", '{{"target": {n}}}'),
        ("POST", f"/v1/kpis/{kpi['id']}/readings", '{{"value": {n}}}'),
        (
            "POST",
            "/v1/readings",
            '{{"readings": [{{"kpi": "mrr", "value": {n}}}], "atomic": true}}',
        ),
        ("POST", f"/v1/key-results/{kr['id']}/check-ins", '{{"value": {n}}}'),
        (
            "POST",
            f"/v1/objectives/{objective['id']}/key-results",
            '{{"title": "KR", "type": "increase", "start": 0, "target": {n}}}',
        ),
        ("POST", f"/v1/kpis/{kpi['id']}/alert-rules", '{{"operator": "gt", "critical": {n}}}'),
        ("GET", "/v1/objectives?limit={n}", ""),
    ]
    failures = []
    for method, url, template in cases:
        for number in NON_FINITE:
            response = await tenant.request(
                method,
                url.format(n=number),
                content=template.format(n=number).encode(),
                headers={"Content-Type": "application/json", "If-Match": "*"},
            )
            if response.status_code == 200 and url.startswith("/v1/readings"):
                # Non-atomic batches report per item; atomic ones refuse the whole batch.
                failures.append(f"{url} {number}: {response.text[:200]}")
                continue
            try:
                assert problem_status(response) in (400, 422)
            except AssertionError as exc:
                failures.append(f"{method} {url} {number}: {exc}")
    assert not failures, "\n".join(failures)
    assert await fingerprint(app) == before


async def test_huge_integers_in_integer_fields(
    app: FastAPI, tenant: Tenant, objective: Json
) -> None:
    before = await fingerprint(app)
    for number in (2**31, 2**63, 10**400, -(10**400)):
        for url in (
            f"/v1/objectives?limit={number}",
            f"/v1/objectives/{objective['id']}/tree?depth={number}",
        ):
            assert problem_status(await tenant.get(url)) == 422, url
    assert await fingerprint(app) == before


# ---- strings -----------------------------------------------------------------------------------

BAD_TEXT = {
    "NUL": "a\u0000b",
    "lone high surrogate": "a\ud800b",
    "lone low surrogate": "\udfffb",
    "control character": "a\u0007b",
    "too long": "x" * 20_000,
    "empty": "",
    "only spaces": "   ",
}


def _json_with(value: str, template: Json, field: str) -> bytes:
    # json.dumps escapes surrogates as \ud800, exactly as a hostile client would send them.
    return json.dumps({**template, field: value}).encode()


async def test_bad_text_is_refused_everywhere_it_can_go(
    app: FastAPI, tenant: Tenant, cycle: Json
) -> None:
    person = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    kpi = await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    before = await fingerprint(app)
    cases: list[tuple[str, str, Json, str]] = [
        ("POST", "/v1/objectives", {"cycle_id": cycle["id"]}, "title"),
        ("POST", "/v1/cycles", {"start_date": "2027-01-01", "end_date": "2027-03-31"}, "name"),
        ("POST", "/v1/people", {"display_name": "X"}, "user_name"),
        ("PATCH", f"/v1/people/{person['id']}", {}, "display_name"),
        ("POST", "/v1/teams", {}, "name"),
        ("POST", "/v1/kpis", {"name": "K"}, "key"),
        ("POST", "/v1/kpis", {"key": "k2", "name": "K"}, "unit"),
        ("PATCH", f"/v1/kpis/{kpi['id']}", {}, "name"),
        ("POST", f"/v1/kpis/{kpi['id']}/readings", {"value": 1}, "source"),
        ("POST", "/v1/api-keys", {"scopes": ["read"]}, "name"),
    ]
    failures = []
    for method, url, template, field in cases:
        for label, value in BAD_TEXT.items():
            if label in ("empty", "only spaces") and field in ("source", "unit"):
                continue
            response = await tenant.request(
                method,
                url,
                content=_json_with(value, template, field),
                headers={"Content-Type": "application/json", "If-Match": "*"},
            )
            try:
                assert problem_status(response) == 422
            except (AssertionError, ValueError) as exc:
                failures.append(f"{method} {url} {field} {label}: {exc}")
    # The batch endpoint reports per item (or refuses all when atomic), storing nothing.
    for label, value in BAD_TEXT.items():
        if label == "only spaces":
            continue  # a source of spaces is odd but harmless
        item = {"kpi": "mrr", "value": 1, "source": value}
        body = json.dumps({"readings": [item], "atomic": True}).encode()
        response = await tenant.post(
            "/v1/readings", content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code != 422:
            failures.append(f"/v1/readings source {label}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert await fingerprint(app) == before


async def test_scim_refuses_bad_text(app: FastAPI, tenant: Tenant) -> None:
    before = await fingerprint(app)
    for label, value in BAD_TEXT.items():
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": value,
            "displayName": "X",
        }
        response = await tenant.post(
            "/scim/v2/Users",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/scim+json"},
        )
        assert problem_status(response) in (400, 422), label
    assert await fingerprint(app) == before


UNUSUAL_BUT_FINE = [
    "مرحبا بالعالم",  # right to left
    "שלום \u202eevil\u202c",  # RTL override marks are text, not controls
    "e\u0301\u0301\u0301 Zalgo z\u0336\u0335",  # combining marks
    "👩🏽‍💻 ship it 🚀",  # ZWJ sequence and astral plane
    "\ufeffBOM and \u200b zero width",
    "\U0001d518\U0001d52b\U0001d526",  # mathematical fraktur letters
]


async def test_unusual_unicode_round_trips(tenant: Tenant, cycle: Json) -> None:
    for title in UNUSUAL_BUT_FINE:
        created = await tenant.create("/v1/objectives", {"title": title, "cycle_id": cycle["id"]})
        assert created["title"] == title
        read = (await tenant.get(f"/v1/objectives/{created['id']}")).json()
        assert read["title"] == title
        query = "query($id: UUID!) { objective(id: $id) { title } }"
        answer = await tenant.post(
            "/graphql", json={"query": query, "variables": {"id": created["id"]}}
        )
        assert answer.json()["data"]["objective"]["title"] == title


# ---- batches -----------------------------------------------------------------------------------


async def test_oversized_batch_is_refused_whole(app: FastAPI, tenant: Tenant) -> None:
    await tenant.create("/v1/kpis", {"key": "k", "name": "K"})
    before = await fingerprint(app)
    readings = [{"kpi": "k", "value": n} for n in range(10_001)]
    body = json.dumps({"readings": readings}, separators=(",", ":")).encode()
    assert len(body) < MAX_BODY
    response = await tenant.post(
        "/v1/readings", content=body, headers={"Content-Type": "application/json"}
    )
    assert problem_status(response) == 422
    assert "10000" in response.text.replace(",", "")
    assert await fingerprint(app) == before


async def test_oversized_graphql_batch_is_refused_whole(app: FastAPI, tenant: Tenant) -> None:
    await tenant.create("/v1/kpis", {"key": "k", "name": "K"})
    before = await fingerprint(app)
    mutation = (
        "mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r, atomic: false) "
        "{ __typename ... on MutationError { code message } } }"
    )
    readings = [{"kpi": "k", "value": n} for n in range(10_001)]
    body = json.dumps({"query": mutation, "variables": {"r": readings}}, separators=(",", ":"))
    assert len(body) < MAX_BODY
    response = await tenant.post(
        "/graphql", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["ingestReadings"]["__typename"] == "ValidationError"
    assert await fingerprint(app) == before


# ---- GraphQL -----------------------------------------------------------------------------------


def graphql_errors(response: httpx.Response) -> list[Json]:
    """A refusal in the GraphQL response: 200 or 400 with ``errors``, never a 5xx or data."""
    assert response.status_code in (200, 400), f"{response.status_code}: {response.text[:300]}"
    body = response.json()
    assert body.get("errors"), body
    assert not (body.get("data") or {}).get("objectives"), body
    errors: list[Json] = body["errors"]
    for error in errors:
        assert error["message"], error
    return errors


async def test_graphql_refuses_abusive_documents(app: FastAPI, tenant: Tenant) -> None:
    deep = "{ objectives { edges { node { " + "keyResults { objective { " * 12 + "id"
    deep += " } }" * 12 + " } } } }"
    aliases = (
        "{ "
        + " ".join(f"a{n}: objectives {{ edges {{ node {{ id }} }} }}" for n in range(100))
        + " }"
    )
    wide = "{ objectives { edges { node { " + " ".join(["id title"] * 2000) + " } } } }"
    many_operations = " ".join(
        f"query q{n} {{ objectives {{ edges {{ node {{ id }} }} }} }}" for n in range(300)
    )
    directives = "{ objectives { edges { node { id " + "@include(if: true) " * 3000 + "} } } }"
    fragments_cycle = (
        "{ objectives { edges { node { ...A } } } } fragment A on Objective { id ...B } "
        "fragment B on Objective { title ...A }"
    )
    documents = {
        "deep": deep,
        "aliases": aliases,
        "wide": wide,
        "many operations without a name": many_operations,
        "directives": directives,
        "fragment cycle": fragments_cycle,
        "syntax error": "{ objectives { edges { id }",
        "empty": "",
        "unknown field": "{ nope }",
        "NUL in the document": "{ objectives { edges { node { id\u0000 } } } }",
        "lone surrogate in the document": '{ objective(id: "\ud800") { id } }',
        "introspection bomb": "{ __schema { types { fields { type { fields { type { fields { "
        "type { fields { name } } } } } } } } } }",
    }
    before = await fingerprint(app)
    for label, query in documents.items():
        response = await tenant.post(
            "/graphql",
            content=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            graphql_errors(response)
        except (AssertionError, ValueError) as exc:
            raise AssertionError(f"{label}: {exc}") from exc
    assert await fingerprint(app) == before


async def test_graphql_refuses_bad_variables_and_requests(
    app: FastAPI, tenant: Tenant, cycle: Json
) -> None:
    mutation = (
        "mutation($input: CreateObjectiveInput!) { createObjective(input: $input) "
        "{ __typename ... on MutationError { code message } } }"
    )
    first = "query($first: Int!) { objectives(first: $first) { edges { node { id } } } }"

    def with_first(literal: str) -> bytes:
        return (
            json.dumps({"query": first})[:-1] + ', "variables": {"first": ' + literal + "}}"
        ).encode()

    before = await fingerprint(app)
    raw_cases: dict[str, bytes] = {
        "not json": b"query=x",
        "truncated": b'{"query": "{ objectives { edges { node { id } } } }"',
        "a batch array": b'[{"query": "{ objectives { edges { node { id } } } }"}]',
        "query is a number": b'{"query": 1}',
        "variables is a list": b'{"query": "{ __typename }", "variables": [1]}',
        "NaN variable": with_first("NaN"),
        "huge int variable": with_first("9" * 400),
        "1e309 variable": with_first("1e309"),
        "deep variables": with_first("[" * 50_000 + "1" + "]" * 50_000),
        "huge variables": json.dumps(
            {"query": first, "variables": {"first": 1, "junk": ["x" * 1000] * 300}}
        ).encode(),
    }
    for label, title in BAD_TEXT.items():
        variables = {"input": {"title": title, "cycleId": cycle["id"]}}
        raw_cases[f"title {label}"] = json.dumps(
            {"query": mutation, "variables": variables}
        ).encode()
    for label, number in (("NaN", "NaN"), ("Infinity", "Infinity"), ("1e309", "1e309")):
        raw_cases[f"target {label}"] = (
            '{"query": "mutation { createKpi(input: {key: \\"k\\", name: \\"K\\", '
            "target: " + number + '}) { __typename } }"}'
        ).encode()
    failures = []
    for label, body in raw_cases.items():
        response = await tenant.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        status = response.status_code
        if status >= 500 or status in (201, 204):
            failures.append(f"{label}: {status} {response.text[:300]}")
            continue
        if status == 413:
            problem_status(response)
            continue
        payload = response.json()
        data = payload.get("data") or {}
        refused_mutation = any(
            str((value or {}).get("__typename", "")).endswith("Error") for value in data.values()
        )
        if not payload.get("errors") and not refused_mutation and "detail" not in payload:
            failures.append(f"{label}: not refused: {response.text[:300]}")
    assert not failures, "\n".join(failures)
    assert await fingerprint(app) == before


async def test_graphql_ids_that_are_not_uuids(tenant: Tenant) -> None:
    for ident in ("nope", "' OR 1=1 --", "0" * 10_000, "\u0000"):
        query = "query($id: UUID!) { objective(id: $id) { id } }"
        response = await tenant.post("/graphql", json={"query": query, "variables": {"id": ident}})
        graphql_errors(response)


async def test_unknown_uuid_in_rest_paths(tenant: Tenant) -> None:
    for ident in ("nope", "0" * 10_000, "%00", "%F0%9F%9A%80", str(uuid.uuid4()) + "x"):
        response = await tenant.get(f"/v1/objectives/{ident}")
        assert problem_status(response) in (404, 422), ident
