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
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
