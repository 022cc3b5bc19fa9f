"""SCIM and REST show one person: what REST or the HRIS sync changes (active, e-mail,
display name) is what SCIM shows, and a later SCIM PATCH or PUT keeps it unless it says
otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.test_scim import PATCH_OP, create_user, user_names

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
Json = dict[str, Any]


@pytest.fixture
async def scim(tenant: Tenant) -> Tenant:
    return await tenant.key_with("scim")


async def post_without_active(scim: Tenant, user_name: str) -> Json:
    body = {"schemas": [CORE], "userName": user_name, "displayName": "Ann"}
    response = await scim.post("/scim/v2/Users", json=body)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


async def scim_user(scim: Tenant, ident: str) -> Json:
    response = await scim.get(f"/scim/v2/Users/{ident}")
    assert response.status_code == 200, response.text
    user: Json = response.json()
    return user


async def person(tenant: Tenant, ident: str) -> Json:
    found: Json = (await tenant.get(f"/v1/people/{ident}")).json()
    return found


async def reactivations(tenant: Tenant) -> int:
    listed = await tenant.get("/v1/events", params={"type": "person.reactivated"})
    return len(listed.json()["items"])


async def test_a_deactivation_outside_scim_shows_and_survives_an_unrelated_patch(
    scim: Tenant, tenant: Tenant
) -> None:
    created = await post_without_active(scim, "ann@x.test")
    assert (await tenant.get(f"/v1/people/{created['id']}")).json()["active"] is True
    assert (await tenant.delete(f"/v1/people/{created['id']}")).status_code == 204
    assert (await scim_user(scim, created["id"]))["active"] is False
    rename = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ann B"}],
    }
    response = await scim.patch(f"/scim/v2/Users/{created['id']}", json=rename)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False and response.json()["displayName"] == "Ann B"
    assert (await person(tenant, created["id"]))["active"] is False
    assert await reactivations(tenant) == 0
    assert await user_names(scim, "active eq false") == ["ann@x.test"]


async def test_a_put_without_active_keeps_the_state_and_with_it_sets_it(
    scim: Tenant, tenant: Tenant
) -> None:
    created = await post_without_active(scim, "ann@x.test")
    url = f"/scim/v2/Users/{created['id']}"
    await tenant.patch(f"/v1/people/{created['id']}", json={"active": False})
    replaced = {"schemas": [CORE], "userName": "ann@x.test", "displayName": "Ann", "title": "CTO"}
    response = await scim.put(url, json=replaced)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False and response.json()["title"] == "CTO"
    assert (await person(tenant, created["id"]))["active"] is False
    assert await reactivations(tenant) == 0
    assert (await scim.put(url, json={**replaced, "active": True})).json()["active"] is True
    assert (await person(tenant, created["id"]))["active"] is True
    # Left out again, it stays true (and reads back unassigned, as it was sent).
    assert "active" not in (await scim.put(url, json=replaced)).json()
    assert (await person(tenant, created["id"]))["active"] is True


async def test_removing_active_leaves_it_unassigned_which_is_true(
    scim: Tenant, tenant: Tenant
) -> None:
    created = await create_user(scim, "ann@x.test", active=False)
    assert (await person(tenant, created["id"]))["active"] is False
    remove = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "active"}]}
    response = await scim.patch(f"/scim/v2/Users/{created['id']}", json=remove)
    assert response.status_code == 200 and "active" not in response.json()
    assert (await person(tenant, created["id"]))["active"] is True


async def test_email_and_display_name_changed_by_rest_show_in_scim(
    scim: Tenant, tenant: Tenant
) -> None:
    home = {"value": "ann@home.test", "type": "home"}
    created = await create_user(
        scim, "ann@x.test", emails=[home, {"value": "ann@x.test", "type": "work", "primary": True}]
    )
    edit = {"email": "new@x.test", "display_name": "Ann Byron"}
    assert (await tenant.patch(f"/v1/people/{created['id']}", json=edit)).status_code == 200
    user = await scim_user(scim, created["id"])
    assert user["displayName"] == "Ann Byron"
    assert user["emails"] == [home, {"value": "new@x.test", "type": "work", "primary": True}]
    assert await user_names(scim, 'emails.value eq "new@x.test"') == ["ann@x.test"]
    title = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "X"}]}
    assert (await scim.patch(f"/scim/v2/Users/{created['id']}", json=title)).status_code == 200
    stored = await person(tenant, created["id"])
    assert (stored["email"], stored["display_name"]) == ("new@x.test", "Ann Byron")
    await tenant.patch(f"/v1/people/{created['id']}", json={"email": None})
    assert "emails" not in await scim_user(scim, created["id"])


async def test_a_display_name_left_out_shows_once_rest_sets_one(
    scim: Tenant, tenant: Tenant
) -> None:
    body = {"schemas": [CORE], "userName": "ann@x.test", "name": {"formatted": "Ann X"}}
    created = (await scim.post("/scim/v2/Users", json=body)).json()
    assert "displayName" not in created  # unassigned, as sent
    assert (await person(tenant, created["id"]))["display_name"] == "Ann X"
    await tenant.patch(f"/v1/people/{created['id']}", json={"display_name": "Ann B"})
    assert (await scim_user(scim, created["id"]))["displayName"] == "Ann B"
