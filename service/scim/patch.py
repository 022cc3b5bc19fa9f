"""SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: pure, no I/O.

The service renders a resource as SCIM JSON, applies the operations here and maps the
result back exactly as it maps a ``PUT``, so PATCH and PUT share one set of rules.

Accepted beyond the letter of the RFC, because identity providers send it:
``op`` in any case (Entra sends ``Add``, ``Replace``, ``Remove``); a value object with no
``path`` whose keys are attribute paths (``{"name.givenName": …}``, ``{"urn:…:User:manager":
…}``) or extension URNs; ``remove`` of ``members`` with a value listing the members to
remove; ``add``/``replace`` through a filter that matches nothing
(``emails[type eq "work"].value``), which creates the element the filter describes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from service.scim.filter import And, Compare, Expr, FilterError, PatchPath, matches, parse_path

OPS = frozenset({"add", "replace", "remove"})
MAX_VALUE_DEPTH = 8
"""How many objects and arrays deep an operation's ``value`` may nest. SCIM's core and
enterprise schemas nest three (an attribute, an element of a multi-valued one, its
sub-attribute); a value without ``path`` adds its schema URN, and Entra can put the
extension's URN inside the core's: five. Deeper is refused (400, ``invalidValue``) before
anything recurses over it, so a value a few hundred levels deep, which the JSON parser
still reads, can never exhaust the stack (a ``RecursionError``, a 500)."""


class PatchError(ValueError):
    """A PATCH the server cannot apply; ``scim_type`` is the RFC 7644 §3.12 error type."""

    def __init__(self, message: str, scim_type: str) -> None:
        super().__init__(message)
        self.scim_type = scim_type


@dataclass(frozen=True)
class Schemas:
    core: str
    extensions: frozenset[str]

    def extension(self, urn: str) -> str | None:
        lowered = urn.lower()
        return next((e for e in self.extensions if e.lower() == lowered), None)


def apply_patch(
    resource: dict[str, Any], operations: Iterable[Any], schemas: Schemas
) -> dict[str, Any]:
    """A patched copy of ``resource``; the input is left unchanged."""
    result = copy.deepcopy(resource)
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError("Each operation is an object.", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in OPS:
            raise PatchError(f"Unknown op {operation.get('op')!r}.", "invalidSyntax")
        path = operation.get("path")
        value = operation.get("value")
        _check_depth(value)
        if path is None or path == "":
            _apply_without_path(result, op, value, schemas)
        elif isinstance(path, str):
            _apply_path(result, op, path, value, schemas)
        else:
            raise PatchError("`path` is a string.", "invalidPath")
    return result


def _check_depth(value: Any) -> None:
    """Refuse a value nested deeper than ``MAX_VALUE_DEPTH``, without recursing itself."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_VALUE_DEPTH:
            raise PatchError(
                f"`value` is nested more than {MAX_VALUE_DEPTH} levels deep; no SCIM attribute is.",
                "invalidValue",
            )
        stack.extend((child, depth + 1) for child in children)


def _apply_without_path(resource: dict[str, Any], op: str, value: Any, schemas: Schemas) -> None:
    if op == "remove":
        raise PatchError("`remove` needs a `path`.", "noTarget")
    if not isinstance(value, dict):
        raise PatchError("Without a `path`, `value` is an object of attributes.", "invalidValue")
    for key, item in value.items():
        extension = schemas.extension(key)
        if extension is not None and isinstance(item, dict):
            container = _container(resource, extension)
            for name, sub_value in item.items():
                _apply_to(container, op, PatchPath(None, name, None, None), sub_value)
        elif key.lower() == schemas.core.lower() and isinstance(item, dict):
            _apply_without_path(resource, op, item, schemas)
        else:
            _apply_path(resource, op, key, item, schemas)


def _apply_path(resource: dict[str, Any], op: str, path: str, value: Any, schemas: Schemas) -> None:
    extension = schemas.extension(path)
    if extension is not None:  # the path is a whole extension: its value is its attributes
        if op == "remove":
            _delete(resource, extension)
            return
        if not isinstance(value, dict):
            raise PatchError(f"{path} takes an object of attributes.", "invalidValue")
        _apply_without_path(resource, op, {extension: value}, schemas)
        return
    try:
        parsed = parse_path(path)
    except FilterError as exc:
        raise PatchError(str(exc), "invalidPath") from exc
    container = resource
    if parsed.urn is not None and parsed.urn.lower() != schemas.core.lower():
        extension = schemas.extension(parsed.urn)
        if extension is None:
            raise PatchError(f"Unknown schema {parsed.urn}.", "invalidPath")
        container = _container(resource, extension)
    _apply_to(container, op, parsed, value)


def _apply_to(container: dict[str, Any], op: str, path: PatchPath, value: Any) -> None:
    if path.filter is not None:
        _apply_filtered(container, op, path, value)
    elif path.sub is not None:
        parent = _get(container, path.attr)
        if op == "remove":
            if isinstance(parent, dict):
                _delete(parent, path.sub)
            return
        if not isinstance(parent, dict):
            parent = {}
            _set(container, path.attr, parent)
        _set(parent, path.sub, value)
    elif op == "remove":
        _remove(container, path.attr, value)
    else:
        _add_or_replace(container, op, path.attr, value)


def _add_or_replace(container: dict[str, Any], op: str, attr: str, value: Any) -> None:
    existing = _get(container, attr)
    if isinstance(value, dict) and isinstance(existing, dict):
        for key, item in value.items():  # a complex attribute: the given sub-attributes
            _set(existing, key, item)
    elif op == "add" and isinstance(existing, list):
        additions = value if isinstance(value, list) else [value]
        existing.extend(item for item in additions if item not in existing)
    else:
        _set(container, attr, value)


def _remove(container: dict[str, Any], attr: str, value: Any) -> None:
    existing = _get(container, attr)
    if isinstance(value, list) and isinstance(existing, list):
        # Entra's member removal: {"op": "Remove", "path": "members", "value": [{"value": id}]}
        doomed = {str(v.get("value")) for v in value if isinstance(v, dict)}
        kept = [e for e in existing if not (isinstance(e, dict) and str(e.get("value")) in doomed)]
        _set(container, attr, kept)
    else:
        _delete(container, attr)


def _apply_filtered(container: dict[str, Any], op: str, path: PatchPath, value: Any) -> None:
    assert path.filter is not None
    existing = _get(container, path.attr)
    elements = existing if isinstance(existing, list) else []
    try:
        hits = [e for e in elements if isinstance(e, dict) and matches(e, path.filter)]
    except FilterError as exc:
        raise PatchError(str(exc), "invalidFilter") from exc
    if op == "remove":
        if path.sub is None:
            _set(container, path.attr, [e for e in elements if not any(e is h for h in hits)])
            return
        for hit in hits:
            _delete(hit, path.sub)
        return
    if not hits:
        created = _element_described_by(path.filter)
        if created is None:
            raise PatchError(f"No value of {path.attr} matches the filter.", "noTarget")
        elements.append(created)
        _set(container, path.attr, elements)
        hits = [created]
    for hit in hits:
        if path.sub is not None:
            _set(hit, path.sub, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _set(hit, key, item)
        else:
            raise PatchError("A filtered path alone takes an object.", "invalidValue")


def _element_described_by(expr: Expr) -> dict[str, Any] | None:
    """The element a filter of ``eq`` comparisons joined by ``and`` describes, if it is one."""
    if isinstance(expr, Compare) and expr.op == "eq":
        return {expr.path: expr.value}
    if isinstance(expr, And):
        left, right = _element_described_by(expr.left), _element_described_by(expr.right)
        return None if left is None or right is None else {**left, **right}
    return None


def _key(container: dict[str, Any], name: str) -> str | None:
    lowered = name.lower()
    return next((key for key in container if key.lower() == lowered), None)


def _get(container: dict[str, Any], name: str) -> Any:
    key = _key(container, name)
    return None if key is None else container[key]


def _set(container: dict[str, Any], name: str, value: Any) -> None:
    container[_key(container, name) or name] = value


def _delete(container: dict[str, Any], name: str) -> None:
    key = _key(container, name)
    if key is not None:
        del container[key]


def _container(resource: dict[str, Any], urn: str) -> dict[str, Any]:
    existing = _get(resource, urn)
    if isinstance(existing, dict):
        return existing
    created: dict[str, Any] = {}
    _set(resource, urn, created)
    return created
