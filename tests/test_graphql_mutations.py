"""GraphQL mutations: each success, each typed error, and SAVEPOINT isolation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from service.errors import Conflict, PreconditionFailed, ServiceUnavailable
from service.goals import service as goals_service
from service.graphql.errors import ConflictError, PreconditionFailedError, error_of
from tests.conftest import Tenant
from tests.test_graphql import data

RESULT = """__typename
    ... on MutationError { code message }
    ... on ValidationError { fields { field message } }"""

CREATE_OBJECTIVE = f"""mutation($input: CreateObjectiveInput!) {{ createObjective(input: $input) {{
    {RESULT} ... on CreateObjectivePayload {{ objective {{ id title status etag cycle {{ id }}
    keyResults {{ id }} }} }} }} }}"""
UPDATE_OBJECTIVE = f"""mutation($id: UUID!, $input: UpdateObjectiveInput!, $ifMatch: String) {{
    updateObjective(id: $id, input: $input, ifMatch: $ifMatch) {{ {RESULT}
    ... on UpdateObjectivePayload {{ objective {{ id title status outcome finalScore etag }} }}
    }} }}"""
CREATE_KEY_RESULT = f"""mutation($o: UUID!, $input: CreateKeyResultInput!) {{
    createKeyResult(objectiveId: $o, input: $input) {{ {RESULT}
    ... on CreateKeyResultPayload {{ keyResult {{ id title type target etag
    progress {{ value }} objective {{ id progress {{ value }} }} }} }} }} }}"""
UPDATE_KEY_RESULT = f"""mutation($id: UUID!, $input: UpdateKeyResultInput!, $ifMatch: String) {{
    updateKeyResult(id: $id, input: $input, ifMatch: $ifMatch) {{ {RESULT}
    ... on UpdateKeyResultPayload {{ keyResult {{ id title target etag }} }} }} }}"""
RECORD_CHECK_IN = f"""mutation($k: UUID!, $input: RecordCheckInInput!) {{
    recordCheckIn(keyResultId: $k, input: $input) {{ {RESULT}
    ... on RecordCheckInPayload {{ checkIn {{ id value valueBefore author source }}
    keyResult {{ current progress {{ value }} objective {{ progress {{ value }} }} }} }} }} }}"""

INCREASE = {"title": "Revenue", "type": "INCREASE", "start": 0, "target": 100}


async def mutate(tenant: Tenant, document: str, **variables: Any) -> dict[str, Any]:
    """The single mutation result of ``document``."""
    result: dict[str, Any] = next(iter((await data(tenant, document, variables)).values()))
    return result


async def test_create_objective(tenant: Tenant, cycle: dict[str, Any]) -> None:
    got = await mutate(tenant, CREATE_OBJECTIVE, input={"title": "Grow", "cycleId": cycle["id"]})
    assert got["__typename"] == "CreateObjectivePayload"
    objective = got["objective"]
    assert objective["status"] == "DRAFT" and objective["cycle"] == {"id": cycle["id"]}
    assert objective["keyResults"] == []
    rest = await tenant.get(f"/v1/objectives/{objective['id']}")
    assert rest.status_code == 200 and rest.json()["title"] == "Grow"
    # The cycle is running, so `pace.expected` (and the tag's digest) moves between the two
    # reads; the id and version agree. Tags of one state are compared in test_etag.
    assert rest.headers["etag"].partition(".")[0] == objective["etag"].partition(".")[0]


async def test_create_objective_validation_errors(tenant: Tenant, cycle: dict[str, Any]) -> None:
    missing = await mutate(
        tenant, CREATE_OBJECTIVE, input={"title": "Grow", "cycleId": str(uuid.uuid4())}
    )
    assert missing["__typename"] == "ValidationError"
    assert missing["code"] == "validation_failed"
    assert [f["field"] for f in missing["fields"]] == ["cycleId"]
    blank = await mutate(tenant, CREATE_OBJECTIVE, input={"title": "  ", "cycleId": cycle["id"]})
    assert blank["__typename"] == "ValidationError"
    assert [f["field"] for f in blank["fields"]] == ["title"]
    assert (await tenant.get("/v1/objectives")).json()["items"] == []


async def test_update_objective(tenant: Tenant, objective: dict[str, Any]) -> None:
    etag = (await tenant.get(f"/v1/objectives/{objective['id']}")).headers["etag"]
    got = await mutate(
        tenant,
        UPDATE_OBJECTIVE,
        id=objective["id"],
        input={"title": "Delight everyone", "status": "CLOSED", "outcome": "ACHIEVED"},
        ifMatch=etag,
    )
    assert got["__typename"] == "UpdateObjectivePayload"
    changed = got["objective"]
    assert changed["title"] == "Delight everyone" and changed["status"] == "CLOSED"
    assert changed["outcome"] == "ACHIEVED" and changed["finalScore"] == 0
    assert changed["etag"] != etag
    # Omitted fields stay; the old ETag is now stale.
    stale = await mutate(
        tenant, UPDATE_OBJECTIVE, id=objective["id"], input={"title": "x"}, ifMatch=etag
    )
    assert stale["__typename"] == "PreconditionFailedError"
    assert stale["code"] == "precondition_failed"
    rest = (await tenant.get(f"/v1/objectives/{objective['id']}")).json()
    assert rest["title"] == "Delight everyone" and rest["status"] == "closed"


async def test_update_objective_errors(tenant: Tenant, objective: dict[str, Any]) -> None:
    missing = await mutate(tenant, UPDATE_OBJECTIVE, id=str(uuid.uuid4()), input={"title": "x"})
    assert missing["__typename"] == "NotFoundError" and missing["code"] == "not_found"
    null = await mutate(tenant, UPDATE_OBJECTIVE, id=objective["id"], input={"title": None})
    assert null["__typename"] == "ValidationError"
    assert null["fields"] == [{"field": "title", "message": "`title` cannot be null."}]
    early = await mutate(tenant, UPDATE_OBJECTIVE, id=objective["id"], input={"outcome": "MISSED"})
    assert early["__typename"] == "ValidationError"


async def test_create_key_result(tenant: Tenant, objective: dict[str, Any]) -> None:
    got = await mutate(tenant, CREATE_KEY_RESULT, o=objective["id"], input=INCREASE)
    assert got["__typename"] == "CreateKeyResultPayload"
    kr = got["keyResult"]
    assert kr["type"] == "INCREASE" and kr["target"] == 100
    assert kr["objective"] == {"id": objective["id"], "progress": {"value": 0.0}}
    listed = (await tenant.get(f"/v1/objectives/{objective['id']}/key-results")).json()
    assert [k["id"] for k in listed] == [kr["id"]]


async def test_create_key_result_errors(tenant: Tenant, objective: dict[str, Any]) -> None:
    missing = await mutate(tenant, CREATE_KEY_RESULT, o=str(uuid.uuid4()), input=INCREASE)
    assert missing["__typename"] == "NotFoundError"
    invalid = await mutate(
        tenant, CREATE_KEY_RESULT, o=objective["id"], input={**INCREASE, "target": -5}
    )
    assert invalid["__typename"] == "ValidationError"
    assert [f["field"] for f in invalid["fields"]] == ["target"]
    weight = await mutate(
        tenant, CREATE_KEY_RESULT, o=objective["id"], input={**INCREASE, "weight": 0}
    )
    assert weight["__typename"] == "ValidationError"
    assert [f["field"] for f in weight["fields"]] == ["weight"]


async def key_result(tenant: Tenant, objective: dict[str, Any]) -> dict[str, Any]:
    got = await mutate(tenant, CREATE_KEY_RESULT, o=objective["id"], input=INCREASE)
    kr: dict[str, Any] = got["keyResult"]
    return kr


async def test_update_key_result(tenant: Tenant, objective: dict[str, Any]) -> None:
    kr = await key_result(tenant, objective)
    got = await mutate(
        tenant, UPDATE_KEY_RESULT, id=kr["id"], input={"target": 50}, ifMatch=kr["etag"]
    )
    assert got["__typename"] == "UpdateKeyResultPayload"
    assert got["keyResult"]["target"] == 50 and got["keyResult"]["title"] == "Revenue"
    stale = await mutate(
        tenant, UPDATE_KEY_RESULT, id=kr["id"], input={"target": 60}, ifMatch=kr["etag"]
    )
    assert stale["__typename"] == "PreconditionFailedError"
    missing = await mutate(tenant, UPDATE_KEY_RESULT, id=str(uuid.uuid4()), input={"target": 1})
    assert missing["__typename"] == "NotFoundError"
    invalid = await mutate(tenant, UPDATE_KEY_RESULT, id=kr["id"], input={"start": 100})
    assert invalid["__typename"] == "ValidationError"
    assert (await tenant.get(f"/v1/key-results/{kr['id']}")).json()["target"] == 50


async def test_record_check_in(tenant: Tenant, objective: dict[str, Any]) -> None:
    kr = await key_result(tenant, objective)
    got = await mutate(tenant, RECORD_CHECK_IN, k=kr["id"], input={"value": 25, "note": "Q1"})
    assert got["__typename"] == "RecordCheckInPayload"
    assert got["checkIn"]["value"] == 25 and got["checkIn"]["valueBefore"] is None
    assert got["checkIn"]["source"] == "API" and got["checkIn"]["author"] == "bootstrap admin"
    assert got["keyResult"] == {
        "current": 25.0,
        "progress": {"value": 0.25},
        "objective": {"progress": {"value": 0.25}},
    }


async def test_record_check_in_errors(tenant: Tenant, objective: dict[str, Any]) -> None:
    kr = await key_result(tenant, objective)
    missing = await mutate(tenant, RECORD_CHECK_IN, k=str(uuid.uuid4()), input={"value": 1})
    assert missing["__typename"] == "NotFoundError"
    future = await mutate(
        tenant,
        RECORD_CHECK_IN,
        k=kr["id"],
        input={"value": 1, "observedAt": "2999-01-01T00:00:00Z"},
    )
    assert future["__typename"] == "ValidationError"
    assert [f["field"] for f in future["fields"]] == ["observedAt"]
    naive = await mutate(
        tenant, RECORD_CHECK_IN, k=kr["id"], input={"value": 1, "observedAt": "2026-01-01T00:00:00"}
    )
    assert naive["__typename"] == "ValidationError"
    confidence = await mutate(
        tenant, RECORD_CHECK_IN, k=kr["id"], input={"value": 1, "confidence": 2}
    )
    assert [f["field"] for f in confidence["fields"]] == ["confidence"]
    listed = (await tenant.get(f"/v1/key-results/{kr['id']}/check-ins")).json()
    assert listed["items"] == []


async def test_read_only_key_cannot_mutate(tenant: Tenant, objective: dict[str, Any]) -> None:
    kr = await key_result(tenant, objective)
    reader = await tenant.key_with("read")
    new = {"title": "x", "cycleId": objective["cycle_id"]}
    results = [
        await mutate(reader, CREATE_OBJECTIVE, input=new),
        await mutate(reader, UPDATE_OBJECTIVE, id=objective["id"], input={"title": "x"}),
        await mutate(reader, CREATE_KEY_RESULT, o=objective["id"], input=INCREASE),
        await mutate(reader, UPDATE_KEY_RESULT, id=kr["id"], input={"target": 5}),
        await mutate(reader, RECORD_CHECK_IN, k=kr["id"], input={"value": 5}),
    ]  # fmt: skip
    for result in results:
        assert result["__typename"] == "ForbiddenError", result
        assert result["code"] == "forbidden" and "write" in result["message"]
    assert (await tenant.get(f"/v1/objectives/{objective['id']}")).json()["title"] == (
        objective["title"]
    )


async def test_other_organization_cannot_touch(
    tenant: Tenant, other_tenant: Tenant, objective: dict[str, Any]
) -> None:
    kr = await key_result(tenant, objective)
    assert (await mutate(other_tenant, UPDATE_OBJECTIVE, id=objective["id"], input={"title": "x"}))[
        "__typename"
    ] == "NotFoundError"
    assert (await mutate(other_tenant, CREATE_KEY_RESULT, o=objective["id"], input=INCREASE))[
        "__typename"
    ] == "NotFoundError"
    assert (await mutate(other_tenant, UPDATE_KEY_RESULT, id=kr["id"], input={"target": 1}))[
        "__typename"
    ] == "NotFoundError"
    assert (await mutate(other_tenant, RECORD_CHECK_IN, k=kr["id"], input={"value": 1}))[
        "__typename"
    ] == "NotFoundError"
    borrowed = await mutate(
        other_tenant, CREATE_OBJECTIVE, input={"title": "x", "cycleId": objective["cycle_id"]}
    )
    assert borrowed["__typename"] == "ValidationError"


async def test_failed_mutation_leaves_nothing_behind(
    tenant: Tenant, objective: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second mutation writes a key result, then fails: its SAVEPOINT is rolled back,
    while the first and third mutations of the same document still commit."""
    kr = await key_result(tenant, objective)
    real = goals_service._refresh_objective_progress

    async def fail_after_writing(session: Any, row: Any, **extra: Any) -> None:
        rows = session.identity_map.values()
        if any(getattr(row, "title", None) == "Doomed" for row in rows):
            raise Conflict("Simulated failure after the key result was inserted.")
        await real(session, row, **extra)

    monkeypatch.setattr(goals_service, "_refresh_objective_progress", fail_after_writing)
    got = await data(
        tenant,
        """mutation($o: UUID!, $k: UUID!) {
            first: recordCheckIn(keyResultId: $k, input: {value: 40}) { __typename }
            second: createKeyResult(objectiveId: $o, input: {title: "Doomed", type: MILESTONE}) {
              __typename ... on MutationError { code } }
            third: updateObjective(id: $o, input: {title: "Still saved"}) { __typename }
        }""",
        {"o": objective["id"], "k": kr["id"]},
    )
    assert got == {
        "first": {"__typename": "RecordCheckInPayload"},
        "second": {"__typename": "ConflictError", "code": "conflict"},
        "third": {"__typename": "UpdateObjectivePayload"},
    }
    krs = (await tenant.get(f"/v1/objectives/{objective['id']}/key-results")).json()
    assert [k["title"] for k in krs] == ["Revenue"]
    assert krs[0]["current"] == 40
    assert (await tenant.get(f"/v1/objectives/{objective['id']}")).json()["title"] == "Still saved"


async def test_a_failed_check_in_leaves_no_stale_rows_in_memory(
    tenant: Tenant, objective: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check-in stores ``current`` and progress without an ORM change (so no new
    version); when its SAVEPOINT rolls back, later fields must not see those values."""
    kr = await key_result(tenant, objective)
    held: list[Any] = []  # rows nothing holds may be collected; the stale case is one held

    async def fail_after_storing(session: Any, row: Any, *args: Any) -> None:
        held.append(row)
        raise Conflict("Simulated failure after the check-in was stored.")

    monkeypatch.setattr(goals_service.events, "key_result_checked_in", fail_after_storing)
    got = await data(
        tenant,
        """mutation($o: UUID!, $k: UUID!) {
            first: recordCheckIn(keyResultId: $k, input: {value: 40}) { __typename }
            second: updateObjective(id: $o, input: {title: "Then"}) {
              ... on UpdateObjectivePayload { objective { progress { value }
                keyResults { current progress { value } } } } }
        }""",
        {"o": objective["id"], "k": kr["id"]},
    )
    assert got["first"] == {"__typename": "ConflictError"}
    shown = got["second"]["objective"]
    assert shown["progress"] == {"value": 0.0}
    assert shown["keyResults"] == [{"current": None, "progress": {"value": 0.0}}]


async def test_later_mutations_see_earlier_ones(tenant: Tenant, objective: dict[str, Any]) -> None:
    """Loaders are cleared after each mutation, so a payload never shows stale rows."""
    got = await data(
        tenant,
        """mutation($o: UUID!) {
            a: createKeyResult(objectiveId: $o, input: {title: "A", type: MILESTONE}) {
              ... on CreateKeyResultPayload { keyResult { objective { keyResults { title } } } } }
            b: createKeyResult(objectiveId: $o, input: {title: "B", type: MILESTONE}) {
              ... on CreateKeyResultPayload { keyResult { objective { keyResults { title } } } } }
        }""",
        {"o": objective["id"]},
    )
    assert got["a"]["keyResult"]["objective"]["keyResults"] == [{"title": "A"}]
    assert got["b"]["keyResult"]["objective"]["keyResults"] == [{"title": "A"}, {"title": "B"}]


def test_error_mapping() -> None:
    """Errors no current mutation path raises still map to their typed result."""
    assert isinstance(error_of(Conflict("taken")), ConflictError)
    assert isinstance(error_of(PreconditionFailed("old")), PreconditionFailedError)
    with pytest.raises(ServiceUnavailable):
        error_of(ServiceUnavailable("down"))
