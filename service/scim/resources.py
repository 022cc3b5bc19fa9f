"""People and teams as SCIM Users and Groups, and back: pure, no I/O.

Columns hold what Meridian uses (user name, display name, work e-mail, title, manager,
employee number, department); every other attribute of the published schemas is kept in
``people.scim_attributes`` exactly as the identity provider sent it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.common.schemas import no_control_characters
from service.models import Person, Team
from service.scim.discovery import CORE_GROUP, CORE_USER, ENTERPRISE_USER
from service.scim.filter import attribute

KEPT_CORE = ("name", "nickName", "userType", "preferredLanguage", "locale", "timezone")
KEPT_MULTI = ("emails", "phoneNumbers")
KEPT_ENTERPRISE = ("costCenter", "organization", "division")
DEFAULTED = "$defaulted"
"""Key in ``scim_attributes`` listing attributes the provider left out that a column still
needs. SCIM shows them as unassigned, as they were sent, only while the column still holds
what "unassigned" stands for: ``displayName`` its fallback (``name``, else the user name),
``active`` true. A person deactivated (or renamed) since, by REST or the HRIS sync, shows
``active: false`` (or the new ``displayName``), so a later PATCH or PUT keeps it."""
MAX_NAME = 200
MAX_EMAIL = 320


class InvalidResource(ValueError):
    """A resource body we cannot store (SCIM ``invalidValue`` or ``invalidSyntax``)."""

    def __init__(self, message: str, scim_type: str = "invalidValue") -> None:
        super().__init__(message)
        self.scim_type = scim_type


@dataclass(frozen=True)
class UserFields:
    user_name: str
    display_name: str
    external_id: str | None
    email: str | None
    title: str | None
    active: bool | None
    """``None`` when left out: true on create, kept on PUT (see ``service.replace_user``)."""
    employee_number: str | None
    department: str | None
    manager_ref: str | None
    scim_attributes: dict[str, Any]


@dataclass(frozen=True)
class GroupFields:
    display_name: str
    external_id: str | None
    member_refs: list[str]


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _meta(kind: str, location: str, created: datetime, updated: datetime, version: int) -> Any:
    return {
        "resourceType": kind,
        "created": _rfc3339(created),
        "lastModified": _rfc3339(updated),
        "location": location,
        "version": f'W/"{version}"',
    }


def user_to_scim(person: Person, manager: Person | None, base: str) -> dict[str, Any]:
    stored = dict(person.scim_attributes or {})
    enterprise_stored = stored.pop(ENTERPRISE_USER, None) or {}
    defaulted = set(stored.get(DEFAULTED) or ())
    user: dict[str, Any] = {
        "schemas": [CORE_USER],
        "id": str(person.id),
        "userName": person.user_name,
    }
    fallback = _default_display_name(stored.get("name"), person.user_name)
    if "displayName" not in defaulted or person.display_name != fallback:
        user["displayName"] = person.display_name
    if "active" not in defaulted or not person.active:
        user["active"] = person.active
    if person.external_id is not None:
        user["externalId"] = person.external_id
    if person.title is not None:
        user["title"] = person.title
    user.update({k: v for k, v in stored.items() if k in KEPT_CORE + KEPT_MULTI})
    # Shown with the address people.email holds now, or not at all.
    emails = _emails_showing(user.pop("emails", None) or [], person.email)
    if emails:
        user["emails"] = emails
    enterprise: dict[str, Any] = {
        k: v for k, v in enterprise_stored.items() if k in KEPT_ENTERPRISE and v is not None
    }
    if person.employee_number is not None:
        enterprise["employeeNumber"] = person.employee_number
    if person.department is not None:
        enterprise["department"] = person.department
    if manager is not None:
        enterprise["manager"] = {"value": str(manager.id), "$ref": f"{base}/Users/{manager.id}"}
    if enterprise:
        user["schemas"] = [CORE_USER, ENTERPRISE_USER]
        user[ENTERPRISE_USER] = {"schemas": [ENTERPRISE_USER], **enterprise}
    location = f"{base}/Users/{person.id}"
    user["meta"] = _meta("User", location, person.created_at, person.updated_at, person.version)
    return user


def user_from_scim(data: Any) -> UserFields:
    """The person a User body describes (POST, PUT, or the result of a PATCH)."""
    if not isinstance(data, dict):
        raise InvalidResource("A User is a JSON object.", "invalidSyntax")
    user_name = _text(data, "userName", required=True)
    assert user_name is not None
    enterprise = attribute(data, ENTERPRISE_USER) or {}
    if not isinstance(enterprise, dict):
        raise InvalidResource(f"{ENTERPRISE_USER} is an object.")
    kept: dict[str, Any] = {}
    for name in KEPT_CORE + KEPT_MULTI:
        value = attribute(data, name)
        if value is not None:
            if name in KEPT_MULTI and not _list_of_objects(value):
                raise InvalidResource(f"`{name}` is a list of objects.")
            kept[name] = value
    kept_enterprise = {n: attribute(enterprise, n) for n in KEPT_ENTERPRISE}
    kept_enterprise = {n: v for n, v in kept_enterprise.items() if v is not None}
    if kept_enterprise:
        kept[ENTERPRISE_USER] = kept_enterprise
    defaulted = [n for n in ("displayName", "active") if attribute(data, n) in (None, "")]
    if defaulted:
        kept[DEFAULTED] = defaulted
    return UserFields(
        user_name=user_name,
        display_name=_display_name(data, user_name),
        external_id=_text(data, "externalId"),
        email=_work_email(kept.get("emails") or []),
        title=_text(data, "title"),
        active=_boolean(attribute(data, "active"), "active"),
        employee_number=_text(enterprise, "employeeNumber"),
        department=_text(enterprise, "department"),
        manager_ref=_manager_ref(attribute(enterprise, "manager")),
        scim_attributes=kept,
    )


def group_to_scim(team: Team, members: list[Person], base: str) -> dict[str, Any]:
    group: dict[str, Any] = {
        "schemas": [CORE_GROUP],
        "id": str(team.id),
        "displayName": team.name,
        "members": [{"value": str(p.id), "$ref": f"{base}/Users/{p.id}"} for p in members],
    }
    if team.external_id is not None:
        group["externalId"] = team.external_id
    location = f"{base}/Groups/{team.id}"
    group["meta"] = _meta("Group", location, team.created_at, team.updated_at, team.version)
    return group


def group_from_scim(data: Any) -> GroupFields:
    if not isinstance(data, dict):
        raise InvalidResource("A Group is a JSON object.", "invalidSyntax")
    display_name = _text(data, "displayName", required=True)
    assert display_name is not None
    members = attribute(data, "members") or []
    if not _list_of_objects(members):
        raise InvalidResource("`members` is a list of objects.")
    refs = []
    for member in members:
        value = attribute(member, "value")
        if not isinstance(value, str) or not value:
            raise InvalidResource("Each member has a `value`: the id of a User.")
        refs.append(value)
    return GroupFields(display_name, _text(data, "externalId"), list(dict.fromkeys(refs)))


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = attribute(data, name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidResource(f"`{name}` is required.")
        return None
    if not isinstance(value, str):
        raise InvalidResource(f"`{name}` is a string.")
    if len(value) > MAX_NAME:
        raise InvalidResource(f"`{name}` is at most {MAX_NAME} characters.")
    try:
        return no_control_characters(value)
    except ValueError as exc:
        raise InvalidResource(f"`{name}` {exc}.") from exc


def _boolean(value: Any, name: str) -> bool | None:
    """Booleans, and the strings ``"True"``/``"False"`` Entra sends without aadOptscim062020."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidResource(f"`{name}` is a boolean.")


def _display_name(data: dict[str, Any], user_name: str) -> str:
    return _text(data, "displayName") or _default_display_name(attribute(data, "name"), user_name)


def _default_display_name(name: Any, user_name: str) -> str:
    """The display name of a User sent without one: its formatted name, else its given and
    family names, else its user name."""
    if isinstance(name, dict):
        formatted = attribute(name, "formatted")
        parts = [attribute(name, "givenName"), attribute(name, "familyName")]
        candidate = formatted or " ".join(p for p in parts if isinstance(p, str) and p)
        if isinstance(candidate, str) and candidate:
            return candidate[:MAX_NAME]
    return user_name


def _work_email(emails: list[dict[str, Any]]) -> str | None:
    """The primary e-mail, else the work one, else the first: what ``people.email`` holds."""
    chosen = _work_email_index(emails)
    if chosen is None:
        return None
    value: str = attribute(emails[chosen], "value")
    if len(value) > MAX_EMAIL:
        raise InvalidResource(f"An e-mail address is at most {MAX_EMAIL} characters.")
    return value


def _work_email_index(emails: list[dict[str, Any]]) -> int | None:
    def rank(index: int) -> tuple[bool, bool]:
        email = emails[index]
        return attribute(email, "primary") is not True, attribute(email, "type") != "work"

    for index in sorted(range(len(emails)), key=rank):
        value = attribute(emails[index], "value")
        if isinstance(value, str) and value:
            return index
    return None


def _emails_showing(stored: list[dict[str, Any]], email: str | None) -> list[dict[str, Any]]:
    """The stored ``emails`` with the one ``people.email`` came from showing its current
    value: REST may have changed or cleared it since, and filters match the column."""
    if email is None:
        return []
    chosen = _work_email_index(stored)
    if chosen is None:
        return [*stored, {"value": email, "type": "work", "primary": True}]
    entry = {k: email if k.lower() == "value" else v for k, v in stored[chosen].items()}
    return [*stored[:chosen], entry, *stored[chosen + 1 :]]


def _manager_ref(value: Any) -> str | None:
    """Okta and RFC clients send ``{"value": id}``; Entra sends the id as a bare string."""
    if isinstance(value, dict):
        value = attribute(value, "value")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidResource("`manager` is an object with a `value`.")
    return value


def project(resource: dict[str, Any], attributes: list[str], excluded: list[str]) -> dict[str, Any]:
    """Apply ``attributes``/``excludedAttributes`` (RFC 7644 §3.4.2.5); ``id`` and
    ``schemas`` are always returned."""
    if attributes:
        kept: dict[str, Any] = {k: resource[k] for k in ("schemas", "id") if k in resource}
        for path in attributes:
            _copy_path(resource, kept, path)
        return kept
    result = dict(resource)
    for path in excluded:
        _drop_path(result, path)
    return result


def _split(resource: dict[str, Any], path: str) -> tuple[dict[str, Any], str, str | None]:
    """The container a path points into (the resource or an extension), its attribute and
    sub-attribute."""
    container = resource
    lowered = path.lower()
    for key, value in resource.items():
        if key.lower().startswith("urn:") and lowered.startswith(key.lower() + ":"):
            container, path = (value if isinstance(value, dict) else {}), path[len(key) + 1 :]
            break
    attr, _, sub = path.partition(".")
    return container, attr, sub or None


def _find(container: dict[str, Any], name: str) -> str | None:
    return next((k for k in container if k.lower() == name.lower()), None)


def _copy_path(resource: dict[str, Any], into: dict[str, Any], path: str) -> None:
    container, attr, sub = _split(resource, path)
    if container is not resource:
        urn = next(k for k, v in resource.items() if v is container)
        target = into.setdefault(urn, {})
    else:
        target = into
    key = _find(container, attr)
    if key is None:
        return
    value = container[key]
    if sub is None:
        target[key] = value
    elif isinstance(value, dict):
        sub_key = _find(value, sub)
        if sub_key is not None:
            target.setdefault(key, {})[sub_key] = value[sub_key]
    elif isinstance(value, list):
        target[key] = [{k: v for k, v in e.items() if k.lower() == sub.lower()} for e in value]


def _drop_path(resource: dict[str, Any], path: str) -> None:
    container, attr, sub = _split(resource, path)
    key = _find(container, attr)
    if key is None or key.lower() in ("id", "schemas"):
        return
    if container is not resource:
        urn = next(k for k, v in resource.items() if v is container)
        container = resource[urn] = dict(container)
    if sub is None:
        del container[key]
    elif isinstance(container[key], dict):
        container[key] = {k: v for k, v in container[key].items() if k.lower() != sub.lower()}
