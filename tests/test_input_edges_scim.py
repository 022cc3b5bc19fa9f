"""SCIM PATCH values nested deeper than any SCIM schema: a 400 in the SCIM error format,
never a RecursionError's 500, and the resource is left as it was."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from service.scim.patch import MAX_VALUE_DEPTH, PatchError, apply_patch
from tests.conftest import Tenant
from tests.test_scim import ERROR, PATCH_OP, SCIM, create_user
from tests.test_scim_patch import SCHEMAS, user

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
async def scim(tenant: Tenant) -> Tenant:
    return await tenant.key_with("scim")


def wrapped(levels: int, key: str = CORE, inner: Any = None) -> Any:
    """``{key: {key: ... {"active": False}}}``, ``levels`` objects deep."""
    value: Any = {"active": False} if inner is None else inner
    for _ in range(levels - 1):
        value = {key: value}
    return value


def listed(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


DEEP = [
    {"op": "replace", "value": wrapped(400)},  # recursed once per level: RecursionError
    {"op": "add", "value": wrapped(400, "title")},
    {"op": "add", "path": "title", "value": listed(400)},
    {"op": "add", "path": ENTERPRISE, "value": wrapped(400, "manager")},
    {"op": "remove", "path": "members", "value": listed(400)},
    {"op": "replace", "value": wrapped(MAX_VALUE_DEPTH + 1)},
]


@pytest.mark.parametrize("operation", DEEP)
def test_values_past_the_depth_limit_are_invalid_values(operation: dict[str, Any]) -> None:
    with pytest.raises(PatchError, match="nested") as raised:
        apply_patch(user(), [operation], SCHEMAS)
    assert raised.value.scim_type == "invalidValue"


def test_values_at_the_depth_limit_are_applied() -> None:
    result = apply_patch(user(), [{"op": "replace", "value": wrapped(MAX_VALUE_DEPTH)}], SCHEMAS)
    assert result["active"] is False
    shapes = [  # the deepest shapes identity providers send
        {"op": "add", "value": {CORE: {"emails": [{"value": "a@b.c", "type": "home"}]}}},
        {"op": "add", "value": {CORE: {ENTERPRISE: {"manager": {"value": "m"}}}}},
    ]
    result = apply_patch(user(), shapes, SCHEMAS)
    assert result[ENTERPRISE] == {"manager": {"value": "m"}}


def nested_body(levels: int) -> bytes:
    """A PATCH whose value wraps ``{"active": false}`` in the core URN ``levels`` times,
    written as text: encoding it with ``json`` would recurse in the test itself."""
    key = json.dumps(CORE)
    value = f"{{{key}:" * levels + '{"active":false}' + "}" * levels
    return (
        f'{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"replace","value":{value}}}]}}'.encode()
    )


@pytest.mark.parametrize("operation", DEEP)
async def test_deep_patch_values_are_a_scim_400(scim: Tenant, operation: dict[str, Any]) -> None:
    created = await create_user(scim, "ada@example.com")
    url = f"/scim/v2/Users/{created['id']}"
    before = (await scim.get(url)).json()
    response = await scim.patch(url, json={"schemas": [PATCH_OP], "Operations": [operation]})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(SCIM)
    body = response.json()
    assert body["schemas"] == [ERROR] and body["scimType"] == "invalidValue", body
    assert (await scim.get(url)).json() == before


async def test_no_depth_up_to_the_json_parsers_limit_is_a_500(scim: Tenant) -> None:
    """Once, a value the JSON parser still read exhausted the stack in the patch's recursion
    (within a few levels of the parser's own limit, where exactly depends on the stack the
    request runs on): every depth up to past that limit is a 400 now, and changes nothing."""
    created = await create_user(scim, "ada@example.com")
    url = f"/scim/v2/Users/{created['id']}"
    headers = {"content-type": SCIM}
    for levels in range(MAX_VALUE_DEPTH, sys.getrecursionlimit() + 10):
        response = await scim.patch(url, content=nested_body(levels), headers=headers)
        assert response.status_code == 400, (levels, response.text)
        assert response.json()["scimType"] in {"invalidValue", "invalidSyntax"}, levels
    assert (await scim.get(url)).json()["active"] is True


async def test_deep_group_patch_values_are_a_scim_400(scim: Tenant) -> None:
    group = (await scim.post("/scim/v2/Groups", json={"displayName": "Eng"})).json()
    url = f"/scim/v2/Groups/{group['id']}"
    deep = {"op": "replace", "value": wrapped(400, "urn:ietf:params:scim:schemas:core:2.0:Group")}
    response = await scim.patch(url, json={"schemas": [PATCH_OP], "Operations": [deep]})
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidValue"
    assert (await scim.get(url)).json()["displayName"] == "Eng"
