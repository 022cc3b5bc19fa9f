"""The SCIM filter parser, without a database."""

from __future__ import annotations

import pytest

from service.scim.filter import (
    And,
    Compare,
    FilterError,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    matches,
    parse,
    parse_path,
)


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Eq"])
def test_every_comparison_operator_in_any_case(op: str) -> None:
    assert parse(f'userName {op} "ada"') == Compare("userName", op.lower(), "ada")


def test_values_are_json_literals() -> None:
    assert parse("active eq true") == Compare("active", "eq", True)
    assert parse("active eq False") == Compare("active", "eq", False)
    assert parse("title eq null") == Compare("title", "eq", None)
    assert parse("x gt 3") == Compare("x", "gt", 3)
    assert parse("x gt 2.5") == Compare("x", "gt", 2.5)
    assert parse(r'displayName eq "say \"hi\""') == Compare("displayName", "eq", 'say "hi"')


def test_precedence_not_over_and_over_or() -> None:
    a, b, c = (Compare(n, "eq", "1") for n in "abc")
    assert parse('a eq "1" or b eq "1" and c eq "1"') == Or(a, And(b, c))
    assert parse('(a eq "1" or b eq "1") and c eq "1"') == And(Or(a, b), c)
    assert parse('not (a eq "1") and b pr') == And(Not(a), Present("b"))


def test_value_paths_including_entras_trailing_sub_attribute() -> None:
    work = Compare("type", "eq", "work")
    assert parse('emails[type eq "work"]') == ValuePath("emails", work)
    assert parse('emails[type eq "work"].value eq "a@b.c"') == ValuePath(
        "emails", And(work, Compare("value", "eq", "a@b.c"))
    )


def test_urn_qualified_attributes() -> None:
    urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
    assert parse(f'{urn} eq "42"') == Compare(urn, "eq", "42")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userName",
        "userName eq",
        'userName like "a"',
        "userName eq ada",
        '(userName eq "a"',
        'userName eq "a")',
        'userName eq "a" and',
        'emails[type eq "work"',
        '"userName" eq "a"',
        "a eq " + "(" * 40,
    ],
)
def test_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(FilterError):
        parse(text)


def test_nesting_and_length_are_bounded() -> None:
    deep = "(" * 40 + 'a eq "1"' + ")" * 40
    with pytest.raises(FilterError):
        parse(deep)
    with pytest.raises(FilterError):
        parse('a eq "' + "x" * 5000 + '"')


def test_patch_paths() -> None:
    assert parse_path("name.givenName") == PatchPath(None, "name", None, "givenName")
    assert parse_path('members[value eq "1"]') == PatchPath(
        None, "members", Compare("value", "eq", "1"), None
    )
    assert parse_path('emails[type eq "work"].value') == PatchPath(
        None, "emails", Compare("type", "eq", "work"), "value"
    )
    ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert parse_path(f"{ext}:manager") == PatchPath(ext, "manager", None, None)


def test_matches_compares_strings_case_insensitively() -> None:
    element = {"Type": "Work", "value": "Ada@Example.com", "primary": True}
    assert matches(element, parse('type eq "work" and value sw "ada@"'))
    assert matches(element, parse("primary eq true"))
    assert not matches(element, parse('type ne "work"'))
    assert matches(element, parse('not (type eq "home")'))
    assert matches(element, parse('value ew ".COM" and value co "example"'))
    assert not matches(element, parse("display pr"))
