"""SCIM 2.0 endpoints at ``/scim/v2``: thin handlers over ``service.scim.service``.

Bodies are read as raw JSON (identity providers send shapes no Pydantic model would
accept as-is) and answered as ``application/scim+json``; errors use the SCIM error schema
(see ``api/problems.py``). Not part of the OpenAPI document: SCIM is specified by RFC 7644.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response, status

from service.api.deps import ScimPrincipal, SessionDep
from service.api.problems import ScimResponse
from service.api.uow import UnitOfWorkRoute
from service.errors import BadRequest, NotFound
from service.scim import service
from service.scim.discovery import (
    LIST_RESPONSE,
    RESOURCE_TYPES,
    SCHEMAS,
    SERVICE_PROVIDER,
    with_base,
)
from service.scim.query import Query

PREFIX = "/scim/v2"
router = APIRouter(prefix=PREFIX, route_class=UnitOfWorkRoute, include_in_schema=False)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise BadRequest("The body is not valid JSON.", scim_type="invalidSyntax") from exc


def _listing(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(documents),
        "startIndex": 1,
        "itemsPerPage": len(documents),
        "Resources": documents,
    }


def _created(resource: dict[str, Any]) -> ScimResponse:
    location = resource["meta"]["location"]
    return ScimResponse(resource, status_code=201, headers={"Location": location})


# ---- discovery --------------------------------------------------------------------------


@router.get("/ServiceProviderConfig")
async def service_provider_config(principal: ScimPrincipal, request: Request) -> ScimResponse:
    service.discover(principal)
    return ScimResponse(with_base(SERVICE_PROVIDER, _base(request)))


@router.get("/ResourceTypes")
async def resource_types(principal: ScimPrincipal, request: Request) -> ScimResponse:
    service.discover(principal)
    base = _base(request)
    return ScimResponse(_listing([with_base(r, base) for r in RESOURCE_TYPES.values()]))


@router.get("/ResourceTypes/{name}")
async def resource_type(principal: ScimPrincipal, request: Request, name: str) -> ScimResponse:
    service.discover(principal)
    if name not in RESOURCE_TYPES:
        raise NotFound(f"There is no resource type {name}.")
    return ScimResponse(with_base(RESOURCE_TYPES[name], _base(request)))


@router.get("/Schemas")
async def schemas(principal: ScimPrincipal, request: Request) -> ScimResponse:
    service.discover(principal)
    base = _base(request)
    return ScimResponse(_listing([with_base(s, base) for s in SCHEMAS.values()]))


@router.get("/Schemas/{urn}")
async def schema(principal: ScimPrincipal, request: Request, urn: str) -> ScimResponse:
    service.discover(principal)
    if urn not in SCHEMAS:
        raise NotFound(f"There is no schema {urn}.")
    return ScimResponse(with_base(SCHEMAS[urn], _base(request)))


@router.post("/.search")
async def search(session: SessionDep, principal: ScimPrincipal, request: Request) -> Response:
    query = _search(await _body(request))
    return ScimResponse(await service.search_all(session, principal, query, _base(request)))


# ---- Users ------------------------------------------------------------------------------


@router.get("/Users")
async def list_users(session: SessionDep, principal: ScimPrincipal, request: Request) -> Response:
    query = Query.of(dict(request.query_params))
    return ScimResponse(await service.list_users(session, principal, query, _base(request)))


@router.post("/Users/.search")
async def search_users(session: SessionDep, principal: ScimPrincipal, request: Request) -> Response:
    query = _search(await _body(request))
    return ScimResponse(await service.list_users(session, principal, query, _base(request)))


@router.post("/Users")
async def create_user(session: SessionDep, principal: ScimPrincipal, request: Request) -> Response:
    body = await _body(request)
    return _created(await service.create_user(session, principal, body, _base(request)))


@router.get("/Users/{ident}")
async def get_user(
    session: SessionDep, principal: ScimPrincipal, request: Request, ident: str
) -> Response:
    query = Query.of(dict(request.query_params))
    user = await service.get_user(session, principal, ident, _base(request))
    return ScimResponse(query.shape(user))


@router.put("/Users/{ident}")
async def replace_user(
    session: SessionDep, principal: ScimPrincipal, request: Request, ident: str
) -> Response:
    body = await _body(request)
    return ScimResponse(await service.replace_user(session, principal, ident, body, _base(request)))


@router.patch("/Users/{ident}")
async def patch_user(
    session: SessionDep, principal: ScimPrincipal, request: Request, ident: str
) -> Response:
    body = await _body(request)
    return ScimResponse(await service.patch_user(session, principal, ident, body, _base(request)))


@router.delete("/Users/{ident}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(session: SessionDep, principal: ScimPrincipal, ident: str) -> Response:
    await service.delete_user(session, principal, ident)
    return Response(status_code=204)


# ---- Groups -----------------------------------------------------------------------------


@router.get("/Groups")
async def list_groups(session: SessionDep, principal: ScimPrincipal, request: Request) -> Response:
    query = Query.of(dict(request.query_params))
    return ScimResponse(await service.list_groups(session, principal, query, _base(request)))


@router.post("/Groups/.search")
async def search_groups(
    session: SessionDep, principal: ScimPrincipal, request: Request
) -> Response:
    query = _search(await _body(request))
    return ScimResponse(await service.list_groups(session, principal, query, _base(request)))


@router.post("/Groups")
async def create_group(session: SessionDep, principal: ScimPrincipal, request: Request) -> Response:
    body = await _body(request)
    return _created(await service.create_group(session, principal, body, _base(request)))


@router.get("/Groups/{ident}")
async def get_group(
    session: SessionDep, principal: ScimPrincipal, request: Request, ident: str
) -> Response:
    query = Query.of(dict(request.query_params))
    group = await service.get_group(session, principal, ident, _base(request), query)
    return ScimResponse(query.shape(group))


@router.put("/Groups/{ident}")
async def replace_group(
    session: SessionDep, principal: ScimPrincipal, request: Request, ident: str
) -> Response:
    body = await _body(request)
    group = await service.replace_group(session, principal, ident, body, _base(request))
    return ScimResponse(group)


@router.patch("/Groups/{ident}")
async def patch_group(
    session: SessionDep, principal: ScimPrincipal, request: Request, ident: str
) -> Response:
    body = await _body(request)
    return ScimResponse(await service.patch_group(session, principal, ident, body, _base(request)))


@router.delete("/Groups/{ident}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(session: SessionDep, principal: ScimPrincipal, ident: str) -> Response:
    await service.delete_group(session, principal, ident)
    return Response(status_code=204)


def _search(body: Any) -> Query:
    if not isinstance(body, dict):
        raise BadRequest("A SearchRequest is a JSON object.", scim_type="invalidSyntax")
    return Query.of(body)
