"""REST: key results (every type, definition rules, currency) and check-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import Tenant

Json = dict[str, Any]


def kr_url(objective: Json) -> str:
    return f"/v1/objectives/{objective['id']}/key-results"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ago(**delta: float) -> str:
    return iso(datetime.now(UTC) - timedelta(**delta))


async def add_kr(tenant: Tenant, objective: Json, **fields: Any) -> Json:
    body = {"title": "Grow", "type": "increase", "start": 0, "target": 100, **fields}
    return await tenant.create(kr_url(objective), body)


async def check_in(tenant: Tenant, kr: Json, value: float, **fields: Any) -> Json:
    return await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": value, **fields})


async def get_kr(tenant: Tenant, kr: Json) -> Json:
    response = await tenant.get(f"/v1/key-results/{kr['id']}")
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


async def get_objective(tenant: Tenant, objective: Json) -> Json:
    response = await tenant.get(f"/v1/objectives/{objective['id']}")
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


async def patch(tenant: Tenant, url: str, body: Json) -> Any:
    """PATCH with ``If-Match: *`` (PATCH without If-Match is covered in test_conventions)."""
    return await tenant.patch(url, json=body, headers={"If-Match": "*"})


def assert_problem(response: Any, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    assert body["status"] == status
    return body


# ---- creating each type -----------------------------------------------------------------


@pytest.mark.parametrize(
    "definition",
    [
        {"type": "increase", "start": 10, "target": 50},
        {"type": "increase", "start": -100, "target": -20},
        {"type": "decrease", "start": 50, "target": 10},
        {"type": "decrease", "start": -1, "target": -9.5},
        {"type": "stay_above", "target": 99.9},
        {"type": "stay_above", "target": 99.9, "inclusive": False},
        {"type": "stay_below", "target": 2},
        {"type": "range", "lower": 10, "upper": 20},
        {"type": "range", "lower": -3, "upper": 3, "inclusive": False},
        {"type": "milestone"},
    ],
)
async def test_create_each_type(tenant: Tenant, objective: Json, definition: Json) -> None:
    response = await tenant.post(kr_url(objective), json={"title": "KR", **definition})
    assert response.status_code == 201, response.text
    kr = response.json()
    assert response.headers["location"] == f"/v1/key-results/{kr['id']}"
    for name, value in definition.items():
        assert kr[name] == value
    assert kr["objective_id"] == objective["id"]
    assert kr["current"] is None
    assert kr["progress"]["value"] == 0.0
    assert kr["weight"] == 1.0
    assert kr["unit"] == "number"
    assert kr["created_at"].endswith("Z")
    assert await get_kr(tenant, kr) == kr
    listed = (await tenant.get(kr_url(objective))).json()
    assert [k["id"] for k in listed] == [kr["id"]]
    assert (await get_objective(tenant, objective))["key_result_ids"] == [kr["id"]]


async def test_list_key_results_in_creation_order(tenant: Tenant, objective: Json) -> None:
    ids = [(await add_kr(tenant, objective, title=f"KR {i}"))["id"] for i in range(4)]
    listed = (await tenant.get(kr_url(objective))).json()
    assert [k["id"] for k in listed] == ids


async def test_key_result_on_unknown_objective_is_404(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/objectives/00000000-0000-4000-8000-000000000000/key-results",
        json={"title": "x", "type": "milestone"},
    )
    assert_problem(response, 404)


# ---- definition rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"type": "increase", "start": 5, "target": 5}, "target"),
        ({"type": "decrease", "start": 5, "target": 5}, "target"),
        ({"type": "increase", "start": 10, "target": 5}, "target"),
        ({"type": "decrease", "start": 5, "target": 10}, "target"),
        ({"type": "increase", "target": 10}, "start"),
        ({"type": "decrease", "start": 10}, "target"),
        ({"type": "stay_above"}, "target"),
        ({"type": "stay_below"}, "target"),
        ({"type": "range", "lower": 1}, "upper"),
        ({"type": "range", "lower": 5, "upper": 1}, "upper"),
        ({"type": "range", "lower": 5, "upper": 5, "inclusive": False}, "upper"),
    ],
)
async def test_unsound_definitions_are_422(
    tenant: Tenant, objective: Json, definition: Json, field: str
) -> None:
    response = await tenant.post(kr_url(objective), json={"title": "KR", **definition})
    body = assert_problem(response, 422)
    assert ["body", field] in [e["loc"] for e in body["errors"]]
    assert (await tenant.get(kr_url(objective))).json() == []


@pytest.mark.parametrize(
    "extra",
    [
        {"type": "bigger"},
        {"weight": 0},
        {"weight": -1},
        {"weight": 5e-324},
        {"weight": 0.0009},
        {"weight": 1001},
        {"title": ""},
        {"title": "   "},
    ],
)
async def test_schema_violations_are_422(tenant: Tenant, objective: Json, extra: Json) -> None:
    body = {"title": "KR", "type": "increase", "start": 0, "target": 1, **extra}
    assert_problem(await tenant.post(kr_url(objective), json=body), 422)


# ---- units and currency -----------------------------------------------------------------


async def test_currency_unit_with_iso_code(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective, unit="currency", currency="EUR", start=0, target=1e6)
    assert (kr["unit"], kr["currency"]) == ("currency", "EUR")


async def test_percent_unit(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective, unit="percent", start=20, target=80)
    assert kr["unit"] == "percent"
    assert kr["currency"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"unit": "currency"},  # no code
        {"unit": "number", "currency": "USD"},  # code without currency unit
        {"unit": "percent", "currency": "USD"},
        {"unit": "currency", "currency": "usd"},  # not ISO 4217 shape
        {"unit": "currency", "currency": "US"},
        {"unit": "currency", "currency": "DOLLARS"},
        {"unit": "furlongs"},
    ],
)
async def test_currency_rules(tenant: Tenant, objective: Json, fields: Json) -> None:
    body = {"title": "Revenue", "type": "increase", "start": 0, "target": 10, **fields}
    assert_problem(await tenant.post(kr_url(objective), json=body), 422)


async def test_patch_to_currency_requires_a_code(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective)
    url = f"/v1/key-results/{kr['id']}"
    assert_problem(await patch(tenant, url, {"unit": "currency"}), 422)
    ok = await patch(tenant, url, {"unit": "currency", "currency": "JPY"})
    assert ok.status_code == 200, ok.text
    assert (ok.json()["unit"], ok.json()["currency"]) == ("currency", "JPY")
    # Leaving currency behind needs the code cleared as well.
    assert_problem(await patch(tenant, url, {"unit": "number"}), 422)
    ok = await patch(tenant, url, {"unit": "number", "currency": None})
    assert ok.status_code == 200, ok.text
    assert ok.json()["currency"] is None


# ---- PATCH revalidates ------------------------------------------------------------------


async def test_patch_revalidates_the_whole_definition(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective, start=10, target=20)
    url = f"/v1/key-results/{kr['id']}"
    body = assert_problem(await patch(tenant, url, {"target": 10}), 422)
    assert ["body", "target"] in [e["loc"] for e in body["errors"]]
    assert_problem(await patch(tenant, url, {"target": 5}), 422)  # wrong direction
    assert_problem(await patch(tenant, url, {"type": "decrease"}), 422)
    assert_problem(await patch(tenant, url, {"type": "range"}), 422)  # no bounds
    assert_problem(await patch(tenant, url, {"start": None}), 422)
    unchanged = await get_kr(tenant, kr)
    assert (unchanged["type"], unchanged["start"], unchanged["target"]) == ("increase", 10, 20)
    assert unchanged["updated_at"] == kr["updated_at"]

    flipped = await patch(tenant, url, {"type": "decrease", "start": 20, "target": 10})
    assert flipped.status_code == 200, flipped.text
    assert (flipped.json()["type"], flipped.json()["start"]) == ("decrease", 20)


@pytest.mark.parametrize("field", ["title", "type", "inclusive", "unit", "weight"])
async def test_patch_refuses_null_for_required_fields(
    tenant: Tenant, objective: Json, field: str
) -> None:
    kr = await add_kr(tenant, objective)
    assert_problem(await patch(tenant, f"/v1/key-results/{kr['id']}", {field: None}), 422)


async def test_patch_recomputes_progress(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective, start=0, target=100)
    await check_in(tenant, kr, 50)
    response = await patch(tenant, f"/v1/key-results/{kr['id']}", {"target": 200})
    assert response.status_code == 200, response.text
    assert response.json()["progress"]["value"] == pytest.approx(0.25)
    assert (await get_objective(tenant, objective))["progress"]["value"] == pytest.approx(0.25)


async def test_patch_weight_moves_objective_progress(tenant: Tenant, objective: Json) -> None:
    done = await add_kr(tenant, objective, type="milestone", start=None, target=None)
    await add_kr(tenant, objective)  # 0 %
    await check_in(tenant, done, 1)
    assert (await get_objective(tenant, objective))["progress"]["value"] == pytest.approx(0.5)
    response = await patch(tenant, f"/v1/key-results/{done['id']}", {"weight": 3})
    assert response.status_code == 200, response.text
    assert (await get_objective(tenant, objective))["progress"]["value"] == pytest.approx(0.75)


# ---- check-ins --------------------------------------------------------------------------


async def test_check_in_records_value_and_status_before(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective, start=0, target=200)
    first = await check_in(tenant, kr, 50, confidence=0.8, note="on our way")
    assert first["value_before"] is None
    assert first["progress_before"] == 0.0
    assert first["value"] == 50
    assert first["confidence"] == 0.8
    assert first["note"] == "on our way"
    assert first["source"] == "api"
    assert first["author"] == "bootstrap admin"
    assert first["key_result_id"] == kr["id"]
    assert first["observed_at"].endswith("Z")
    assert first["created_at"].endswith("Z")

    second = await check_in(tenant, kr, 150, source="manual")
    assert second["value_before"] == 50
    assert second["progress_before"] == pytest.approx(0.25)
    assert second["source"] == "manual"

    current = await get_kr(tenant, kr)
    assert current["current"] == 150
    assert current["progress"]["value"] == pytest.approx(0.75)
    assert current["progress"]["inputs"] == {"current": 150, "start": 0, "target": 200}


async def test_check_in_past_target_and_backwards(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective, start=100, target=50, type="decrease")
    await check_in(tenant, kr, 25)
    past = (await get_kr(tenant, kr))["progress"]
    assert (past["value"], past["raw"]) == (1.0, pytest.approx(1.5))
    await check_in(tenant, kr, 150)
    back = (await get_kr(tenant, kr))["progress"]
    assert (back["value"], back["raw"]) == (0.0, pytest.approx(-1.0))


async def test_check_ins_are_listed_newest_observation_first(
    tenant: Tenant, objective: Json
) -> None:
    kr = await add_kr(tenant, objective)
    made = [await check_in(tenant, kr, v, observed_at=ago(hours=10 - v)) for v in range(5)]
    response = await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")
    assert response.status_code == 200
    page = response.json()
    assert [c["id"] for c in page["items"]] == [c["id"] for c in reversed(made)]
    assert page["next_cursor"] is None


async def test_a_correction_at_the_same_moment_is_listed_first(
    tenant: Tenant, objective: Json
) -> None:
    """Of check-ins observed at once, the later written is the one ``current`` counts: it
    comes first in REST and GraphQL alike, whatever the ids' order."""
    kr = await add_kr(tenant, objective, start=0, target=10)
    moment = ago(hours=1)
    written = [(await check_in(tenant, kr, v, observed_at=moment))["id"] for v in range(1, 7)]
    assert (await get_kr(tenant, kr))["current"] == 6
    listed = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"]
    assert [c["id"] for c in listed] == written[::-1]
    paged: list[str] = []
    cursor = None
    while True:
        params: Json = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins", params=params)).json()
        paged += [c["id"] for c in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert paged == written[::-1]
    query = "query($id: UUID!) { keyResult(id: $id) { checkIns(first: 10) { id } } }"
    answer = await tenant.post("/graphql", json={"query": query, "variables": {"id": kr["id"]}})
    assert [c["id"] for c in answer.json()["data"]["keyResult"]["checkIns"]] == written[::-1]


async def test_check_in_pages_walk_every_item_once(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective)
    same_moment = ago(hours=1)  # ties on observed_at are broken by when they were written
    made = {(await check_in(tenant, kr, v, observed_at=same_moment))["id"] for v in range(3)}
    made |= {(await check_in(tenant, kr, v, observed_at=ago(hours=v + 2)))["id"] for v in range(3)}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: Json = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(made)


async def test_late_check_in_is_stored_but_does_not_move_current(
    tenant: Tenant, objective: Json
) -> None:
    kr = await add_kr(tenant, objective, start=0, target=100)
    await check_in(tenant, kr, 60, observed_at=ago(hours=1))
    late = await check_in(tenant, kr, 10, observed_at=ago(days=3))
    assert late["value_before"] == 60
    assert late["progress_before"] == pytest.approx(0.6)
    after = await get_kr(tenant, kr)
    assert after["current"] == 60
    assert after["progress"]["value"] == pytest.approx(0.6)
    listed = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"]
    assert [c["value"] for c in listed] == [60, 10]
    assert (await get_objective(tenant, objective))["progress"]["value"] == pytest.approx(0.6)


async def test_check_in_newer_than_latest_moves_current(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective)
    await check_in(tenant, kr, 10, observed_at=ago(days=2))
    await check_in(tenant, kr, 30, observed_at=ago(days=1))
    assert (await get_kr(tenant, kr))["current"] == 30


async def test_observed_at_with_offset_is_normalised_to_utc(
    tenant: Tenant, objective: Json
) -> None:
    kr = await add_kr(tenant, objective)
    moment = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    local = moment.astimezone(timezone(timedelta(hours=2)))
    made = await check_in(tenant, kr, 1, observed_at=local.isoformat())
    assert made["observed_at"] == iso(moment)


@pytest.mark.parametrize("value", [0.5, 2, -1])
async def test_milestone_accepts_only_zero_or_one(
    tenant: Tenant, objective: Json, value: float
) -> None:
    kr = await add_kr(tenant, objective, type="milestone", start=None, target=None)
    response = await tenant.post(f"/v1/key-results/{kr['id']}/check-ins", json={"value": value})
    assert_problem(response, 422)
    assert (await get_kr(tenant, kr))["current"] is None


async def test_milestone_done_and_undone(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective, type="milestone", start=None, target=None)
    await check_in(tenant, kr, 1)
    assert (await get_kr(tenant, kr))["progress"]["value"] == 1.0
    await check_in(tenant, kr, 0)
    assert (await get_kr(tenant, kr))["progress"]["value"] == 0.0


async def test_becoming_a_milestone_needs_a_zero_or_one_current(
    tenant: Tenant, objective: Json
) -> None:
    kr = await add_kr(tenant, objective, start=0, target=100)
    await check_in(tenant, kr, 37)
    url = f"/v1/key-results/{kr['id']}"
    body = {"type": "milestone", "start": None, "target": None}
    problem = assert_problem(await patch(tenant, url, body), 422)
    assert "37" in problem["detail"]
    unchanged = await get_kr(tenant, kr)
    assert (unchanged["type"], unchanged["progress"]["value"]) == ("increase", 0.37)
    await check_in(tenant, kr, 1)
    became = await patch(tenant, url, body)
    assert became.status_code == 200, became.text
    assert became.json()["progress"]["value"] == 1.0


async def test_future_observed_at_is_refused(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective)
    future = iso(datetime.now(UTC) + timedelta(hours=1))
    response = await tenant.post(
        f"/v1/key-results/{kr['id']}/check-ins", json={"value": 5, "observed_at": future}
    )
    body = assert_problem(response, 422)
    assert "future" in body["detail"]
    listed = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"]
    assert listed == []


async def test_slight_clock_skew_is_tolerated(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective)
    soon = iso(datetime.now(UTC) + timedelta(minutes=1))
    assert (await check_in(tenant, kr, 5, observed_at=soon))["value"] == 5


@pytest.mark.parametrize(
    "body",
    [
        {"value": 1, "observed_at": "2026-01-01T00:00:00"},  # no offset
        {"value": 1, "observed_at": "yesterday"},
        {"value": 1, "confidence": 1.5},
        {"value": 1, "confidence": -0.1},
        {"value": 1, "source": "telepathy"},
        {"value": "ten"},
        {},
    ],
)
async def test_bad_check_ins_are_422(tenant: Tenant, objective: Json, body: Json) -> None:
    kr = await add_kr(tenant, objective)
    response = await tenant.post(f"/v1/key-results/{kr['id']}/check-ins", json=body)
    assert_problem(response, 422)


# ---- objective progress follows its key results -----------------------------------------


async def test_objective_progress_is_weighted_mean_of_key_results(
    tenant: Tenant, objective: Json
) -> None:
    heavy = await add_kr(tenant, objective, weight=3, start=0, target=100)
    light = await add_kr(tenant, objective, weight=1, type="stay_above", target=10)
    await check_in(tenant, heavy, 50)  # 0.5 * 3
    await check_in(tenant, light, 20)  # 1.0 * 1
    got = await get_objective(tenant, objective)
    assert got["progress"]["value"] == pytest.approx((0.5 * 3 + 1.0) / 4)
    assert got["progress"]["formula"] == "sum(weight_i * value_i) / sum(weight_i)"
    inputs = {p["id"]: p for p in got["progress"]["inputs"]["key_results"]}
    assert inputs[heavy["id"]]["weight"] == 3
    assert inputs[light["id"]]["value"] == 1.0
    assert got["key_result_ids"] == [heavy["id"], light["id"]]
    listed = (await tenant.get("/v1/objectives")).json()["items"]
    assert listed[0]["progress"]["value"] == pytest.approx(0.625)


async def test_objective_progress_uses_clamped_values(tenant: Tenant, objective: Json) -> None:
    a = await add_kr(tenant, objective, start=0, target=10)
    b = await add_kr(tenant, objective, start=0, target=10)
    await check_in(tenant, a, 30)  # raw 3.0, value 1.0
    await check_in(tenant, b, -10)  # raw -1.0, value 0.0
    progress = (await get_objective(tenant, objective))["progress"]
    assert progress["value"] == pytest.approx(0.5)
    assert progress["raw"] == pytest.approx(1.0)


async def test_objective_pace_after_check_in(tenant: Tenant, objective: Json) -> None:
    before = await get_objective(tenant, objective)
    assert before["pace"]["status"] == "not_started"
    assert before["pace"]["ratio"] is None
    kr = await add_kr(tenant, objective)
    await check_in(tenant, kr, 100)
    after = (await get_objective(tenant, objective))["pace"]
    assert after["status"] in {"on_track", "at_risk", "off_track"}
    if after["expected"] > 0:
        assert after["status"] == "on_track"
        assert after["ratio"] == pytest.approx(1 / after["expected"])


async def test_delete_key_result_updates_objective(tenant: Tenant, objective: Json) -> None:
    done = await add_kr(tenant, objective, type="milestone", start=None, target=None)
    idle = await add_kr(tenant, objective)
    await check_in(tenant, done, 1)
    assert (await get_objective(tenant, objective))["progress"]["value"] == pytest.approx(0.5)

    response = await tenant.delete(f"/v1/key-results/{idle['id']}")
    assert response.status_code == 204
    got = await get_objective(tenant, objective)
    assert got["progress"]["value"] == 1.0
    assert got["key_result_ids"] == [done["id"]]
    assert_problem(await tenant.get(f"/v1/key-results/{idle['id']}"), 404)

    assert (await tenant.delete(f"/v1/key-results/{done['id']}")).status_code == 204
    got = await get_objective(tenant, objective)
    assert got["progress"]["value"] == 0.0
    assert got["key_result_ids"] == []
    assert_problem(await tenant.get(f"/v1/key-results/{done['id']}/check-ins"), 404)


async def test_delete_objective_removes_its_key_results(tenant: Tenant, objective: Json) -> None:
    kr = await add_kr(tenant, objective)
    await check_in(tenant, kr, 5)
    assert (await tenant.delete(f"/v1/objectives/{objective['id']}")).status_code == 204
    assert_problem(await tenant.get(f"/v1/key-results/{kr['id']}"), 404)


async def test_key_result_owner_must_exist_and_be_active(tenant: Tenant, objective: Json) -> None:
    person = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    kr = await add_kr(tenant, objective, owner_id=person["id"])
    assert kr["owner_id"] == person["id"]
    unknown = "00000000-0000-4000-8000-000000000001"
    body = {"title": "x", "type": "milestone", "owner_id": unknown}
    assert_problem(await tenant.post(kr_url(objective), json=body), 422)
    assert (await tenant.delete(f"/v1/people/{person['id']}")).status_code == 204
    body["owner_id"] = person["id"]
    assert_problem(await tenant.post(kr_url(objective), json=body), 422)


async def test_concurrent_check_ins_serialise(tenant: Tenant, objective: Json) -> None:
    import asyncio

    kr = await add_kr(tenant, objective, start=0, target=100)
    values = [10, 20, 30, 40, 50]
    moments = [ago(minutes=60 - i) for i in range(len(values))]  # 50 is the newest
    made = await asyncio.gather(
        *(check_in(tenant, kr, v, observed_at=m) for v, m in zip(values, moments, strict=True))
    )
    # Each check-in saw the state the one before it left: the "before" values form a chain.
    befores = sorted((c["value_before"] is None, c["value_before"] or 0) for c in made)
    assert sum(c["value_before"] is None for c in made) == 1, befores
    after = await get_kr(tenant, kr)
    assert after["current"] == 50
    assert after["progress"]["value"] == pytest.approx(0.5)
    assert (await get_objective(tenant, objective))["progress"]["value"] == pytest.approx(0.5)
    listed = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()["items"]
    assert [c["value"] for c in listed] == [50, 40, 30, 20, 10]


async def pace_of(tenant: Tenant, start: str, end: str, value: float) -> Json:
    cycle = await tenant.create(
        "/v1/cycles", {"name": f"{start}..{end}", "start_date": start, "end_date": end}
    )
    objective = await tenant.create("/v1/objectives", {"title": "O", "cycle_id": cycle["id"]})
    kr = await add_kr(tenant, objective, start=0, target=100)
    await check_in(tenant, kr, value)
    return (await get_objective(tenant, objective))["pace"]


@pytest.mark.parametrize(
    ("value", "status"), [(80, "on_track"), (70, "on_track"), (60, "at_risk"), (40, "off_track")]
)
async def test_pace_of_a_finished_cycle_is_progress_against_everything(
    tenant: Tenant, value: float, status: str
) -> None:
    pace = await pace_of(tenant, "2020-01-01", "2020-03-31", value)
    assert pace["expected"] == 1.0
    assert pace["ratio"] == pytest.approx(value / 100)
    assert pace["status"] == status


async def test_pace_of_a_future_cycle_is_not_started(tenant: Tenant) -> None:
    pace = await pace_of(tenant, "2099-01-01", "2099-03-31", 90)
    assert pace == {"status": "not_started", "expected": 0.0, "ratio": None}


async def test_concurrent_patches_of_one_key_result_both_apply(
    tenant: Tenant, objective: Json
) -> None:
    import asyncio

    kr = await add_kr(tenant, objective)
    url = f"/v1/key-results/{kr['id']}"
    responses = await asyncio.gather(
        tenant.patch(url, json={"weight": 2}),
        tenant.patch(url, json={"title": "Renamed"}),
        tenant.patch(url, json={"description": "why"}),
    )
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    final = await get_kr(tenant, kr)
    assert (final["weight"], final["title"], final["description"]) == (2, "Renamed", "why")
