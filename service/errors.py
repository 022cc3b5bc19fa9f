"""The one error hierarchy, rendered as RFC 9457 problems (REST), typed results (GraphQL)
and SCIM errors (RFC 7644 §3.12, under ``/scim/v2``).

ServiceError                     500 unless a subclass says otherwise
├── BadRequest                   400 malformed input the schema cannot describe
├── Unauthorized                 401 no key, an unknown key or a revoked key
├── Forbidden                    403 the key lacks a scope
├── NotFound                     404 absent, or another organization's (never told apart)
├── Conflict                     409 uniqueness, a graph cycle, a state that forbids it
├── PreconditionFailed           412 If-Match names an old version
├── PayloadTooLarge              413 a body over the configured limit
├── ValidationFailed             422 well-formed but breaks a rule
├── TooManyRequests              429 the API key is over its rate limit (with Retry-After)
└── ServiceUnavailable           503 the database cannot be reached
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar


class ServiceError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        scim_type: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers: dict[str, str] = {}
        # Under /scim/v2 errors use the SCIM error schema; this is its ``scimType``
        # (RFC 7644 §3.12: uniqueness, invalidFilter, invalidValue, noTarget, ...).
        self.scim_type = scim_type

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://meridian.dev/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(ServiceError):
    status, title, code = 400, "Bad Request", "bad_request"


class Unauthorized(ServiceError):
    status, title, code = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str = "A valid API key is required.") -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": 'Bearer realm="meridian"'}


class Forbidden(ServiceError):
    status, title, code = 403, "Forbidden", "forbidden"


class NotFound(ServiceError):
    status, title, code = 404, "Not Found", "not_found"

    @classmethod
    def of(cls, kind: str, ident: object) -> NotFound:
        return cls(f"{kind} {ident} does not exist.")


class Conflict(ServiceError):
    status, title, code = 409, "Conflict", "conflict"


class PreconditionFailed(ServiceError):
    status, title, code = 412, "Precondition Failed", "precondition_failed"


class PayloadTooLarge(ServiceError):
    status, title, code = 413, "Content Too Large", "payload_too_large"


class ValidationFailed(ServiceError):
    status, title, code = 422, "Unprocessable Content", "validation_failed"

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, errors=[{"loc": field.split("."), "msg": message}])


def refuse_nulls(changes: Mapping[str, Any], required: Iterable[str]) -> None:
    """A PATCH's ``null`` for a field the resource always has is a 422 (``x`` cannot be
    null), not a value to store nor a change to skip; omitted fields are left alone."""
    for name in required:
        if name in changes and changes[name] is None:
            raise ValidationFailed.on(name, f"`{name}` cannot be null.")


class TooManyRequests(ServiceError):
    status, title, code = 429, "Too Many Requests", "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class ServiceUnavailable(ServiceError):
    status, title, code = 503, "Service Unavailable", "service_unavailable"

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}
