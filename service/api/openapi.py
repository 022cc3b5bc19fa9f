"""The OpenAPI document: the Problem schema and the committed-file export."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem details object.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "A stable machine-readable error code."},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True},
            "description": "Per-field problems for validation errors.",
        },
    },
}


def problem_responses() -> dict[int | str, dict[str, Any]]:
    """The problem responses every ``/v1`` operation may give, documented once."""
    described = {
        400: "Malformed request",
        401: "Missing or invalid API key",
        403: "The key lacks a scope",
        404: "Not found (or another organization's)",
        409: "Conflict",
        412: "If-Match is stale",
        413: "Body too large",
        422: "Invalid input",
        429: "The API key is over its rate limit; retry after `Retry-After` seconds",
        503: "The database is unavailable; retry after `Retry-After` seconds",
    }
    content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {code: {"description": text, "content": content} for code, text in described.items()}


# Problems a read cannot give: it changes nothing (no conflict) and takes no If-Match.
_NOT_ON_READS = ("409", "412")


def _fit_to_method(method: str, operation: dict[str, Any]) -> None:
    """The router-wide responses and parameters, narrowed to what ``method`` can meet:
    ``Idempotency-Key`` means something on a POST only (it is still checked on every
    method), and a GET never conflicts or fails an If-Match."""
    if method != "post":
        operation["parameters"] = [
            p
            for p in operation.get("parameters", [])
            if not (p.get("in") == "header" and p.get("name") == "Idempotency-Key")
        ]
        if not operation["parameters"]:
            del operation["parameters"]
    if method == "get":
        for status in _NOT_ON_READS:
            operation.get("responses", {}).pop(status, None)


def install(app: FastAPI) -> None:
    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path in schema.get("paths", {}).values():
            for method, operation in path.items():
                _fit_to_method(method, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
