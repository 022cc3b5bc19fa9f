"""SCIM over HTTP: what the conformance suite does not cover (filters, paging, Okta's and
Entra's request shapes, uniqueness, deprovisioning, isolation)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant

SCIM = "application/scim+json"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
async def scim(tenant: Tenant) -> Tenant:
    return await tenant.key_with("scim")


def okta_user(user_name: str, **extra: Any) -> dict[str, Any]:
    """What Okta POSTs to provision a user."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": user_name.split("@")[0].title(), "familyName": "Test"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": user_name.split("@")[0].title(),
        "locale": "en-US",
        "externalId": f"00u{user_name.split('@')[0]}",
        "groups": [],
        "password": "ignored-1!",
        "active": True,
        **extra,
    }


async def create_user(t: Tenant, user_name: str, **extra: Any) -> dict[str, Any]:
    response = await t.post("/scim/v2/Users", json=okta_user(user_name, **extra))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(SCIM)
    assert response.headers["location"].endswith(f"/scim/v2/Users/{response.json()['id']}")
    body: dict[str, Any] = response.json()
    return body


async def users(t: Tenant, query: str) -> dict[str, Any]:
    response = await t.get(f"/scim/v2/Users?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(SCIM)
    body: dict[str, Any] = response.json()
    return body


async def user_names(t: Tenant, scim_filter: str) -> list[str]:
    body = await users(t, "filter=" + scim_filter.replace(" ", "%20").replace("&", "%26"))
    return sorted(r["userName"] for r in body["Resources"])


async def test_okta_create_then_existence_check_in_any_case(scim: Tenant, tenant: Tenant) -> None:
    created = await create_user(scim, "Ada@Example.com")
    assert created["active"] is True and created["name"]["givenName"] == "Ada"
    assert "password" not in created and "groups" not in created
    body = await users(scim, "filter=userName%20eq%20%22ada@example.COM%22&startIndex=1&count=100")
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == created["id"]
    assert isinstance(body["startIndex"], int) and isinstance(body["itemsPerPage"], int)
    # The person exists for the REST API too.
    person = (await tenant.get(f"/v1/people/{created['id']}")).json()
    assert person["user_name"] == "Ada@Example.com" and person["email"] == "Ada@Example.com"


async def test_no_match_is_an_empty_list_not_a_404(scim: Tenant) -> None:
    body = await users(scim, "filter=userName%20eq%20%22nobody%22")
    assert body["totalResults"] == 0 and body["Resources"] == []


async def test_duplicate_user_name_is_409_uniqueness_in_any_case(scim: Tenant) -> None:
    await create_user(scim, "grace@example.com")
    response = await scim.post("/scim/v2/Users", json=okta_user("GRACE@example.com"))
    assert response.status_code == 409
    error = response.json()
    assert error["schemas"] == [ERROR] and error["scimType"] == "uniqueness"
    assert error["status"] == "409"
    taken = okta_user("other@example.com", externalId="00ugrace")
    assert (await scim.post("/scim/v2/Users", json=taken)).json()["scimType"] == "uniqueness"


async def test_every_filter_operator(scim: Tenant) -> None:
    await create_user(scim, "ada@example.com", title="Engineer")
    await create_user(scim, "alan@example.org", title="Mathematician")
    await create_user(scim, "grace@example.com")
    assert await user_names(scim, 'userName eq "ADA@example.com"') == ["ada@example.com"]
    assert await user_names(scim, 'userName ne "ada@example.com"') == [
        "alan@example.org",
        "grace@example.com",
    ]
    assert await user_names(scim, 'userName co "EXAMPLE.org"') == ["alan@example.org"]
    assert await user_names(scim, 'userName sw "a"') == ["ada@example.com", "alan@example.org"]
    assert await user_names(scim, 'userName ew ".com"') == ["ada@example.com", "grace@example.com"]
    assert await user_names(scim, "title pr") == ["ada@example.com", "alan@example.org"]
    assert await user_names(scim, 'userName sw "a" and title eq "engineer"') == ["ada@example.com"]
    assert await user_names(scim, 'title eq "Engineer" or userName sw "g"') == [
        "ada@example.com",
        "grace@example.com",
    ]
    assert await user_names(scim, 'not (title pr) or (userName eq "alan@example.org")') == [
        "alan@example.org",
        "grace@example.com",
    ]
    assert await user_names(scim, 'userName gt "b"') == ["grace@example.com"]
    assert await user_names(scim, 'externalId eq "00ugrace"') == ["grace@example.com"]
    assert await user_names(scim, 'emails[type eq "work"].value eq "Grace@example.com"') == [
        "grace@example.com"
    ]
    assert await user_names(scim, 'emails[type eq "home"].value eq "grace@example.com"') == []
    assert await user_names(scim, 'name.givenName eq "alan"') == ["alan@example.org"]
    assert await user_names(scim, 'id eq "not-a-uuid"') == []


@pytest.mark.parametrize(
    "scim_filter",
    ['userName like "a"', "userName eq", 'password eq "x"', 'active eq "yes"', "(a"],
)
async def test_bad_filters_are_400_invalid_filter(scim: Tenant, scim_filter: str) -> None:
    response = await scim.get("/scim/v2/Users", params={"filter": scim_filter})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


async def test_paging_is_stable_and_counts_everything(scim: Tenant) -> None:
    for n in range(7):
        await create_user(scim, f"user{n}@example.com")
    seen: list[str] = []
    for start in (1, 4, 7):
        page = await users(scim, f"startIndex={start}&count=3")
        assert page["totalResults"] == 7 and page["startIndex"] == start
        seen += [r["userName"] for r in page["Resources"]]
    assert seen == [f"user{n}@example.com" for n in range(7)]
    assert (await users(scim, "count=0"))["Resources"] == []
    assert (await users(scim, "startIndex=0&count=2"))["startIndex"] == 1
    assert (await scim.get("/scim/v2/Users?count=x")).status_code == 400


async def test_attributes_and_excluded_attributes(scim: Tenant) -> None:
    created = await create_user(scim, "ada@example.com", title="Engineer")
    only = (
        await scim.get(f"/scim/v2/Users/{created['id']}?attributes=userName,name.givenName")
    ).json()
    assert set(only) == {"schemas", "id", "userName", "name"}
    assert only["name"] == {"givenName": "Ada"}
    without = (
        await scim.get(f"/scim/v2/Users/{created['id']}?excludedAttributes=title,emails")
    ).json()
    assert "title" not in without and "emails" not in without and without["userName"]
    group = (
        await scim.post(
            "/scim/v2/Groups", json={"displayName": "Eng", "members": [{"value": created["id"]}]}
        )
    ).json()
    listed = (await scim.get("/scim/v2/Groups?excludedAttributes=members")).json()
    assert "members" not in listed["Resources"][0]
    one = (await scim.get(f"/scim/v2/Groups/{group['id']}?excludedAttributes=members")).json()
    assert "members" not in one and one["displayName"] == "Eng"


async def test_entra_patch_shapes(scim: Tenant) -> None:
    created = await create_user(scim, "ada@example.com")
    manager = await create_user(scim, "boss@example.com")
    body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "ada@new.test"},
            {"op": "Replace", "path": "name.familyName", "value": "Byron"},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "R&D"},
        ],
    }
    response = await scim.patch(f"/scim/v2/Users/{created['id']}", json=body)
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["active"] is False
    assert user["emails"][0]["value"] == "ada@new.test"
    assert user["name"]["familyName"] == "Byron"
    assert user[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert user[ENTERPRISE]["department"] == "R&D"
    # Soft-deleted users are still returned by GET and by filter.
    assert (await scim.get(f"/scim/v2/Users/{created['id']}")).status_code == 200
    assert await user_names(scim, 'userName eq "ada@example.com"') == ["ada@example.com"]
    reactivate = {"Operations": [{"op": "Replace", "path": "active", "value": "True"}]}
    response = await scim.patch(f"/scim/v2/Users/{created['id']}", json=reactivate)
    assert response.json()["active"] is True


async def test_okta_deactivation_put_and_group_push(scim: Tenant, tenant: Tenant) -> None:
    ada = await create_user(scim, "ada@example.com")
    alan = await create_user(scim, "alan@example.com")
    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    response = await scim.patch(f"/scim/v2/Users/{ada['id']}", json=deactivate)
    assert response.json()["active"] is False
    put = okta_user("ada@example.com", title="Lead", active=True)
    response = await scim.put(f"/scim/v2/Users/{ada['id']}", json={**put, "id": ada["id"]})
    assert response.status_code == 200 and response.json()["title"] == "Lead"

    group = (await scim.post("/scim/v2/Groups", json={"displayName": "Eng", "members": []})).json()
    url = f"/scim/v2/Groups/{group['id']}"
    ops = [
        {"op": "replace", "value": {"id": group["id"], "displayName": "Engineering"}},
        {"op": "add", "path": "members", "value": [{"value": ada["id"]}, {"value": alan["id"]}]},
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
    ]
    response = await scim.patch(url, json={"schemas": [PATCH_OP], "Operations": ops})
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "Engineering"
    assert [m["value"] for m in response.json()["members"]] == [alan["id"]]
    team = (await tenant.get(f"/v1/teams/{group['id']}")).json()
    assert team["name"] == "Engineering" and team["member_ids"] == [alan["id"]]
    assert await _group_names(scim, 'displayName eq "engineering"') == ["Engineering"]
    assert await _group_names(scim, f'members eq "{alan["id"]}"') == ["Engineering"]
    assert (await scim.delete(url)).status_code == 204
    assert (await scim.get(url)).status_code == 404


async def _group_names(t: Tenant, scim_filter: str) -> list[str]:
    response = await t.get("/scim/v2/Groups", params={"filter": scim_filter})
    assert response.status_code == 200, response.text
    return [g["displayName"] for g in response.json()["Resources"]]


async def test_group_members_must_exist_and_names_are_unique(scim: Tenant) -> None:
    bad = {"displayName": "X", "members": [{"value": "00000000-0000-0000-0000-000000000000"}]}
    response = await scim.post("/scim/v2/Groups", json=bad)
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert (await scim.post("/scim/v2/Groups", json={"displayName": "X"})).status_code == 201
    again = await scim.post("/scim/v2/Groups", json={"displayName": "x"})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"


async def test_delete_deprovisions_and_reprovisioning_revives_the_person(
    scim: Tenant, tenant: Tenant
) -> None:
    created = await create_user(scim, "ada@example.com")
    url = f"/scim/v2/Users/{created['id']}"
    assert (await scim.delete(url)).status_code == 204
    assert (await scim.get(url)).status_code == 404
    assert await user_names(scim, 'userName eq "ada@example.com"') == []
    person = (await tenant.get(f"/v1/people/{created['id']}")).json()
    assert person["active"] is False  # still there, with their history
    again = await create_user(scim, "ADA@example.com")
    assert again["id"] == created["id"] and again["active"] is True
    assert (await tenant.get(f"/v1/people/{created['id']}")).json()["active"] is True


async def test_errors_are_scim_errors(scim: Tenant, tenant: Tenant) -> None:
    missing = await scim.get("/scim/v2/Users/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.json()["schemas"] == [ERROR]
    assert (await scim.get("/scim/v2/Users/not-an-id")).status_code == 404
    assert (await scim.get("/scim/v2/Nothing")).json()["status"] == "404"
    assert (await scim.post("/scim/v2/ServiceProviderConfig", json={})).status_code == 405
    bad_json = await scim.post("/scim/v2/Users", content=b"{", headers={"content-type": SCIM})
    assert bad_json.status_code == 400 and bad_json.json()["scimType"] == "invalidSyntax"
    no_name = await scim.post("/scim/v2/Users", json={"displayName": "x"})
    assert no_name.status_code == 400 and no_name.json()["scimType"] == "invalidValue"
    bad_patch = await scim.patch(
        f"/scim/v2/Users/{(await create_user(scim, 'a@b.c'))['id']}", json={}
    )
    assert bad_patch.status_code == 400
    assert (await scim.get("/scim/v2/Users", headers={"Authorization": ""})).status_code == 401
    reader = await tenant.key_with("read")
    forbidden = await reader.get("/scim/v2/Users")
    assert forbidden.status_code == 403 and forbidden.json()["schemas"] == [ERROR]
    # A scim key is for SCIM only.
    assert (await scim.get("/v1/people")).status_code == 403


async def test_organizations_do_not_see_each_other(scim: Tenant, other_tenant: Tenant) -> None:
    created = await create_user(scim, "ada@example.com")
    group = (await scim.post("/scim/v2/Groups", json={"displayName": "Eng"})).json()
    theirs = await other_tenant.key_with("scim")
    assert (await theirs.get(f"/scim/v2/Users/{created['id']}")).status_code == 404
    assert (await theirs.get(f"/scim/v2/Groups/{group['id']}")).status_code == 404
    patch = {"Operations": [{"op": "replace", "value": {"active": False}}]}
    assert (await theirs.patch(f"/scim/v2/Users/{created['id']}", json=patch)).status_code == 404
    assert (await theirs.delete(f"/scim/v2/Users/{created['id']}")).status_code == 404
    assert (await users(theirs, ""))["totalResults"] == 0
    # The same userName is free in another organization.
    assert (
        await theirs.post("/scim/v2/Users", json=okta_user("ada@example.com"))
    ).status_code == 201
    member = {"displayName": "Theirs", "members": [{"value": created["id"]}]}
    assert (await theirs.post("/scim/v2/Groups", json=member)).status_code == 400
    search = await scim.post("/scim/v2/.search", json={"startIndex": 1, "count": 10})
    assert search.json()["totalResults"] == 2


async def test_discovery(scim: Tenant) -> None:
    config = (await scim.get("/scim/v2/ServiceProviderConfig")).json()
    assert config["patch"]["supported"] is True and config["filter"]["supported"] is True
    types = (await scim.get("/scim/v2/ResourceTypes")).json()
    assert {r["id"] for r in types["Resources"]} == {"User", "Group"}
    schemas = (await scim.get("/scim/v2/Schemas")).json()
    assert ENTERPRISE in {s["id"] for s in schemas["Resources"]}
    assert (await scim.get(f"/scim/v2/Schemas/{ENTERPRISE}")).status_code == 200
    assert (await scim.get("/scim/v2/ResourceTypes/Nope")).status_code == 404


async def test_not_matches_users_who_lack_the_attribute(scim: Tenant) -> None:
    """A comparison on a missing attribute is false, so its negation is true (SQL's NOT of
    NULL is NULL, which dropped those users)."""
    await create_user(scim, "a@example.com")
    await create_user(scim, "b@example.com", title="CTO")
    assert await user_names(scim, 'not (title eq "CTO")') == ["a@example.com"]
    assert await user_names(scim, 'title ne "CTO"') == ["a@example.com"]
    assert await user_names(scim, 'not (not (title eq "CTO"))') == ["b@example.com"]
    assert await user_names(scim, 'not (title eq "CTO" or name.formatted pr)') == ["a@example.com"]


@pytest.mark.parametrize(
    "start_index",
    ["3", "9223372036854775807", "9223372036854775808", "1" + "0" * 30, "1" + "0" * 5000],
)
async def test_a_start_index_past_the_end_is_an_empty_page(scim: Tenant, start_index: str) -> None:
    await create_user(scim, "ada@example.com")
    await create_user(scim, "alan@example.com")
    for path in ("/scim/v2/Users", "/scim/v2/Groups"):
        response = await scim.get(path, params={"startIndex": start_index})
        assert response.status_code == 200, response.text
        assert response.json()["Resources"] == [] and response.json()["itemsPerPage"] == 0
    search = await scim.post("/scim/v2/.search", json={"startIndex": int(start_index[:40])})
    assert search.status_code == 200, search.text
    assert search.json()["totalResults"] == 2 and search.json()["Resources"] == []


@pytest.mark.parametrize(
    ("in_query", "in_json"),
    [("1.5", "1.5"), ("ten", '"ten"'), ("Infinity", "Infinity"), ("NaN", "NaN"), ("true", "true")],
)
async def test_paging_parameters_that_are_not_integers_are_400_invalid_value(
    scim: Tenant, in_query: str, in_json: str
) -> None:
    for name in ("startIndex", "count"):
        response = await scim.get("/scim/v2/Users", params={name: in_query})
        assert response.status_code == 400, (name, in_query, response.text)
        assert response.json()["scimType"] == "invalidValue"
        body = f'{{"{name}": {in_json}}}'.encode()
        searched = await scim.post("/scim/v2/.search", content=body, headers={"content-type": SCIM})
        assert searched.status_code == 400, (name, in_json, searched.text)
        assert searched.json()["scimType"] == "invalidValue"


async def test_a_json_number_with_an_integral_value_is_that_integer(scim: Tenant) -> None:
    integral = await scim.post("/scim/v2/.search", json={"startIndex": 2.0, "count": 1e300})
    assert integral.status_code == 200, integral.text
    assert integral.json()["startIndex"] == 2
