"""SQL for SCIM: filters compiled to WHERE clauses, and the lookups provisioning needs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Person, Team, TeamMember
from service.scim.discovery import CORE_GROUP, CORE_USER, ENTERPRISE_USER
from service.scim.filter import And, Compare, Expr, FilterError, Not, Or, Present, ValuePath

Condition = Callable[[str, Any], ColumnElement[bool]]
"""Compiles ``(operator, value)`` on one attribute; operator ``pr`` means present."""


def _string(column: Any, *, case_exact: bool = False) -> Condition:
    def condition(op: str, value: Any) -> ColumnElement[bool]:
        if op == "pr":
            return and_(column.is_not(None), column != "")
        if value is None and op in ("eq", "ne"):
            return column.is_(None) if op == "eq" else column.is_not(None)  # type: ignore[no-any-return]
        if not isinstance(value, str):
            raise FilterError("Compare this attribute with a string.")
        left, right = (column, value) if case_exact else (func.lower(column), value.lower())
        compiled: ColumnElement[bool] = {  # type: ignore[no-untyped-call]
            "eq": lambda: left == right,
            "ne": lambda: or_(column.is_(None), left != right),
            "co": lambda: left.contains(right, autoescape=True),
            "sw": lambda: left.startswith(right, autoescape=True),
            "ew": lambda: left.endswith(right, autoescape=True),
            "gt": lambda: left > right,
            "ge": lambda: left >= right,
            "lt": lambda: left < right,
            "le": lambda: left <= right,
        }[op]()
        return compiled

    return condition


def _boolean(column: Any) -> Condition:
    def condition(op: str, value: Any) -> ColumnElement[bool]:
        if op == "pr":
            return column.is_not(None)  # type: ignore[no-any-return]
        if op not in ("eq", "ne") or not isinstance(value, bool):
            raise FilterError("Compare a boolean with `eq true` or `eq false`.")
        return (column == value) if op == "eq" else (column != value)  # type: ignore[no-any-return]

    return condition


def _uuid(column: Any) -> Condition:
    def condition(op: str, value: Any) -> ColumnElement[bool]:
        if op == "pr":
            return column.is_not(None)  # type: ignore[no-any-return]
        if op not in ("eq", "ne") or not isinstance(value, str):
            raise FilterError("Compare an id with `eq` or `ne` and a string.")
        try:
            ident = uuid.UUID(value)
        except ValueError:
            return false() if op == "eq" else true()  # no resource has that id
        return (column == ident) if op == "eq" else or_(column.is_(None), column != ident)

    return condition


def _moment(column: Any) -> Condition:
    def condition(op: str, value: Any) -> ColumnElement[bool]:
        if op == "pr":
            return column.is_not(None)  # type: ignore[no-any-return]
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise FilterError("Compare a date-time with an RFC 3339 string.") from exc
        ops = {"eq": "__eq__", "ne": "__ne__", "gt": "__gt__", "ge": "__ge__"}
        ops |= {"lt": "__lt__", "le": "__le__"}
        if op not in ops:
            raise FilterError(f"`{op}` does not apply to a date-time.")
        return getattr(column, ops[op])(moment)  # type: ignore[no-any-return]

    return condition


def _constant(value: Any) -> Condition:
    """An attribute every row has with one value (the kind of the one stored e-mail)."""
    return _string(literal(value, String)) if isinstance(value, str) else _boolean(literal(value))


def _members(op: str, value: Any) -> ColumnElement[bool]:
    member = select(TeamMember.person_id).where(TeamMember.team_id == Team.id)
    if op == "pr":
        return exists(member)
    if op != "eq" or not isinstance(value, str):
        raise FilterError('Filter members with `members eq "<id>"` or `members pr`.')
    try:
        ident = uuid.UUID(value)
    except ValueError:
        return false()
    return exists(member.where(TeamMember.person_id == ident))


def _json_text(*keys: str) -> Any:
    expr: Any = Person.scim_attributes
    for key in keys[:-1]:
        expr = expr[key]
    return cast(expr[keys[-1]].astext, String)


USER_ATTRIBUTES: dict[str, Condition] = {
    "id": _uuid(Person.id),
    "username": _string(Person.user_name),
    "externalid": _string(Person.external_id, case_exact=True),
    "displayname": _string(Person.display_name),
    "title": _string(Person.title),
    "active": _boolean(Person.active),
    # We keep one e-mail in a column, the work (or primary) one: filters match it.
    "emails": _string(Person.email),
    "emails.value": _string(Person.email),
    "emails.type": _constant("work"),
    "emails.primary": _constant(True),
    "employeenumber": _string(Person.employee_number, case_exact=True),
    "department": _string(Person.department),
    "manager": _uuid(Person.manager_id),
    "manager.value": _uuid(Person.manager_id),
    "name.givenname": _string(_json_text("name", "givenName")),
    "name.familyname": _string(_json_text("name", "familyName")),
    "name.formatted": _string(_json_text("name", "formatted")),
    "meta.created": _moment(Person.created_at),
    "meta.lastmodified": _moment(Person.updated_at),
}

GROUP_ATTRIBUTES: dict[str, Condition] = {
    "id": _uuid(Team.id),
    "displayname": _string(Team.name),
    "externalid": _string(Team.external_id, case_exact=True),
    "members": _members,
    "members.value": _members,
    "meta.created": _moment(Team.created_at),
    "meta.lastmodified": _moment(Team.updated_at),
}


def compile_filter(
    expr: Expr, attributes: dict[str, Condition], schemas: Sequence[str], prefix: str = ""
) -> ColumnElement[bool]:
    """The WHERE clause of a filter tree; ``FilterError`` for an attribute we cannot filter."""
    if isinstance(expr, And):
        return and_(
            compile_filter(expr.left, attributes, schemas, prefix),
            compile_filter(expr.right, attributes, schemas, prefix),
        )
    if isinstance(expr, Or):
        return or_(
            compile_filter(expr.left, attributes, schemas, prefix),
            compile_filter(expr.right, attributes, schemas, prefix),
        )
    if isinstance(expr, Not):
        # SQL's NOT of NULL (a comparison on a missing attribute) is NULL, which drops the
        # row; SCIM's comparison is just false there, so its negation is true.
        return compile_filter(expr.expr, attributes, schemas, prefix).is_not(True)
    if isinstance(expr, ValuePath):
        if prefix:
            raise FilterError("Value filters do not nest.")
        return compile_filter(expr.filter, attributes, schemas, _name(expr.attr, schemas) + ".")
    condition = attributes.get(prefix + _name(expr.path, schemas))
    if condition is None:
        raise FilterError(f"Cannot filter on `{expr.path}`.")
    if isinstance(expr, Present):
        return condition("pr", None)
    assert isinstance(expr, Compare)
    return condition(expr.op, expr.value)


def _name(path: str, schemas: Sequence[str]) -> str:
    lowered = path.lower()
    for urn in schemas:
        if lowered.startswith(urn.lower() + ":"):
            return lowered[len(urn) + 1 :]
    return lowered


USER_SCHEMAS = (CORE_USER, ENTERPRISE_USER)
GROUP_SCHEMAS = (CORE_GROUP,)


async def list_users(
    session: AsyncSession,
    org: uuid.UUID,
    where: ColumnElement[bool] | None,
    offset: int,
    limit: int,
) -> tuple[int, list[Person]]:
    """One page in a stable order (creation, then id) and the number of matches."""
    clauses = [Person.organization_id == org, Person.deprovisioned_at.is_(None)]
    if where is not None:
        clauses.append(where)
    total = (await session.execute(select(func.count()).where(*clauses))).scalar_one()
    if limit == 0 or offset >= total:
        return total, []
    stmt = select(Person).where(*clauses).order_by(Person.created_at, Person.id)
    rows = await session.scalars(stmt.offset(offset).limit(limit))
    return total, list(rows.all())


async def list_groups(
    session: AsyncSession,
    org: uuid.UUID,
    where: ColumnElement[bool] | None,
    offset: int,
    limit: int,
) -> tuple[int, list[Team]]:
    clauses = [Team.organization_id == org]
    if where is not None:
        clauses.append(where)
    total = (
        await session.execute(select(func.count()).select_from(Team).where(*clauses))
    ).scalar_one()
    if limit == 0 or offset >= total:
        return total, []
    stmt = select(Team).where(*clauses).order_by(Team.created_at, Team.id)
    rows = await session.scalars(stmt.offset(offset).limit(limit))
    return total, list(rows.all())


async def get_user(
    session: AsyncSession, org: uuid.UUID, ident: uuid.UUID, *, for_update: bool = False
) -> Person | None:
    stmt = select(Person).where(
        Person.organization_id == org, Person.id == ident, Person.deprovisioned_at.is_(None)
    )
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def person_by_user_name(
    session: AsyncSession, org: uuid.UUID, user_name: str
) -> Person | None:
    """Whoever holds this user name, deprovisioned or not (user names are unique in any case)."""
    stmt = select(Person).where(
        Person.organization_id == org, func.lower(Person.user_name) == user_name.lower()
    )
    return (await session.execute(stmt.with_for_update())).scalar_one_or_none()


async def resolve_person(session: AsyncSession, org: uuid.UUID, ref: str) -> Person | None:
    """A manager reference: our id, or the external id, employee number or user name an
    identity provider knows the person by."""
    try:
        by_id: ColumnElement[bool] = Person.id == uuid.UUID(ref)
    except ValueError:
        by_id = false()
    stmt = (
        select(Person)
        .where(
            Person.organization_id == org,
            or_(
                by_id,
                Person.external_id == ref,
                Person.employee_number == ref,
                func.lower(Person.user_name) == ref.lower(),
            ),
        )
        .order_by(Person.deprovisioned_at.is_not(None), Person.created_at)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def provisioned_people(
    session: AsyncSession, org: uuid.UUID, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not ids:
        return set()
    stmt = select(Person.id).where(
        Person.organization_id == org, Person.id.in_(ids), Person.deprovisioned_at.is_(None)
    )
    return set((await session.scalars(stmt)).all())


async def members_of(
    session: AsyncSession, org: uuid.UUID, team_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Person]]:
    """The provisioned members of many teams in one query, in a stable order."""
    members: dict[uuid.UUID, list[Person]] = {t: [] for t in team_ids}
    if not team_ids:
        return members
    stmt = (
        select(TeamMember.team_id, Person)
        .join(Person, Person.id == TeamMember.person_id)
        .where(
            TeamMember.organization_id == org,
            Person.organization_id == org,
            Person.deprovisioned_at.is_(None),
            TeamMember.team_id.in_(team_ids),
        )
        .order_by(TeamMember.team_id, Person.created_at, Person.id)
    )
    for team_id, person in (await session.execute(stmt)).all():
        members[team_id].append(person)
    return members


# The lock (``serialize_in_organization``, with the lower-cased name appended) a Group takes
# before it checks that its displayName is free.
GROUP_NAMES = "scim.group-names"


async def team_name_taken(
    session: AsyncSession, org: uuid.UUID, name: str, excluding: uuid.UUID | None
) -> bool:
    stmt = select(Team.id).where(Team.organization_id == org, func.lower(Team.name) == name.lower())
    if excluding is not None:
        stmt = stmt.where(Team.id != excluding)
    return (await session.execute(stmt.limit(1))).first() is not None


async def people_by_id(
    session: AsyncSession, org: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[Person]:
    if not ids:
        return []
    stmt = select(Person).where(Person.organization_id == org, Person.id.in_(ids))
    return list((await session.scalars(stmt)).all())
