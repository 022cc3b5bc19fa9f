"""Cross-cutting REST conventions: pagination, ETags, idempotency, problems, operations."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from service.api.problems import documented_methods
from service.app import create_app
from service.config import Settings
from tests.conftest import Tenant, new_tenant

Json = dict[str, Any]
PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: Json = response.json()
    assert body["status"] == status
    for name in ("type", "title", "detail"):
        assert isinstance(body[name], str)
        assert body[name]
    return body


async def count_rows(app: FastAPI, table: str) -> int:
    async with app.state.sessionmaker() as session:
        return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


# ---- resources every convention is checked on ------------------------------------------

Maker = Callable[[Tenant, int], Awaitable[Json]]


async def make_person(t: Tenant, i: int) -> Json:
    return await t.create("/v1/people", {"user_name": f"user{i}", "display_name": f"User {i}"})


async def make_team(t: Tenant, i: int) -> Json:
    return await t.create("/v1/teams", {"name": f"Team {i}"})


async def make_cycle(t: Tenant, i: int) -> Json:
    # A cycle that has ended: an objective's tag covers its pace, which moves with the clock
    # while the cycle runs, and the ETag tests read the same tag twice.
    body = {"name": f"C{i}", "start_date": "2025-01-01", "end_date": "2025-03-31"}
    return await t.create("/v1/cycles", body)


async def make_objective(t: Tenant, i: int) -> Json:
    cycles = (await t.get("/v1/cycles", params={"limit": 1})).json()["items"]
    cycle = cycles[0] if cycles else await make_cycle(t, 999)
    return await t.create("/v1/objectives", {"title": f"O{i}", "cycle_id": cycle["id"]})


async def make_key_result(t: Tenant, i: int) -> Json:
    objective = await make_objective(t, i)
    body = {"title": f"KR{i}", "type": "increase", "start": 0, "target": 10}
    return await t.create(f"/v1/objectives/{objective['id']}/key-results", body)


async def make_api_key(t: Tenant, i: int) -> Json:
    return await t.create("/v1/api-keys", {"name": f"k{i}", "scopes": ["read"]})


LISTS: dict[str, Maker] = {
    "/v1/people": make_person,
    "/v1/teams": make_team,
    "/v1/cycles": make_cycle,
    "/v1/objectives": make_objective,
    "/v1/api-keys": make_api_key,
}

# Resource path, maker, and a harmless change.
VERSIONED: dict[str, tuple[str, Maker, Json]] = {
    "person": ("/v1/people/{id}", make_person, {"title": "Changed"}),
    "team": ("/v1/teams/{id}", make_team, {"description": "Changed"}),
    "cycle": ("/v1/cycles/{id}", make_cycle, {"status": "active"}),
    "objective": ("/v1/objectives/{id}", make_objective, {"title": "Changed"}),
    "key_result": ("/v1/key-results/{id}", make_key_result, {"title": "Changed"}),
}


# ---- cursor pagination ------------------------------------------------------------------


async def test_limit_out_of_bounds_is_422(tenant: Tenant) -> None:
    kr = await make_key_result(tenant, 0)
    for path in [*LISTS, f"/v1/key-results/{kr['id']}/check-ins"]:
        for limit in ("0", "201", "-1", "ten"):
            response = await tenant.get(path, params={"limit": limit})
            assert response.status_code == 422, (path, limit, response.text)
            assert_problem(response, 422)


@pytest.mark.parametrize("limit", [1, 200])
async def test_limit_bounds_are_inclusive(tenant: Tenant, limit: int) -> None:
    await make_person(tenant, 1)
    response = await tenant.get("/v1/people", params={"limit": limit})
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 1
    assert response.json()["next_cursor"] is None


async def walk(tenant: Tenant, path: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while len(pages) < 50:
        params: Json = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await tenant.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination does not end")


@pytest.mark.parametrize("path", list(LISTS))
async def test_walking_all_pages_returns_each_item_once(tenant: Tenant, path: str) -> None:
    made = [(await LISTS[path](tenant, i))["id"] for i in range(7)]
    if path == "/v1/api-keys":
        made.insert(0, (await tenant.get(path)).json()["items"][0]["id"])  # the bootstrap key
    pages = await walk(tenant, path, 3)
    seen = [ident for page in pages for ident in page]
    assert seen == made  # oldest first, no gaps, no repeats
    assert [len(p) for p in pages][:-1] == [3] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 3
    everything = (await tenant.get(path, params={"limit": 200})).json()
    assert [i["id"] for i in everything["items"]] == made
    assert everything["next_cursor"] is None


async def test_exact_multiple_of_the_limit_ends_cleanly(tenant: Tenant) -> None:
    made = [(await make_person(tenant, i))["id"] for i in range(4)]
    pages = await walk(tenant, "/v1/people", 2)
    assert [i for p in pages for i in p] == made
    assert all(pages)  # never a trailing empty page announced by a cursor... or if so, empty
    assert len(pages) == 2


async def test_pages_are_stable_under_inserts(tenant: Tenant) -> None:
    made = [(await make_person(tenant, i))["id"] for i in range(4)]
    first = (await tenant.get("/v1/people", params={"limit": 2})).json()
    late = (await make_person(tenant, 99))["id"]
    rest = await tenant.get("/v1/people", params={"limit": 200, "cursor": first["next_cursor"]})
    assert [i["id"] for i in first["items"]] + [i["id"] for i in rest.json()["items"]] == [
        *made,
        late,
    ]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = [
    "not-a-cursor",
    "!!!!",
    b64(b"just text"),
    b64(b"{}"),
    b64(b"[]"),
    b64(b'"ab"'),
    b64(b"[1, 2]"),
    b64(b'["2026-01-01T00:00:00+00:00"]'),
    b64(b'["2026-01-01T00:00:00+00:00", "not-a-uuid"]'),
    b64(b'["yesterday", "00000000-0000-4000-8000-000000000000"]'),
    b64(b"\xff\xfe\xfd"),
    b64(json.dumps(["2026-01-01T00:00:00+00:00", str(uuid.uuid4()), "extra"]).encode()),
]


async def test_bad_cursor_is_400(tenant: Tenant) -> None:
    await make_person(tenant, 1)
    for path in LISTS:
        for cursor in BAD_CURSORS:
            response = await tenant.get(path, params={"cursor": cursor})
            assert response.status_code == 400, (path, cursor, response.text)
            assert_problem(response, 400)


async def test_forged_cursor_never_causes_a_server_error(tenant: Tenant) -> None:
    await make_person(tenant, 1)
    for moment in (
        "2026-01-01T00:00:00",  # no offset
        "0001-01-01T00:00:00+14:00",  # before the earliest timestamp PostgreSQL stores
        "9999-12-31T23:59:59-14:00",
    ):
        cursor = b64(json.dumps([moment, str(uuid.uuid4())]).encode())
        response = await tenant.get("/v1/people", params={"cursor": cursor})
        assert response.status_code in (200, 400, 422), (moment, response.text)
        if response.status_code != 200:
            assert_problem(response, response.status_code)


async def test_bad_check_in_cursor_is_400(tenant: Tenant) -> None:
    kr = await make_key_result(tenant, 1)
    response = await tenant.get(f"/v1/key-results/{kr['id']}/check-ins", params={"cursor": "zz"})
    assert_problem(response, 400)


# ---- ETags ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(VERSIONED))
async def test_get_has_etag_and_if_none_match_gives_304(tenant: Tenant, kind: str) -> None:
    path, make, _ = VERSIONED[kind]
    url = path.format(id=(await make(tenant, 1))["id"])
    first = await tenant.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag), etag
    again = await tenant.get(url)
    assert again.headers["etag"] == etag  # stable while nothing changes

    cached = await tenant.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    weak = await tenant.get(url, headers={"If-None-Match": f'"nope", W/{etag}'})
    assert weak.status_code == 304
    other = await tenant.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.json() == first.json() or kind == "objective"


@pytest.mark.parametrize("kind", list(VERSIONED))
async def test_stale_if_match_is_412_and_changes_nothing(tenant: Tenant, kind: str) -> None:
    path, make, change = VERSIONED[kind]
    url = path.format(id=(await make(tenant, 1))["id"])
    read = await tenant.get(url)
    etag = read.headers["etag"]

    fresh = await tenant.patch(url, json=change, headers={"If-Match": etag})
    assert fresh.status_code == 200, fresh.text
    new_etag = fresh.headers["etag"]
    assert new_etag != etag
    assert (await tenant.get(url)).headers["etag"] == new_etag
    for name, value in change.items():
        assert fresh.json()[name] == value

    before = (await tenant.get(url)).json()
    stale = await tenant.patch(
        url,
        json={"title": "Lost update"} if "title" in change else change,
        headers={"If-Match": etag},
    )
    problem = assert_problem(stale, 412)
    assert "If-Match" in problem["detail"]
    after = await tenant.get(url)
    assert after.headers["etag"] == new_etag
    if kind == "objective":
        after_body, before_body = after.json(), before
        after_body.pop("pace"), before_body.pop("pace")
        assert after_body == before_body
    else:
        assert after.json() == before

    # A list of candidates matches when one of them is current; `*` always matches.
    listed = await tenant.patch(url, json=change, headers={"If-Match": f'"x", {new_etag}'})
    assert listed.status_code == 200, listed.text
    star = await tenant.patch(url, json=change, headers={"If-Match": "*"})
    assert star.status_code == 200, star.text


@pytest.mark.parametrize("kind", list(VERSIONED))
async def test_patch_without_if_match_is_accepted(tenant: Tenant, kind: str) -> None:
    """`If-Match` is optional: PATCH honours it when sent, but does not demand it."""
    path, make, change = VERSIONED[kind]
    url = path.format(id=(await make(tenant, 1))["id"])
    response = await tenant.patch(url, json=change)
    assert response.status_code == 200, response.text


async def test_etag_moves_when_a_check_in_changes_the_key_result(tenant: Tenant) -> None:
    kr = await make_key_result(tenant, 1)
    url = f"/v1/key-results/{kr['id']}"
    etag = (await tenant.get(url)).headers["etag"]
    await tenant.create(f"{url}/check-ins", {"value": 5})
    response = await tenant.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["current"] == 5


async def test_objective_etag_moves_when_its_key_results_change(tenant: Tenant) -> None:
    """The objective representation lists `key_result_ids`: adding one must not 304."""
    objective = await make_objective(tenant, 1)
    url = f"/v1/objectives/{objective['id']}"
    etag = (await tenant.get(url)).headers["etag"]
    kr = await tenant.create(
        f"{url}/key-results", {"title": "KR", "type": "increase", "start": 0, "target": 10}
    )
    response = await tenant.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200, "a cached copy without the new key result is served"
    assert response.json()["key_result_ids"] == [kr["id"]]
    etag = response.headers["etag"]
    await tenant.delete(f"/v1/key-results/{kr['id']}")
    response = await tenant.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200, "a cached copy with the deleted key result is served"


# ---- Idempotency-Key --------------------------------------------------------------------


async def test_idempotent_repeat_replays_the_first_answer(app: FastAPI, tenant: Tenant) -> None:
    body = {"user_name": "ada", "display_name": "Ada"}
    headers = {"Idempotency-Key": "create-ada-1"}
    first = await tenant.post("/v1/people", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = await tenant.post("/v1/people", json=body, headers=headers)
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert second.content == first.content
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["etag"] == first.headers["etag"]
    assert len((await tenant.get("/v1/people")).json()["items"]) == 1
    assert await count_rows(app, "people") == 1


async def test_idempotency_key_with_a_different_body_is_422(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await tenant.post(
        "/v1/people", json={"user_name": "ada", "display_name": "Ada"}, headers=headers
    )
    assert first.status_code == 201
    other = await tenant.post(
        "/v1/people", json={"user_name": "bob", "display_name": "Bob"}, headers=headers
    )
    problem = assert_problem(other, 422)
    assert "Idempotency-Key" in problem["detail"]
    cycle = {"name": "Q", "start_date": "2027-01-01", "end_date": "2027-01-02"}
    assert_problem(await tenant.post("/v1/cycles", json=cycle, headers=headers), 422)
    names = [p["user_name"] for p in (await tenant.get("/v1/people")).json()["items"]]
    assert names == ["ada"]
    assert (await tenant.get("/v1/cycles")).json()["items"] == []


async def test_idempotency_keys_are_per_organization(tenant: Tenant, other_tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "shared"}
    body = {"user_name": "ada", "display_name": "Ada"}
    mine = await tenant.post("/v1/people", json=body, headers=headers)
    theirs = await other_tenant.post("/v1/people", json=body, headers=headers)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]


async def test_failed_request_does_not_burn_the_key(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    bad = {"name": "Q", "start_date": "2027-02-01", "end_date": "2027-01-01"}
    assert_problem(await tenant.post("/v1/cycles", json=bad, headers=headers), 422)
    good = {"name": "Q", "start_date": "2027-01-01", "end_date": "2027-02-01"}
    response = await tenant.post("/v1/cycles", json=good, headers=headers)
    assert response.status_code == 201, response.text


async def test_concurrent_repeats_create_one_row(app: FastAPI, tenant: Tenant) -> None:
    body = {"name": "Q", "start_date": "2027-01-01", "end_date": "2027-02-01"}
    headers = {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(tenant.post("/v1/cycles", json=body, headers=headers) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert await count_rows(app, "cycles") == 1


async def test_bad_idempotency_key_is_400(tenant: Tenant) -> None:
    body = {"user_name": "ada", "display_name": "Ada"}
    for key in ("x" * 256, "tab\there", ""):
        response = await tenant.post("/v1/people", json=body, headers={"Idempotency-Key": key})
        assert response.status_code == 400, (key, response.text)
        assert_problem(response, 400)
    assert (await tenant.get("/v1/people")).json()["items"] == []
    # The documented format holds on every method, though only POST stores the key.
    assert_problem(await tenant.get("/v1/people", headers={"Idempotency-Key": "x" * 256}), 400)


# ---- problem details --------------------------------------------------------------------


async def test_malformed_json_is_400(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/people", content=b'{"user_name": "ada",', headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400)
    assert problem["instance"] == "/v1/people"


async def test_wrong_types_are_422_with_field_errors(tenant: Tenant) -> None:
    response = await tenant.post("/v1/people", json={"user_name": 5, "display_name": ["x"]})
    problem = assert_problem(response, 422)
    locations = [tuple(e["loc"]) for e in problem["errors"]]
    assert ("body", "user_name") in locations
    assert ("body", "display_name") in locations
    assert all("input" not in e for e in problem["errors"])  # inputs are never echoed


async def test_body_that_is_not_an_object_is_refused(tenant: Tenant) -> None:
    for body in ([1, 2], "text", 5, None):
        response = await tenant.post("/v1/people", json=body)
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_unknown_id_is_404_problem(tenant: Tenant) -> None:
    problem = assert_problem(await tenant.get(f"/v1/objectives/{uuid.uuid4()}"), 404)
    assert problem["code"] == "not_found"


async def test_malformed_id_is_422(tenant: Tenant) -> None:
    assert_problem(await tenant.get("/v1/objectives/not-a-uuid"), 422)


async def test_unknown_route_is_404_problem(tenant: Tenant, client: httpx.AsyncClient) -> None:
    assert_problem(await tenant.get("/v1/nothing-here"), 404)
    assert_problem(await client.get("/nowhere"), 404)


async def test_wrong_method_is_405_problem(tenant: Tenant) -> None:
    assert_problem(await tenant.put("/v1/people", json={}), 405)


async def test_405_allow_names_every_method_of_the_resource(tenant: Tenant) -> None:
    # One route per method: Starlette alone would name only the first one it tried.
    person = await make_person(tenant, 1)
    answered = await tenant.request("OPTIONS", f"/v1/people/{person['id']}")
    assert answered.headers["allow"] == "DELETE, GET, PATCH"
    answered = await tenant.put("/v1/api-keys", json={})
    assert answered.headers["allow"] == "GET, POST"
    # `/v1/people/sync` is a resource of its own, not a person id `PATCH` could refuse.
    for method in ("GET", "PATCH", "DELETE"):
        answered = await tenant.request(method, "/v1/people/sync", json={})
        assert_problem(answered, 405)
        assert answered.headers["allow"] == "POST"


async def test_allow_is_read_off_the_routes_as_the_openapi_document_lists_them(
    app: FastAPI, tenant: Tenant
) -> None:
    # A 405 or 422 must not generate the whole document (about a second in a new process).
    answered = await tenant.put("/v1/api-keys", json={})
    assert answered.headers["allow"] == "GET, POST"
    assert app.openapi_schema is None
    documented = {
        path: {method.upper() for method in operations}
        for path, operations in app.openapi()["paths"].items()
    }
    assert {path: set(methods) for path, methods in documented_methods(app).items()} == documented


# A JSON value of the wrong type is refused, not read as something else (lax pydantic takes
# 0 for false, true for 1.0, "1.5" for 1.5 and a number for seconds since 1970).
WRONG_TYPES = [
    ("/v1/people", {"user_name": "ada", "display_name": "Ada", "active": 0}),
    ("/v1/cycles", {"name": "Q", "start_date": 0, "end_date": "2027-01-02"}),
    ("/v1/kpis", {"key": "mrr", "name": "MRR", "target": True}),
    ("/v1/kpis", {"key": "mrr", "name": "MRR", "target": "100"}),
    ("/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/h", "disabled": "false"}),
]


async def test_wrong_json_types_are_refused_not_coerced(tenant: Tenant) -> None:
    for path, body in WRONG_TYPES:
        assert_problem(await tenant.post(path, json=body), 422)
        assert (await tenant.get(path)).json()["items"] == [], path
    kr = await make_key_result(tenant, 1)
    for body in ({"value": False}, {"value": 1, "confidence": "0.5"}):
        response = await tenant.post(f"/v1/key-results/{kr['id']}/check-ins", json=body)
        assert_problem(response, 422)
    response = await tenant.patch(
        f"/v1/objectives/{kr['objective_id']}",
        json={"final_score": False},
        headers={"If-Match": "*"},
    )
    assert_problem(response, 422)
    assert_problem(await tenant.get("/v1/events", params={"since": "0.5"}), 422)
    good = await tenant.post(f"/v1/key-results/{kr['id']}/check-ins", json={"value": 2})
    assert good.status_code == 201, good.text  # an integer is a number


async def test_non_finite_numbers_are_refused(tenant: Tenant) -> None:
    kr = await make_key_result(tenant, 1)
    for literal in ("NaN", "Infinity", "-Infinity", "1e999", "-1e999"):
        await _refuses_number(tenant, kr, literal)


async def _refuses_number(tenant: Tenant, kr: Json, literal: str) -> None:
    response = await tenant.post(
        f"/v1/key-results/{kr['id']}/check-ins",
        content=f'{{"value": {literal}}}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    objective_id = kr["objective_id"]
    response = await tenant.post(
        f"/v1/objectives/{objective_id}/key-results",
        content=(f'{{"title": "x", "type": "increase", "start": 0, "target": {literal}}}').encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), (literal, response.text)
    current = (await tenant.get(f"/v1/key-results/{kr['id']}")).json()
    assert current["current"] is None
    assert len((await tenant.get(f"/v1/objectives/{objective_id}/key-results")).json()) == 1


NUL_BODIES = [
    ("/v1/people", {"user_name": "a\u0000b", "display_name": "A"}),
    ("/v1/people", {"user_name": "ab", "display_name": "A\u0000"}),
    ("/v1/teams", {"name": "T", "description": "line\u0000"}),
    ("/v1/cycles", {"name": "\u0000", "start_date": "2027-01-01", "end_date": "2027-01-02"}),
]


async def test_nul_characters_are_refused(tenant: Tenant) -> None:
    for path, body in NUL_BODIES:
        response = await tenant.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert_problem(response, 422)
        assert (await tenant.get(path)).json()["items"] == []
    kr = await make_key_result(tenant, 1)
    response = await tenant.post(
        f"/v1/key-results/{kr['id']}/check-ins", json={"value": 1, "note": "a\u0000"}
    )
    assert_problem(response, 422)
    response = await tenant.post(
        f"/v1/objectives/{kr['objective_id']}/key-results",
        json={"title": "\u0000", "type": "milestone"},
    )
    assert_problem(response, 422)


UNKNOWN_FIELDS = [
    ("/v1/people", {"user_name": "ada", "display_name": "Ada", "is_admin": True}),
    ("/v1/teams", {"name": "T", "organization_id": str(uuid.uuid4())}),
    ("/v1/cycles", {"name": "Q", "start_date": "2027-01-01", "end_date": "2027-01-02", "x": 1}),
    ("/v1/api-keys", {"name": "k", "scopes": ["read"], "key": "mrd_chosen"}),
]


async def test_unknown_fields_are_refused(tenant: Tenant) -> None:
    for path, body in UNKNOWN_FIELDS:
        problem = assert_problem(await tenant.post(path, json=body), 422)
        assert any(e["type"] == "extra_forbidden" for e in problem["errors"]), path


async def test_unknown_fields_in_patch_are_refused(tenant: Tenant) -> None:
    person = await make_person(tenant, 1)
    response = await tenant.patch(
        f"/v1/people/{person['id']}", json={"version": 7}, headers={"If-Match": "*"}
    )
    assert_problem(response, 422)


async def test_timestamps_are_utc_with_z(tenant: Tenant) -> None:
    kr = await make_key_result(tenant, 1)
    check_in = await tenant.create(
        f"/v1/key-results/{kr['id']}/check-ins",
        {"value": 1, "observed_at": "2026-11-01T12:00:00+05:30"},
    )
    assert check_in["observed_at"] == "2026-11-01T06:30:00Z"
    documents = [
        kr,
        check_in,
        (await tenant.get(f"/v1/objectives/{kr['objective_id']}")).json(),
        (await tenant.get("/v1/api-keys")).json()["items"][0],
        await make_person(tenant, 2),
        await make_team(tenant, 2),
        await make_cycle(tenant, 2),
    ]
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    for document in documents:
        for name, value in document.items():
            if name.endswith("_at") and value is not None:
                assert stamp.match(value), f"{name}={value}"


# ---- body size limit --------------------------------------------------------------------


@pytest.fixture
async def small_app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = Settings(database_url=database_url, environment="test", max_body_bytes=512)
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def small(small_app: FastAPI) -> AsyncIterator[Tenant]:
    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meridian.test") as http:
        yield await new_tenant(small_app, http, "Small")


async def test_oversized_body_is_413(small: Tenant, small_app: FastAPI) -> None:
    body = {"user_name": "ada", "display_name": "A" * 150, "title": "x" * 190, "email": "a@b.c"}
    assert len(json.dumps(body)) <= 512
    assert (await small.post("/v1/people", json=body)).status_code == 201
    big = {"name": "T", "description": "x" * 2000}
    response = await small.post("/v1/teams", json=big, headers={"X-Request-ID": "big-1"})
    problem = assert_problem(response, 413)
    assert "512" in problem["detail"]
    assert response.headers["x-request-id"] == "big-1"
    assert (await small.get("/v1/teams")).json()["items"] == []


async def test_oversized_streamed_body_is_413(small: Tenant) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "T", "description": "'
        for _ in range(10):
            yield b"x" * 100
        yield b'"}'

    response = await small.post(
        "/v1/teams", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)
    assert (await small.get("/v1/teams")).json()["items"] == []


# ---- request ids, metrics, health -------------------------------------------------------


async def test_request_id_is_honoured_and_returned(tenant: Tenant) -> None:
    response = await tenant.get("/v1/people", headers={"X-Request-ID": "trace-abc.123:4"})
    assert response.headers["x-request-id"] == "trace-abc.123:4"
    problem = await tenant.get(f"/v1/people/{uuid.uuid4()}", headers={"X-Request-ID": "err-1"})
    assert problem.headers["x-request-id"] == "err-1"


async def test_unusable_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    for given in (None, "", "has spaces", "x" * 129, "semi;colon"):
        headers = {"X-Request-ID": given} if given is not None else {}
        response = await client.get("/healthz", headers=headers)
        generated = response.headers["x-request-id"]
        assert generated != given
        assert re.fullmatch(r"[0-9a-f]{32}", generated), (given, generated)


async def test_server_timing_gives_the_service_time(tenant: Tenant) -> None:
    """Every response says how long the service took, never more than the client waited."""
    for path in ("/v1/people", f"/v1/people/{uuid.uuid4()}"):
        started = time.perf_counter()
        response = await tenant.get(path)
        waited_ms = (time.perf_counter() - started) * 1000
        match = re.fullmatch(r"app;dur=(\d+\.\d{2})", response.headers["server-timing"])
        assert match, response.headers["server-timing"]
        assert 0 < float(match[1]) <= waited_ms, (path, match[1], waited_ms)


async def test_request_ids_differ_per_request(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await tenant.get(f"/v1/people/{uuid.uuid4()}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    metrics = response.text
    assert "meridian_http_requests_total" in metrics
    assert "meridian_http_request_duration_seconds" in metrics
    lines = [line for line in metrics.splitlines() if line.startswith("meridian_http_requests")]
    assert any(
        'route="/v1/people/{person_id}"' in line and 'status="404"' in line for line in lines
    ), "requests are not labelled by route template:\n" + "\n".join(lines[:20])
    assert not any("/v1/people/" in line and "{" not in line for line in lines), (
        "raw ids leak into metric labels"
    )


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_readiness_fails_when_the_database_is_gone(database_url: str) -> None:
    from sqlalchemy.engine import make_url

    broken = make_url(database_url).set(database="meridian_no_such_database")
    url = broken.render_as_string(hide_password=False)
    application = create_app(Settings(database_url=url, environment="test"), database_url=url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/readyz")
            assert_problem(response, 503)
            assert response.headers["retry-after"]
            assert (await http.get("/healthz")).status_code == 200
