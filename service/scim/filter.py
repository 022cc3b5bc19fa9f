"""SCIM filter expressions (RFC 7644 §3.4.2.2) parsed into a small tree: pure, no I/O.

Grammar, by precedence: ``or`` < ``and`` < ``not ( … )`` and ``( … )`` < an attribute
expression. An attribute expression is ``path pr``, ``path op value`` or a value path
``attr[filter]``; Entra's ``emails[type eq "work"].value eq "x"`` is read as
``emails[type eq "work" and value eq "x"]``. The repository compiles the tree to SQL; the
patch module evaluates it against the elements of a multi-valued attribute with
``matches``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
MAX_LENGTH = 4096
MAX_DEPTH = 32

_TOKEN = re.compile(
    r'\s+|(?P<punct>[()\[\]])|(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()\[\]"]+)'
)
_ATTR_PATH = re.compile(r"^(?:urn:[A-Za-z0-9:._-]+:)?[A-Za-z$][\w$-]*(?:\.[A-Za-z$][\w$-]*)?$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")


class FilterError(ValueError):
    """The expression is not a filter we understand (SCIM ``invalidFilter``)."""


@dataclass(frozen=True)
class Compare:
    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    path: str


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class ValuePath:
    """``attr[filter]``: some element of the multi-valued ``attr`` satisfies ``filter``."""

    attr: str
    filter: Expr


Expr = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class Token:
    kind: str  # "punct", "string" or "word"
    text: str


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise FilterError(f"A filter is at most {MAX_LENGTH} characters.")
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterError(f"Unexpected character at {position}: {text[position]!r}.")
        position = match.end()
        kind = match.lastgroup
        if kind is not None:
            tokens.append(Token(kind, match.group(kind)))
    return tokens


def parse(text: str) -> Expr:
    """The tree of a filter expression; ``FilterError`` when it is not one."""
    parser = _Parser(tokenize(text))
    expr = parser.parse_or(0)
    if parser.peek() is not None:
        raise FilterError(f"Unexpected {parser.peek_text()!r} after the expression.")
    return expr


@dataclass(frozen=True)
class PatchPath:
    """A PATCH ``path``: ``attr``, ``attr.sub``, ``attr[filter]`` or ``attr[filter].sub``,
    each optionally prefixed by a schema URN (``urn:…:enterprise:2.0:User:manager``)."""

    urn: str | None
    attr: str
    filter: Expr | None
    sub: str | None


def parse_path(text: str) -> PatchPath:
    parser = _Parser(tokenize(text))
    word = parser.expect_word()
    if not _ATTR_PATH.match(word) and not word.lower().startswith("urn:"):
        raise FilterError(f"{word!r} is not an attribute path.")
    urn, attr = split_urn(word)
    sub: str | None = None
    if "." in attr:
        attr, sub = attr.split(".", 1)
    expr: Expr | None = None
    if parser.peek_text() == "[":
        if sub is not None:
            raise FilterError("A value filter applies to an attribute, not a sub-attribute.")
        parser.advance()
        expr = parser.parse_or(1)
        parser.expect("]")
        trailing = parser.peek()
        if trailing is not None and trailing.kind == "word" and trailing.text.startswith("."):
            sub = parser.advance().text[1:]
    if parser.peek() is not None:
        raise FilterError(f"Unexpected {parser.peek_text()!r} in the path.")
    return PatchPath(urn, attr, expr, sub)


def split_urn(path: str) -> tuple[str | None, str]:
    """``urn:…:User:manager.value`` → (``urn:…:User``, ``manager.value``)."""
    if not path.lower().startswith("urn:"):
        return None, path
    urn, _, attr = path.rpartition(":")
    if not urn or not attr:
        raise FilterError(f"{path!r} names a schema, not an attribute.")
    return urn, attr


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def peek_text(self) -> str | None:
        token = self.peek()
        return None if token is None else token.text

    def peek_keyword(self) -> str | None:
        token = self.peek()
        return token.text.lower() if token is not None and token.kind == "word" else None

    def advance(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("The filter ends too early.")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.advance()
        if token.text != text:
            raise FilterError(f"Expected {text!r}, found {token.text!r}.")

    def expect_word(self) -> str:
        token = self.advance()
        if token.kind != "word":
            raise FilterError(f"Expected an attribute, found {token.text!r}.")
        return token.text

    def parse_or(self, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise FilterError(f"A filter nests at most {MAX_DEPTH} levels.")
        expr = self.parse_and(depth)
        while self.peek_keyword() == "or":
            self.advance()
            expr = Or(expr, self.parse_and(depth))
        return expr

    def parse_and(self, depth: int) -> Expr:
        expr = self.parse_unary(depth)
        while self.peek_keyword() == "and":
            self.advance()
            expr = And(expr, self.parse_unary(depth))
        return expr

    def parse_unary(self, depth: int) -> Expr:
        if self.peek_keyword() == "not":
            self.advance()
            return Not(self.parse_group(depth))
        if self.peek_text() == "(":
            return self.parse_group(depth)
        return self.parse_attribute(depth)

    def parse_group(self, depth: int) -> Expr:
        self.expect("(")
        expr = self.parse_or(depth + 1)
        self.expect(")")
        return expr

    def parse_attribute(self, depth: int) -> Expr:
        path = self.expect_word()
        if not _ATTR_PATH.match(path):
            raise FilterError(f"{path!r} is not an attribute path.")
        if self.peek_text() == "[":
            self.advance()
            inner = self.parse_or(depth + 1)
            self.expect("]")
            trailing = self.peek()
            if trailing is not None and trailing.kind == "word" and trailing.text.startswith("."):
                sub = self.advance().text[1:]
                inner = And(inner, self.parse_comparison(sub))
            return ValuePath(path, inner)
        return self.parse_comparison(path)

    def parse_comparison(self, path: str) -> Expr:
        token = self.advance()
        op = token.text.lower()
        if token.kind == "word" and op == "pr":
            return Present(path)
        if token.kind != "word" or op not in COMPARE_OPS:
            raise FilterError(f"{token.text!r} is not a comparison operator.")
        return Compare(path, op, self.parse_value())

    def parse_value(self) -> Any:
        token = self.advance()
        if token.kind == "string":
            try:
                return json.loads(token.text)
            except ValueError as exc:
                raise FilterError(f"{token.text} is not a valid string.") from exc
        literal = token.text.lower()
        if token.kind == "word" and literal in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[literal]
        if token.kind == "word" and _NUMBER.match(token.text):
            number = float(token.text)
            return int(number) if number.is_integer() and "." not in token.text else number
        raise FilterError(f"{token.text!r} is not a value: quote strings.")


def attribute(element: dict[str, Any], name: str) -> Any:
    """``element[name]``, the key compared case-insensitively as SCIM attribute names are."""
    lowered = name.lower()
    for key, value in element.items():
        if key.lower() == lowered:
            return value
    return None


def matches(element: dict[str, Any], expr: Expr) -> bool:
    """Whether one element of a multi-valued attribute (``{"value": …, "type": …}``)
    satisfies a value filter. Strings compare case-insensitively."""
    if isinstance(expr, And):
        return matches(element, expr.left) and matches(element, expr.right)
    if isinstance(expr, Or):
        return matches(element, expr.left) or matches(element, expr.right)
    if isinstance(expr, Not):
        return not matches(element, expr.expr)
    if isinstance(expr, Present):
        return attribute(element, expr.path) not in (None, "", [], {})
    if isinstance(expr, ValuePath):
        raise FilterError("Value filters do not nest.")
    return _compare(attribute(element, expr.path), expr.op, expr.value)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    if op in ("co", "sw", "ew"):
        if not isinstance(actual, str) or not isinstance(expected, str):
            return False
        return {"co": expected in actual, "sw": actual.startswith(expected)}.get(
            op, actual.endswith(expected)
        )
    try:
        return bool(
            {
                "gt": actual > expected,
                "ge": actual >= expected,
                "lt": actual < expected,
                "le": actual <= expected,
            }[op]
        )
    except TypeError:
        return False
