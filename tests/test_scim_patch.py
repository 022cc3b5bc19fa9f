"""SCIM PATCH applied to resource JSON, without a database: RFC shapes, Okta's and Entra's."""

from __future__ import annotations

from typing import Any

import pytest

from service.scim.patch import PatchError, Schemas, apply_patch

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCHEMAS = Schemas("urn:ietf:params:scim:schemas:core:2.0:User", frozenset({ENTERPRISE}))


def user() -> dict[str, Any]:
    return {
        "id": "1",
        "userName": "ada",
        "active": True,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@work.test", "type": "work", "primary": True}],
        "members": [{"value": "a"}, {"value": "b"}],
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return apply_patch(user(), list(operations), SCHEMAS)


def test_replace_with_a_path_and_the_input_is_not_changed() -> None:
    original = user()
    result = apply_patch(original, [{"op": "replace", "path": "userName", "value": "b"}], SCHEMAS)
    assert result["userName"] == "b" and original["userName"] == "ada"


def test_okta_deactivation_is_a_value_object_without_path() -> None:
    assert patch({"op": "replace", "value": {"active": False}})["active"] is False


def test_entra_capitalised_ops_and_paths_as_keys() -> None:
    result = patch(
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "value": {"name.givenName": "Augusta", "title": "Countess"}},
    )
    assert result["active"] == "False"  # the mapping reads the string as a boolean
    assert result["name"] == {"givenName": "Augusta", "familyName": "Lovelace"}
    assert result["title"] == "Countess"


def test_attribute_names_match_in_any_case() -> None:
    result = patch({"op": "replace", "path": "USERNAME", "value": "b"})
    assert result["userName"] == "b" and "USERNAME" not in result


def test_complex_replace_merges_sub_attributes() -> None:
    result = patch({"op": "replace", "path": "name", "value": {"givenName": "Augusta"}})
    assert result["name"] == {"givenName": "Augusta", "familyName": "Lovelace"}


def test_add_appends_to_a_multi_valued_attribute_without_duplicates() -> None:
    result = patch({"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "c"}]})
    assert result["members"] == [{"value": "a"}, {"value": "b"}, {"value": "c"}]


def test_replace_swaps_a_whole_multi_valued_attribute() -> None:
    result = patch({"op": "replace", "path": "members", "value": [{"value": "z"}]})
    assert result["members"] == [{"value": "z"}]


def test_okta_member_removal_by_filter() -> None:
    result = patch({"op": "remove", "path": 'members[value eq "a"]'})
    assert result["members"] == [{"value": "b"}]


def test_entra_member_removal_by_value_list() -> None:
    result = patch({"op": "Remove", "path": "members", "value": [{"value": "b"}]})
    assert result["members"] == [{"value": "a"}]


def test_remove_an_attribute_and_a_sub_attribute() -> None:
    result = patch({"op": "remove", "path": "members"}, {"op": "remove", "path": "name.familyName"})
    assert "members" not in result and result["name"] == {"givenName": "Ada"}


def test_filtered_sub_attribute_replace_and_create() -> None:
    result = patch(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@work.test"},
        {"op": "add", "path": 'emails[type eq "home"].value', "value": "ada@home.test"},
    )
    assert result["emails"] == [
        {"value": "new@work.test", "type": "work", "primary": True},
        {"type": "home", "value": "ada@home.test"},
    ]


def test_extension_attributes_by_urn_path_and_by_value_object() -> None:
    result = patch(
        {"op": "add", "path": f"{ENTERPRISE}:department", "value": "R&D"},
        {"op": "Add", "value": {f"{ENTERPRISE}:manager": "m-1"}},
        {"op": "replace", "value": {ENTERPRISE: {"employeeNumber": "42"}}},
    )
    assert result[ENTERPRISE] == {"department": "R&D", "manager": "m-1", "employeeNumber": "42"}


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "move", "path": "userName"}, "invalidSyntax"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "add", "value": "x"}, "invalidValue"),
        ({"op": "add", "path": "urn:example:unknown:1.0:User:x", "value": 1}, "invalidPath"),
        ({"op": "add", "path": "userName[", "value": 1}, "invalidPath"),
        ({"op": "replace", "path": "emails[type pr].value", "value": "x"}, "noTarget"),
    ],
)
def test_unusable_operations_name_their_error_type(
    operation: dict[str, Any], scim_type: str
) -> None:
    operations: list[Any] = [operation]
    body = user()
    body["emails"] = []
    with pytest.raises(PatchError) as raised:
        apply_patch(body, operations, SCHEMAS)
    assert raised.value.scim_type == scim_type
