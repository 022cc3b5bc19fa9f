"""Cycle lint, rollover and promoting a key result to a KPI, over REST and as pure rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from service.goals.progress import KeyResultDefinition, KeyResultType
from service.planning.lint import Check, KeyResultFacts, KpiFacts, ObjectiveFacts, lint
from tests.conftest import Tenant, until_waiting_on_a_lock
from tests.test_alignment import link, objective
from tests.test_auth import assert_problem
from tests.test_domain_events import events_of

Json = dict[str, Any]
KR = {"title": "KR", "type": "increase", "start": 0, "target": 10}


async def key_results(t: Tenant, o: Json, n: int, **extra: Any) -> list[Json]:
    return [
        await t.create(f"/v1/objectives/{o['id']}/key-results", {**KR, **extra}) for _ in range(n)
    ]


def checks(findings: list[Json]) -> dict[str, list[list[str]]]:
    grouped: dict[str, list[list[str]]] = {}
    for f in findings:
        grouped.setdefault(f["check"], []).append(sorted(f["ids"]))
    return grouped


async def test_lint_finds_the_common_mistakes(tenant: Tenant, cycle: Json) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    team = await tenant.create("/v1/teams", {"name": "T", "member_ids": [ada["id"]]})
    crowded = [
        await objective(tenant, cycle, f"O{i}", team_id=team["id"], owner_id=ada["id"])
        for i in range(4)
    ]
    for o in crowded:
        await key_results(tenant, o, 3)
    orphan = await objective(tenant, cycle, "Nobody's")
    (lonely,) = await key_results(tenant, orphan, 1)
    await key_results(tenant, crowded[0], 3)  # now 6
    kpi = await tenant.create("/v1/kpis", {"key": "loose", "name": "Loose"})
    await tenant.create(f"/v1/objectives/{orphan['id']}/kpis", {"kpi": "loose"})
    await tenant.create("/v1/kpis", {"key": "unrelated", "name": "Not in the cycle"})

    response = await tenant.get(f"/v1/cycles/{cycle['id']}/lint")
    assert response.status_code == 200, response.text
    found = checks(response.json()["findings"])
    ids = sorted(o["id"] for o in crowded)
    assert found["too_many_objectives"] == [ids, ids]  # the team and the person
    assert sorted(found["key_result_count"]) == sorted([[crowded[0]["id"]], [orphan["id"]]])
    assert found["objective_without_owner"] == [[orphan["id"]]]
    assert found["key_result_without_owner"] == [[lonely["id"]]]
    assert found["kpi_without_target"] == [[kpi["id"]]]
    assert "key_result_not_measurable" not in found


async def test_lint_of_a_clean_or_unknown_cycle(tenant: Tenant, cycle: Json) -> None:
    assert (await tenant.get(f"/v1/cycles/{cycle['id']}/lint")).json()["findings"] == []
    assert_problem(await tenant.get(f"/v1/cycles/{uuid.uuid4()}/lint"), 404)


def test_lint_flags_definitions_that_cannot_be_measured() -> None:
    o = ObjectiveFacts(uuid.uuid4(), uuid.uuid4(), None)
    bad = KeyResultDefinition(KeyResultType.INCREASE, start=5, target=5)
    good = KeyResultDefinition(KeyResultType.MILESTONE)
    krs = [KeyResultFacts(uuid.uuid4(), o.id, None, d) for d in (bad, good, good)]
    findings = lint([o], krs, [KpiFacts(uuid.uuid4(), 3.0)])
    assert [(f.check, f.ids) for f in findings] == [(Check.KEY_RESULT_NOT_MEASURABLE, [krs[0].id])]
    assert "differ" in findings[0].message


async def next_cycle(t: Tenant) -> Json:
    body = {"name": "2027-Q1", "start_date": "2027-01-01", "end_date": "2027-03-31"}
    return await t.create("/v1/cycles", body)


async def test_rollover_dry_run_then_copy(tenant: Tenant, cycle: Json) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    company = await objective(tenant, cycle, "Company", rollup="children")
    team = await objective(tenant, cycle, "Team", owner_id=ada["id"])
    done = await objective(tenant, cycle, "Done")
    closed = await objective(tenant, cycle, "Closed")
    await tenant.patch(f"/v1/objectives/{closed['id']}", json={"status": "closed"})
    (kr,) = await key_results(tenant, team, 1, owner_id=ada["id"])
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 4})
    (finished,) = await key_results(tenant, done, 1)
    await tenant.create(f"/v1/key-results/{finished['id']}/check-ins", {"value": 10})
    assert (await link(tenant, team, company, weight=2)).status_code == 201
    await tenant.create("/v1/kpis", {"key": "nps", "name": "NPS", "target": 1})
    await tenant.create(f"/v1/objectives/{team['id']}/kpis", {"kpi": "nps"})
    target = await next_cycle(tenant)
    url = f"/v1/cycles/{cycle['id']}/rollover"

    dry = await tenant.post(url, json={"target_cycle_id": target["id"], "dry_run": True})
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert [(o["source_id"], o["id"]) for o in report["objectives"]] == [
        (company["id"], None),
        (team["id"], None),
    ]
    assert (report["links"], report["kpi_links"]) == (1, 1)
    assert (await tenant.get(f"/v1/objectives?cycle_id={target['id']}")).json()["items"] == []

    copied = (await tenant.post(url, json={"target_cycle_id": target["id"]})).json()
    assert copied == {**report, "dry_run": False, "objectives": copied["objectives"]}
    new_ids = {o["source_id"]: o["id"] for o in copied["objectives"]}
    new_team = (await tenant.get(f"/v1/objectives/{new_ids[team['id']]}")).json()
    assert (new_team["status"], new_team["owner_id"], new_team["cycle_id"]) == (
        "draft",
        ada["id"],
        target["id"],
    )
    assert new_team["progress"]["value"] == 0
    (new_kr,) = (await tenant.get(f"/v1/objectives/{new_team['id']}/key-results")).json()
    assert (new_kr["current"], new_kr["owner_id"], new_kr["target"]) == (None, ada["id"], 10)
    assert (await tenant.get(f"/v1/key-results/{new_kr['id']}/check-ins")).json()["items"] == []
    (parent,) = (await tenant.get(f"/v1/objectives/{new_team['id']}/parents")).json()
    assert (parent["parent_id"], parent["weight"]) == (new_ids[company["id"]], 2)
    assert len((await tenant.get(f"/v1/objectives/{new_team['id']}/kpis")).json()) == 1
    new_company = (await tenant.get(f"/v1/objectives/{new_ids[company['id']]}")).json()
    assert new_company["rollup"] == "children"
    created = await events_of(tenant, "objective.created")
    copies = {e["data"]["objective"]["id"]: e["data"]["objective"] for e in created}
    assert {new_ids[company["id"]], new_ids[team["id"]]} <= copies.keys()
    assert copies[new_team["id"]]["status"] == "draft"
    kr_events = await events_of(tenant, "key_result.created")
    assert new_kr["id"] in {e["data"]["key_result"]["id"] for e in kr_events}


async def test_rollover_chosen_objectives_keep_links_to_parents_left_behind(
    tenant: Tenant, cycle: Json
) -> None:
    """The copy shows under the parent left behind, as ``supports``: the parent's progress
    (0.6 from the original) does not halve for a draft copy at 0."""
    company = await objective(tenant, cycle, "Company", rollup="children")
    team = await objective(tenant, cycle, "Team", parent_id=company["id"])
    (kr,) = await key_results(tenant, team, 1)
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 6})
    company_url = f"/v1/objectives/{company['id']}"
    assert (await tenant.get(company_url)).json()["progress"]["value"] == 0.6
    target = await next_cycle(tenant)
    body = {"target_cycle_id": target["id"], "objective_ids": [team["id"]]}
    copied = (await tenant.post(f"/v1/cycles/{cycle['id']}/rollover", json=body)).json()
    (only,) = copied["objectives"]
    (parent,) = (await tenant.get(f"/v1/objectives/{only['id']}/parents")).json()
    assert (parent["parent_id"], parent["kind"]) == (company["id"], "supports")
    assert (await tenant.get(company_url)).json()["progress"]["value"] == 0.6
    tree = (await tenant.get(f"{company_url}/tree")).json()
    assert {n["id"] for n in tree["nodes"]} == {company["id"], team["id"], only["id"]}


async def test_rollover_seeds_a_driven_key_result_from_its_kpi(tenant: Tenant, cycle: Json) -> None:
    o = await objective(tenant, cycle, "Driven")
    kpi = await tenant.create("/v1/kpis", {"key": "mau", "name": "MAU"})
    await key_results(tenant, o, 1, kpi_id=kpi["id"])
    await tenant.post("/v1/kpis/mau/readings", json={"value": 4})
    target = await next_cycle(tenant)
    body = {"target_cycle_id": target["id"]}
    (copied,) = (await tenant.post(f"/v1/cycles/{cycle['id']}/rollover", json=body)).json()[
        "objectives"
    ]
    (copy,) = (await tenant.get(f"/v1/objectives/{copied['id']}/key-results")).json()
    assert (copy["kpi_id"], copy["current"], copy["progress"]["value"]) == (kpi["id"], 4.0, 0.4)
    shown = (await tenant.get(f"/v1/objectives/{copied['id']}")).json()
    assert shown["progress"]["value"] == 0.4


async def test_rollover_refuses_bad_requests(
    tenant: Tenant, other_tenant: Tenant, cycle: Json
) -> None:
    o = await objective(tenant, cycle, "O")
    url = f"/v1/cycles/{cycle['id']}/rollover"
    target = await next_cycle(tenant)
    for body in (
        {"target_cycle_id": cycle["id"]},
        {"target_cycle_id": str(uuid.uuid4())},
        {"target_cycle_id": target["id"], "objective_ids": [str(uuid.uuid4())]},
        {"target_cycle_id": target["id"], "dry_run": "maybe"},
        {},
    ):
        assert_problem(await tenant.post(url, json=body), 422)
    other_target = await next_cycle(other_tenant)
    assert_problem(await tenant.post(url, json={"target_cycle_id": other_target["id"]}), 422)
    assert (await tenant.get(f"/v1/objectives?cycle_id={target['id']}")).json()["items"] == []
    reader = await tenant.key_with("read")
    assert_problem(
        await reader.post(url, json={"target_cycle_id": target["id"], "objective_ids": [o["id"]]}),
        403,
    )


async def test_promote_carries_history_rule_and_link(tenant: Tenant, objective: Json) -> None:
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", KR)
    now = datetime.now(UTC)
    for value, days_ago in ((2, 3), (6, 1), (4, 2)):
        body = {"value": value, "observed_at": (now - timedelta(days=days_ago)).isoformat()}
        await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", body)
    response = await tenant.post(
        f"/v1/key-results/{kr['id']}/promote-to-kpi", json={"key": "signups"}
    )
    assert response.status_code == 201, response.text
    kpi = response.json()
    assert response.headers["location"] == f"/v1/kpis/{kpi['id']}"
    assert (kpi["key"], kpi["name"], kpi["target"], kpi["direction"]) == (
        "signups",
        "KR",
        10,
        "higher_is_better",
    )
    assert kpi["latest"]["value"] == 6
    readings = (await tenant.get("/v1/kpis/signups/readings")).json()["items"]
    assert sorted(r["value"] for r in readings) == [2, 4, 6]
    (rule,) = (await tenant.get("/v1/kpis/signups/alert-rules")).json()
    assert (rule["operator"], rule["critical"], rule["is_default"]) == ("lt", 10, True)
    read = (await tenant.get(f"/v1/objectives/{objective['id']}")).json()
    assert read["health"]["status"] == "critical"  # the latest, 6, is below the target of 10
    linked = (await tenant.get(f"/v1/objectives/{objective['id']}/kpis")).json()
    assert [k["kpi_id"] for k in linked] == [kpi["id"]]
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["kpi_id"] == kpi["id"]
    again = await tenant.post(f"/v1/key-results/{kr['id']}/promote-to-kpi", json={"key": "x"})
    assert_problem(again, 422)


async def test_promote_keeps_a_strict_bound_and_a_range(tenant: Tenant, objective: Json) -> None:
    """The KPI's rule fires exactly where the key result is missed: at a strict bound
    itself, and outside a range (which has no one target)."""
    url = f"/v1/objectives/{objective['id']}/key-results"
    strict = await tenant.create(
        url, {"title": "Uptime", "type": "stay_above", "target": 99, "inclusive": False}
    )
    band = await tenant.create(url, {"title": "Temp", "type": "range", "lower": 40, "upper": 60})
    await tenant.create(f"/v1/key-results/{strict['id']}/check-ins", {"value": 99})
    await tenant.create(f"/v1/key-results/{band['id']}/check-ins", {"value": 45})
    for kr, key in ((strict, "uptime"), (band, "temp")):
        response = await tenant.post(
            f"/v1/key-results/{kr['id']}/promote-to-kpi", json={"key": key}
        )
        assert response.status_code == 201, response.text
    uptime = (await tenant.get("/v1/kpis/uptime")).json()
    temp = (await tenant.get("/v1/kpis/temp")).json()
    assert (uptime["target"], temp["target"]) == (99, None)
    (strict_rule,) = (await tenant.get("/v1/kpis/uptime/alert-rules")).json()
    (band_rule,) = (await tenant.get("/v1/kpis/temp/alert-rules")).json()
    assert (strict_rule["operator"], strict_rule["critical"]) == ("lte", 99)
    assert (band_rule["operator"], band_rule["critical"]) == ("outside", {"lo": 40, "hi": 60})
    assert await firing(tenant) == {uptime["id"]}  # 99 itself misses the key result
    await tenant.create("/v1/kpis/temp/readings", {"value": 70})
    assert await firing(tenant) == {uptime["id"], temp["id"]}


async def firing(t: Tenant) -> set[str]:
    alerts = (await t.get("/v1/alerts")).json()["items"]
    return {a["kpi_id"] for a in alerts if a["state"] == "firing"}


async def test_promote_carries_a_corrected_check_in_not_the_one_it_corrected(
    tenant: Tenant, objective: Json
) -> None:
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", KR)
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for value in (4, 7):  # the second corrects the first, at the same time
        await tenant.create(
            f"/v1/key-results/{kr['id']}/check-ins", {"value": value, "observed_at": at}
        )
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["current"] == 7
    url = f"/v1/key-results/{kr['id']}/promote-to-kpi"
    assert (await tenant.post(url, json={"key": "signups"})).status_code == 201
    readings = (await tenant.get("/v1/kpis/signups/readings")).json()["items"]
    assert [r["value"] for r in readings] == [7]
    assert (await tenant.get("/v1/kpis/signups")).json()["latest"]["value"] == 7


async def test_promote_refuses_a_taken_key_and_changes_nothing(
    tenant: Tenant, objective: Json
) -> None:
    kr = await tenant.create(
        f"/v1/objectives/{objective['id']}/key-results",
        {"title": "Churn", "type": "decrease", "start": 10, "target": 5},
    )
    await tenant.create("/v1/kpis", {"key": "churn", "name": "Churn"})
    url = f"/v1/key-results/{kr['id']}/promote-to-kpi"
    assert_problem(await tenant.post(url, json={"key": "churn"}), 409)
    assert_problem(await tenant.post(url, json={"key": "Not A Key"}), 422)
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["kpi_id"] is None
    assert (await tenant.get(f"/v1/objectives/{objective['id']}/kpis")).json() == []
    created = (await tenant.post(url, json={"key": "churn-rate"})).json()
    assert (created["direction"], created["target"]) == ("lower_is_better", 5)


async def test_promote_waits_for_a_change_to_the_key_result_and_sees_it(
    app: FastAPI, tenant: Tenant, objective: Json
) -> None:
    """A PATCH of `kpi_id` (here a transaction holding the row) commits while the promotion
    runs: the promotion must see it, not make a second KPI and overwrite the link."""
    kr = await tenant.create(f"/v1/objectives/{objective['id']}/key-results", KR)
    other = await tenant.create("/v1/kpis", {"key": "existing", "name": "Existing"})
    url = f"/v1/key-results/{kr['id']}/promote-to-kpi"
    async with app.state.sessionmaker() as holder, holder.begin():
        await holder.execute(
            text("UPDATE key_results SET kpi_id = :kpi WHERE id = :kr"),
            {"kpi": uuid.UUID(other["id"]), "kr": uuid.UUID(kr["id"])},
        )
        promotion = asyncio.create_task(tenant.post(url, json={"key": "signups"}))
        await until_waiting_on_a_lock(app)
    response = await promotion
    assert_problem(response, 422)
    keys = [k["key"] for k in (await tenant.get("/v1/kpis")).json()["items"]]
    assert keys == ["existing"]
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["kpi_id"] == other["id"]


async def test_rollover_judges_unfinished_by_the_progress_shown(
    tenant: Tenant, cycle: Json
) -> None:
    """An objective rolling up its children is done when they are, whatever its own key
    results say: rollover copies what the API shows unfinished."""
    rolled_done = await objective(tenant, cycle, "Done by its child", rollup="children")
    done_child = await objective(tenant, cycle, "Done child")
    (kr,) = await key_results(tenant, done_child, 1)
    await tenant.create(f"/v1/key-results/{kr['id']}/check-ins", {"value": 10})
    assert (await link(tenant, done_child, rolled_done)).status_code == 201
    half = await objective(tenant, cycle, "Own key results done", rollup="both")
    (own,) = await key_results(tenant, half, 1)
    await tenant.create(f"/v1/key-results/{own['id']}/check-ins", {"value": 10})
    idle_child = await objective(tenant, cycle, "Idle child")
    assert (await link(tenant, idle_child, half)).status_code == 201
    shown = {
        o["id"]: o["progress"]["value"]
        for o in (await tenant.get(f"/v1/objectives?cycle_id={cycle['id']}")).json()["items"]
    }
    assert (shown[rolled_done["id"]], shown[half["id"]]) == (1, 0.5)
    target = await next_cycle(tenant)
    body = {"target_cycle_id": target["id"], "dry_run": True}
    report = (await tenant.post(f"/v1/cycles/{cycle['id']}/rollover", json=body)).json()
    assert [o["source_id"] for o in report["objectives"]] == [half["id"], idle_child["id"]]


async def test_rollover_leaves_inactive_owners_out_of_the_copies(
    tenant: Tenant, cycle: Json
) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    bob = await tenant.create("/v1/people", {"user_name": "bob", "display_name": "Bob"})
    left = await objective(tenant, cycle, "Bob's", owner_id=bob["id"])
    await key_results(tenant, left, 1, owner_id=bob["id"])
    await key_results(tenant, left, 1, owner_id=ada["id"])
    stays = await objective(tenant, cycle, "Ada's", owner_id=ada["id"])
    await key_results(tenant, stays, 1, owner_id=bob["id"])
    assert (await tenant.delete(f"/v1/people/{bob['id']}")).status_code == 204
    target = await next_cycle(tenant)
    url = f"/v1/cycles/{cycle['id']}/rollover"
    copied = (await tenant.post(url, json={"target_cycle_id": target["id"]})).json()
    new_ids = {o["source_id"]: o["id"] for o in copied["objectives"]}
    owners = {
        source["id"]: (await tenant.get(f"/v1/objectives/{new_ids[source['id']]}")).json()[
            "owner_id"
        ]
        for source in (left, stays)
    }
    assert owners == {left["id"]: None, stays["id"]: ada["id"]}
    krs_of_left = (await tenant.get(f"/v1/objectives/{new_ids[left['id']]}/key-results")).json()
    assert [k["owner_id"] for k in krs_of_left] == [None, ada["id"]]
    (kr_of_stays,) = (await tenant.get(f"/v1/objectives/{new_ids[stays['id']]}/key-results")).json()
    assert kr_of_stays["owner_id"] is None
    found = checks((await tenant.get(f"/v1/cycles/{target['id']}/lint")).json()["findings"])
    assert found["objective_without_owner"] == [[new_ids[left["id"]]]]
    assert found["key_result_without_owner"] == [[krs_of_left[0]["id"]]]
    source_krs = (await tenant.get(f"/v1/objectives/{left['id']}/key-results")).json()
    assert [k["owner_id"] for k in source_krs] == [bob["id"], ada["id"]]  # history stays


async def test_lint_leaves_archived_objectives_out(tenant: Tenant, cycle: Json) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    kept = [await objective(tenant, cycle, f"O{i}", owner_id=ada["id"]) for i in range(3)]
    for o in kept:
        await key_results(tenant, o, 3)
    archived = await objective(tenant, cycle, "Archived", owner_id=ada["id"])
    unowned = await objective(tenant, cycle, "Archived, nobody's")
    await key_results(tenant, unowned, 1)
    await tenant.create("/v1/kpis", {"key": "loose", "name": "Loose"})
    await tenant.create(f"/v1/objectives/{unowned['id']}/kpis", {"kpi": "loose"})
    for o in (archived, unowned):
        response = await tenant.patch(f"/v1/objectives/{o['id']}", json={"status": "archived"})
        assert response.status_code == 200, response.text
    url = f"/v1/cycles/{cycle['id']}/lint"
    assert (await tenant.get(url)).json()["findings"] == []
    closed = kept[0]
    await key_results(tenant, closed, 3)  # now 6
    await tenant.patch(f"/v1/objectives/{closed['id']}", json={"status": "closed"})
    found = checks((await tenant.get(url)).json()["findings"])
    assert found == {"key_result_count": [[closed["id"]]]}  # closed ones were planned


async def test_lint_treats_an_inactive_owner_as_none(tenant: Tenant, cycle: Json) -> None:
    ada = await tenant.create("/v1/people", {"user_name": "ada", "display_name": "Ada"})
    bob = await tenant.create("/v1/people", {"user_name": "bob", "display_name": "Bob"})
    left = await objective(tenant, cycle, "Bob's", owner_id=bob["id"])
    unowned = await key_results(tenant, left, 2)
    await key_results(tenant, left, 1, owner_id=ada["id"])
    stays = await objective(tenant, cycle, "Ada's", owner_id=ada["id"])
    await key_results(tenant, stays, 3, owner_id=bob["id"])  # Ada's still answer for them
    assert (await tenant.delete(f"/v1/people/{bob['id']}")).status_code == 204
    findings = (await tenant.get(f"/v1/cycles/{cycle['id']}/lint")).json()["findings"]
    found = checks(findings)
    assert found == {
        "objective_without_owner": [[left["id"]]],
        "key_result_without_owner": [[kr["id"]] for kr in unowned],
    }
    assert all("inactive" in f["message"] for f in findings)


def test_lint_owner_falls_back_to_an_active_objective_owner_only() -> None:
    active, gone = uuid.uuid4(), uuid.uuid4()
    milestone = KeyResultDefinition(KeyResultType.MILESTONE)
    cases = {  # (objective's owner, key result's owner): key result flagged
        (active, None): False,
        (active, gone): False,
        (gone, active): False,
        (gone, None): True,
        (gone, gone): True,
        (None, gone): True,
        (None, None): True,
    }
    for (objective_owner, kr_owner), flagged in cases.items():
        o = ObjectiveFacts(uuid.uuid4(), objective_owner, None)
        krs = [KeyResultFacts(uuid.uuid4(), o.id, kr_owner, milestone) for _ in range(3)]
        findings = lint([o], krs, [], frozenset({gone}))
        by_check = {f.check for f in findings}
        assert (Check.KEY_RESULT_WITHOUT_OWNER in by_check) is flagged, (objective_owner, kr_owner)
        assert (Check.OBJECTIVE_WITHOUT_OWNER in by_check) is (objective_owner != active)
        if gone in (objective_owner, kr_owner) and flagged:
            assert "inactive" in findings[-1].message


async def test_lint_accepts_a_kpi_whose_rule_says_when_it_falls_short(
    tenant: Tenant, objective: Json
) -> None:
    """A range promoted to a KPI has no one target but a rule on its bounds: nothing to fix."""
    url = f"/v1/objectives/{objective['id']}/key-results"
    band = await tenant.create(url, {"title": "Temp", "type": "range", "lower": 40, "upper": 60})
    response = await tenant.post(f"/v1/key-results/{band['id']}/promote-to-kpi", json={"key": "t"})
    assert response.status_code == 201, response.text
    assert response.json()["target"] is None
    loose = await tenant.create("/v1/kpis", {"key": "loose", "name": "Loose"})
    await tenant.create(f"/v1/objectives/{objective['id']}/kpis", {"kpi": "loose"})
    lint_url = f"/v1/cycles/{objective['cycle_id']}/lint"
    found = checks((await tenant.get(lint_url)).json()["findings"])
    assert found["kpi_without_target"] == [[loose["id"]]]
    await tenant.create("/v1/kpis/loose/alert-rules", {"operator": "gt", "critical": 5})
    found = checks((await tenant.get(lint_url)).json()["findings"])
    assert "kpi_without_target" not in found


def test_lint_flags_a_kpi_with_neither_target_nor_rule() -> None:
    kpis = [
        KpiFacts(uuid.uuid4(), None, has_rule=False),
        KpiFacts(uuid.uuid4(), None, has_rule=True),
        KpiFacts(uuid.uuid4(), 3.0, has_rule=True),
    ]
    findings = lint([], [], kpis)
    assert [(f.check, f.ids) for f in findings] == [(Check.KPI_WITHOUT_TARGET, [kpis[0].id])]
