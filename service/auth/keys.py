"""API key material and scopes: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "mrd_"
DISPLAY_PREFIX_LENGTH = 12


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    INGEST = "ingest"
    ADMIN = "admin"
    SCIM = "scim"


# A broader scope carries the narrower ones, so an admin key can do anything a write key can.
IMPLIED_SCOPES: dict[Scope, frozenset[Scope]] = {
    Scope.READ: frozenset({Scope.READ}),
    Scope.INGEST: frozenset({Scope.INGEST}),
    # An identity provider's key provisions people and teams over /scim/v2 and nothing else.
    Scope.SCIM: frozenset({Scope.SCIM}),
    Scope.WRITE: frozenset({Scope.WRITE, Scope.READ, Scope.INGEST}),
    Scope.ADMIN: frozenset(Scope),
}


def effective_scopes(granted: list[str]) -> frozenset[Scope]:
    result: set[Scope] = set()
    for name in granted:
        result |= IMPLIED_SCOPES.get(Scope(name), frozenset())
    return frozenset(result)


def generate_key() -> str:
    """``mrd_`` and 256 random bits: recognisable by secret scanners, unguessable."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 suffices: keys carry 256 bits of entropy, so there is nothing to brute-force."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key of one organization and what it may do."""

    organization_id: uuid.UUID
    api_key_id: uuid.UUID
    key_name: str
    scopes: frozenset[Scope]
    kpi_ids: frozenset[uuid.UUID] | None = None  # ingestion limited to these KPIs

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    def may_ingest_into(self, kpi_id: uuid.UUID) -> bool:
        return self.kpi_ids is None or kpi_id in self.kpi_ids
