"""Every error leaves as ``application/problem+json`` (RFC 9457); never a 500 for bad input."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api.etag import NotModified
from service.common.database_errors import DATABASE_ERRORS, service_error_for, sqlstate_of
from service.errors import (
    BadRequest,
    ServiceError,
    ServiceUnavailable,
    ValidationFailed,
)

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("meridian.errors")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


SCIM_PREFIX = "/scim/"
SCIM_JSON = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimResponse(JSONResponse):
    media_type = SCIM_JSON


def error_document(error: ServiceError, path: str) -> tuple[dict[str, Any], str]:
    """A problem, or under ``/scim/`` the SCIM error schema identity providers expect; with
    its media type. Also used by ASGI middleware that answers before routing."""
    if path.startswith(SCIM_PREFIX):
        body: dict[str, Any] = {
            "schemas": [SCIM_ERROR],
            "status": str(error.status),
            "detail": error.detail,
        }
        if error.scim_type:
            body["scimType"] = error.scim_type
        return body, SCIM_JSON
    return error.problem(instance=path), PROBLEM_JSON


def problem_response(error: ServiceError, request: Request) -> JSONResponse:
    """A problem, or under ``/scim/`` the SCIM error schema identity providers expect."""
    body, media_type = error_document(error, request.url.path)
    response_class = ScimResponse if media_type == SCIM_JSON else ProblemResponse
    return response_class(body, status_code=error.status, headers=error.headers)


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return problem_response(exc, request)


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    # The offending input is left out: it may be huge or hold a secret.
    return {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _method_not_allowed(request):
        return await _http_error(request, StarletteHTTPException(405))
    errors = [_clean(e) for e in exc.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        invalid = BadRequest(
            "The body is not valid JSON.", errors=errors, scim_type="invalidSyntax"
        )
        return problem_response(invalid, request)
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return problem_response(ValidationFailed(summary, errors=errors), request)


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@lru_cache(maxsize=512)
def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(path)))


def _methods_on(request: Request) -> set[str]:
    """The documented methods of the resource at this path. Starlette's 405 names only the
    first route it tried, but FastAPI makes one route per method, so its ``Allow`` misses the
    others. A fixed path (``/v1/people/sync``) is its own resource, not an id of its
    parameterised sibling (``/v1/people/{person_id}``)."""
    paths = documented_methods(request.app)
    matching = [path for path in paths if _template(path).fullmatch(request.url.path)]
    fixed = [path for path in matching if "{" not in path]
    return {method for path in fixed or matching for method in paths[path]}


def documented_methods(app: FastAPI) -> dict[str, frozenset[str]]:
    """Each documented path template with its methods, as the OpenAPI document lists them,
    read off the routes once per app: generating the document itself takes about a second,
    too long to spend on the first 405 or 422 a fresh process answers."""
    cached: dict[str, frozenset[str]] | None = getattr(app.state, "documented_methods", None)
    if cached is None:
        methods: dict[str, set[str]] = {}
        for route in _documented_routes(app):
            documented = {m.upper() for m in route.methods if m.lower() in _METHODS}
            methods.setdefault(route.path_format, set()).update(documented)
        cached = {path: frozenset(found) for path, found in methods.items()}
        app.state.documented_methods = cached
    return cached


def _documented_routes(app: FastAPI) -> Iterator[Any]:
    """The API routes the OpenAPI document lists. FastAPI 0.16x keeps included routers as
    lazy branches and flattens them with ``iter_route_contexts``; older ones are flat."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - older FastAPI
        flat: list[Any] = [route for route in app.routes if isinstance(route, APIRoute)]
    else:
        flat = [
            c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)
        ]
    return (route for route in flat if route.include_in_schema)


def _allowed_methods(request: Request, given: str) -> str:
    # Routes outside the OpenAPI document (SCIM, /graphql) keep Starlette's answer.
    return ", ".join(sorted(_methods_on(request))) or given


def _method_not_allowed(request: Request) -> bool:
    """A parameterised route took the request and refused the id, but the path names a
    fixed resource without this method (``PATCH /v1/people/sync``): that is a 405."""
    methods = _methods_on(request)
    return bool(methods) and request.method not in methods


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error = ServiceError(str(exc.detail))
    error.headers = dict(exc.headers or {})
    if exc.status_code == 405:
        error.headers["Allow"] = _allowed_methods(request, error.headers.get("Allow", ""))
    if request.url.path.startswith(SCIM_PREFIX):
        error.status = exc.status_code  # type: ignore[misc]
        return problem_response(error, request)
    body = error.problem(instance=request.url.path)
    body.update(
        status=exc.status_code, title=_reason(exc.status_code), code=f"http_{exc.status_code}"
    )
    body["type"] = "about:blank"
    return ProblemResponse(body, status_code=exc.status_code, headers=error.headers)


def _reason(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


async def _database_error(request: Request, exc: Exception) -> Response:
    error = service_error_for(exc)
    if error is None:
        return await _unexpected(request, exc)
    if isinstance(error, ServiceUnavailable):
        logger.warning("database unavailable or conflicting: %s %s", type(exc).__name__,
                       sqlstate_of(exc))  # fmt: skip
    elif isinstance(error, ValidationFailed):
        logger.info("data refused by the database: %s", sqlstate_of(exc))
    return problem_response(error, request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error", exc_info=exc)
    return problem_response(
        ServiceError("An unexpected error occurred; it has been logged."), request
    )


async def _not_modified(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotModified)
    return Response(status_code=304, headers={"ETag": exc.etag})


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(NotModified, _not_modified)
    app.add_exception_handler(Exception, _unexpected)
