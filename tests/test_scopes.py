"""Scope and tenant matrices generated from the app itself.

REST: every route declares its scope with a ``ScopeGuard`` dependency (``ReadPrincipal``,
``WritePrincipal``, ... in ``service/api/deps.py``). The matrix reads that declaration off
each route and, for a key of every scope, expects exactly what ``IMPLIED_SCOPES`` says: a
403 problem when the key lacks it, anything but 403 when it has it (so the service's own
check agrees with the route's).

GraphQL: every Query and Mutation field of the schema needs an entry in ``GRAPHQL`` naming
its REST twin (the operation that calls the same service function); the field's scope is
the twin's declared one. Another organization's ids must answer exactly like random ids and
change nothing, lists never show another organization's rows, and keys of every scope are
refused or served as the twin's declaration says. A field or route added later without an
entry (or without a declared scope) makes these tests fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.api.deps import ScopeGuard
from service.auth.keys import Scope, effective_scopes
from service.config import Settings
from tests.conftest import Tenant
from tests.test_auth import FACTORIES, SAMPLE_BODIES, World, build_world, params_of

Json = dict[str, Any]


# ---- REST ------------------------------------------------------------------------------------


def _routes(app: FastAPI) -> list[Any]:
    try:
        from fastapi.routing import iter_route_contexts

        return list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: routes are already flat
        return list(app.routes)


def declared_scopes(route: Any) -> list[Scope]:
    """The scopes a route's dependencies declare (``ScopeGuard`` anywhere in the tree)."""
    found: list[Scope] = []

    def walk(dependant: Any) -> None:
        if isinstance(dependant.call, ScopeGuard):
            found.append(dependant.call.scope)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


@dataclass(frozen=True)
class RestRoute:
    method: str
    path: str
    operation_id: str | None
    scopes: tuple[Scope, ...]


def rest_routes(app: FastAPI) -> list[RestRoute]:
    found = {}
    for route in _routes(app):
        path = getattr(route, "path", None) or ""
        if not path.startswith(("/v1/", "/scim/v2/")):
            continue
        scopes = tuple(declared_scopes(route))
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found[(method, path)] = RestRoute(
                    method, path, getattr(route, "operation_id", None), scopes
                )
    return sorted(found.values(), key=lambda r: (r.path, r.method))


def _routes_at_import() -> list[RestRoute]:
    from service.app import create_app

    return rest_routes(create_app(Settings(database_url="postgresql+asyncpg://unused/unused")))


ROUTES = _routes_at_import()
BY_OPERATION = {r.operation_id: r for r in ROUTES if r.operation_id}

# Path parameters of SCIM routes, filled from the isolation world's rows.
SCIM_PARAMS = {"ident", "name", "urn"}


def test_every_route_declares_exactly_one_scope() -> None:
    assert len(ROUTES) >= 90, len(ROUTES)
    undeclared = [f"{r.method} {r.path}" for r in ROUTES if len(r.scopes) != 1]
    assert not undeclared, (
        "routes must take their principal as ReadPrincipal, WritePrincipal, IngestPrincipal, "
        f"AdminPrincipal or ScimPrincipal (service/api/deps.py): {undeclared}"
    )
    scim = {r.scopes for r in ROUTES if r.path.startswith("/scim/")}
    assert scim == {(Scope.SCIM,)}
    unknown = {p for r in ROUTES for p in params_of(r.path)} - FACTORIES.keys() - SCIM_PARAMS
    assert not unknown, f"add a factory for {sorted(unknown)} to tests/test_auth.py FACTORIES"


def _url(route: RestRoute, world: World) -> str:
    values = dict(world.ids)
    if "/Groups/" in route.path:
        values["ident"] = world.ids["team_id"]
    elif "/Users/" in route.path:
        values["ident"] = world.ids["person_id"]
    values["name"] = "User"
    values["urn"] = "urn:ietf:params:scim:schemas:core:2.0:User"
    return route.path.format(**values)


def _body(route: RestRoute) -> Json:
    kwargs: Json = {"headers": {"If-Match": "*"}}
    if (route.method, route.path) in SAMPLE_BODIES:
        kwargs["json"] = SAMPLE_BODIES[(route.method, route.path)]
    elif route.method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return kwargs


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    if response.request.url.path.startswith("/scim/"):
        assert response.headers["content-type"].startswith("application/scim+json")
        assert body["status"] == "403", body
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["status"] == 403 and body["code"] == "forbidden", body


@pytest.mark.parametrize("scope", list(Scope), ids=[str(s) for s in Scope])
async def test_rest_scope_matrix(tenant: Tenant, scope: Scope) -> None:
    """A key with only ``scope`` is refused with 403 exactly where the route's declared scope
    is not implied by it; elsewhere it gets past authorization (any status but 403)."""
    world = await build_world(tenant, set(FACTORIES))
    key = await tenant.key_with(str(scope))
    granted = effective_scopes([str(scope)])
    # Refusals first, while every row exists; then the allowed calls, which may delete.
    ordered = sorted(ROUTES, key=lambda r: (r.scopes[0] in granted, r.method == "DELETE"))
    failures = []
    for route in ordered:
        response = await key.request(route.method, _url(route, world), **_body(route))
        label = f"{route.method} {route.path} with a {scope} key"
        if route.scopes[0] in granted:
            if response.status_code == 403 or response.status_code >= 500:
                failures.append(f"{label}: {response.status_code} {response.text[:200]}")
        else:
            try:
                assert_forbidden(response)
            except (AssertionError, KeyError, ValueError) as exc:
                failures.append(f"{label}: expected 403, {exc}")
    assert not failures, "\n".join(failures)


# ---- GraphQL ---------------------------------------------------------------------------------

MUTATION_RESULT = "{ __typename ... on MutationError { code message } }"
Variables = Callable[[dict[str, str]], Json]


@dataclass(frozen=True)
class Field:
    """One root field: a document, its variables from a world's ids (by FACTORIES name), and
    the REST operation that calls the same service function (whose scope it shares)."""

    document: str
    variables: Variables
    twin: str
    uses: tuple[str, ...] = ()  # the ids it is given, for the isolation matrix


def _q(field: str, args: str, selection: str, params: str = "") -> str:
    head = f"query({params})" if params else "query"
    return f"{head} {{ {field}{args} {selection} }}"


def _m(field: str, args: str, params: str = "") -> str:
    head = f"mutation({params})" if params else "mutation"
    return f"{head} {{ {field}{args} {MUTATION_RESULT} }}"


def _ids(**names: str) -> Variables:
    return lambda ids: {variable: ids[name] for variable, name in names.items()}


EDGES = "{ edges { cursor } }"

GRAPHQL: dict[str, Field] = {
    # ---- Query
    "objectives": Field(
        _q(
            "objectives",
            "(first: 50, cycleId: $c, ownerId: $o, teamId: $t)",
            EDGES,
            "$c: UUID, $o: UUID, $t: UUID",
        ),
        _ids(c="cycle_id", o="person_id", t="team_id"),
        "listObjectives",
        ("cycle_id", "person_id", "team_id"),
    ),
    "objective": Field(
        _q("objective", "(id: $id)", "{ id title }", "$id: UUID!"),
        _ids(id="objective_id"),
        "getObjective",
        ("objective_id",),
    ),
    "keyResult": Field(
        _q("keyResult", "(id: $id)", "{ id title }", "$id: UUID!"),
        _ids(id="key_result_id"),
        "getKeyResult",
        ("key_result_id",),
    ),
    "alignment": Field(
        _q("alignment", "(rootId: $id)", "{ nodes { id } edges { parentId } }", "$id: UUID"),
        _ids(id="objective_id"),
        "getObjectiveTree",
        ("objective_id",),
    ),
    "cycleLint": Field(
        _q("cycleLint", "(cycleId: $id)", "{ check message }", "$id: UUID!"),
        _ids(id="cycle_id"),
        "lintCycle",
        ("cycle_id",),
    ),
    "cycles": Field(_q("cycles", "(first: 50)", EDGES), _ids(), "listCycles"),
    "cycle": Field(
        _q("cycle", "(id: $id)", "{ id name }", "$id: UUID!"),
        _ids(id="cycle_id"),
        "getCycle",
        ("cycle_id",),
    ),
    "people": Field(_q("people", "(first: 50)", EDGES), _ids(), "listPeople"),
    "person": Field(
        _q("person", "(id: $id)", "{ id displayName }", "$id: UUID!"),
        _ids(id="person_id"),
        "getPerson",
        ("person_id",),
    ),
    "teams": Field(
        _q("teams", "(first: 50, parentId: $id)", EDGES, "$id: UUID"),
        _ids(id="team_id"),
        "listTeams",
        ("team_id",),
    ),
    "team": Field(
        _q("team", "(id: $id)", "{ id name }", "$id: UUID!"),
        _ids(id="team_id"),
        "getTeam",
        ("team_id",),
    ),
    "kpis": Field(_q("kpis", "(first: 50)", EDGES), _ids(), "listKpis"),
    "kpi": Field(
        _q("kpi", "(idOrKey: $id)", "{ id key }", "$id: String!"),
        _ids(id="kpi_ref"),
        "getKpi",
        ("kpi_ref",),
    ),
    "alerts": Field(_q("alerts", "(first: 50)", EDGES), _ids(), "listAlerts"),
    "webhookEndpoints": Field(
        _q("webhookEndpoints", "(first: 50)", EDGES), _ids(), "listWebhookEndpoints"
    ),
    "events": Field(_q("events", "(first: 50)", EDGES), _ids(), "listEvents"),
    "eventDeliveries": Field(
        _q("eventDeliveries", "(eventId: $id)", "{ endpointId status }", "$id: String!"),
        _ids(id="event_id"),
        "getEvent",
        ("event_id",),
    ),
    # ---- Mutation
    "createObjective": Field(
        _m("createObjective", '(input: {title: "x", cycleId: $c})', "$c: UUID!"),
        _ids(c="cycle_id"),
        "createObjective",
        ("cycle_id",),
    ),
    "updateObjective": Field(
        _m("updateObjective", '(id: $id, input: {title: "x"})', "$id: UUID!"),
        _ids(id="objective_id"),
        "updateObjective",
        ("objective_id",),
    ),
    "createKeyResult": Field(
        _m(
            "createKeyResult",
            '(objectiveId: $id, input: {title: "KR", type: MILESTONE})',
            "$id: UUID!",
        ),
        _ids(id="objective_id"),
        "createKeyResult",
        ("objective_id",),
    ),
    "updateKeyResult": Field(
        _m("updateKeyResult", '(id: $id, input: {title: "x"})', "$id: UUID!"),
        _ids(id="key_result_id"),
        "updateKeyResult",
        ("key_result_id",),
    ),
    "recordCheckIn": Field(
        _m("recordCheckIn", "(keyResultId: $id, input: {value: 1})", "$id: UUID!"),
        _ids(id="key_result_id"),
        "createCheckIn",
        ("key_result_id",),
    ),
    "alignObjective": Field(
        _m("alignObjective", "(id: $id, input: {parentId: $p})", "$id: UUID!, $p: UUID!"),
        _ids(id="objective_id", p="parent_id"),
        "linkObjectiveParent",
        ("objective_id", "parent_id"),
    ),
    "unalignObjective": Field(
        _m("unalignObjective", "(id: $id, parentId: $p)", "$id: UUID!, $p: UUID!"),
        _ids(id="objective_id", p="parent_id"),
        "unlinkObjectiveParent",
        ("objective_id", "parent_id"),
    ),
    "linkObjectiveKpi": Field(
        _m("linkObjectiveKpi", "(id: $id, kpi: $k)", "$id: UUID!, $k: String!"),
        _ids(id="objective_id", k="kpi_ref"),
        "linkObjectiveKpi",
        ("objective_id", "kpi_ref"),
    ),
    "unlinkObjectiveKpi": Field(
        _m("unlinkObjectiveKpi", "(id: $id, kpi: $k)", "$id: UUID!, $k: String!"),
        _ids(id="objective_id", k="kpi_ref"),
        "unlinkObjectiveKpi",
        ("objective_id", "kpi_ref"),
    ),
    "rolloverCycle": Field(
        _m("rolloverCycle", "(cycleId: $c, input: {targetCycleId: $c})", "$c: UUID!"),
        _ids(c="cycle_id"),
        "rolloverCycle",
        ("cycle_id",),
    ),
    "promoteKeyResultToKpi": Field(
        _m("promoteKeyResultToKpi", '(keyResultId: $id, key: "promoted")', "$id: UUID!"),
        _ids(id="key_result_id"),
        "promoteKeyResultToKpi",
        ("key_result_id",),
    ),
    "createKpi": Field(
        _m("createKpi", '(input: {key: $k, name: "K"})', "$k: String!"),
        lambda ids: {"k": f"k-{uuid.uuid4().hex[:8]}"},
        "createKpi",
    ),
    "updateKpi": Field(
        _m("updateKpi", '(idOrKey: $k, input: {name: "x"})', "$k: String!"),
        _ids(k="kpi_ref"),
        "updateKpi",
        ("kpi_ref",),
    ),
    "deleteKpi": Field(
        _m("deleteKpi", "(idOrKey: $k)", "$k: String!"),
        _ids(k="kpi_ref"),
        "deleteKpi",
        ("kpi_ref",),
    ),
    "ingestReadings": Field(
        _m("ingestReadings", "(readings: [{kpi: $k, value: 1}], atomic: true)", "$k: String!"),
        _ids(k="kpi_ref"),
        "ingestReadings",
        ("kpi_ref",),
    ),
    "createAlertRule": Field(
        _m("createAlertRule", "(kpi: $k, input: {operator: GT, critical: 1})", "$k: String!"),
        _ids(k="kpi_ref"),
        "createAlertRule",
        ("kpi_ref",),
    ),
    "updateAlertRule": Field(
        _m("updateAlertRule", '(kpi: $k, id: $id, input: {name: "x"})', "$k: String!, $id: UUID!"),
        _ids(k="kpi_ref", id="rule_id"),
        "updateAlertRule",
        ("kpi_ref", "rule_id"),
    ),
    "deleteAlertRule": Field(
        _m("deleteAlertRule", "(kpi: $k, id: $id)", "$k: String!, $id: UUID!"),
        _ids(k="kpi_ref", id="rule_id"),
        "deleteAlertRule",
        ("kpi_ref", "rule_id"),
    ),
    "createWebhookEndpoint": Field(
        _m("createWebhookEndpoint", '(input: {url: "http://127.0.0.1:9/h"})'),
        _ids(),
        "createWebhookEndpoint",
    ),
    "updateWebhookEndpoint": Field(
        _m("updateWebhookEndpoint", '(id: $id, input: {description: "x"})', "$id: UUID!"),
        _ids(id="endpoint_id"),
        "updateWebhookEndpoint",
        ("endpoint_id",),
    ),
    "setWebhookEndpointDisabled": Field(
        _m("setWebhookEndpointDisabled", "(id: $id, disabled: true)", "$id: UUID!"),
        _ids(id="endpoint_id"),
        "disableWebhookEndpoint",
        ("endpoint_id",),
    ),
    "deleteWebhookEndpoint": Field(
        _m("deleteWebhookEndpoint", "(id: $id)", "$id: UUID!"),
        _ids(id="endpoint_id"),
        "deleteWebhookEndpoint",
        ("endpoint_id",),
    ),
    "rotateWebhookSecret": Field(
        _m("rotateWebhookSecret", "(id: $id, gracePeriodSeconds: 0)", "$id: UUID!"),
        _ids(id="endpoint_id"),
        "rotateWebhookEndpointSecret",
        ("endpoint_id",),
    ),
}


def _schema_fields() -> tuple[list[str], list[str]]:
    from service.graphql.router import schema

    graphql = schema._schema
    assert graphql.mutation_type is not None
    return list(graphql.query_type.fields), list(graphql.mutation_type.fields)


QUERIES, MUTATIONS = _schema_fields()
FIELDS = QUERIES + MUTATIONS


def field_scope(name: str) -> Scope:
    (scope,) = BY_OPERATION[GRAPHQL[name].twin].scopes
    return scope


def test_every_graphql_field_has_an_entry() -> None:
    missing = sorted(set(FIELDS) - GRAPHQL.keys())
    assert not missing, f"add {missing} to GRAPHQL in tests/test_scopes.py"
    assert not set(GRAPHQL) - set(FIELDS), sorted(set(GRAPHQL) - set(FIELDS))
    unknown_twins = {f.twin for f in GRAPHQL.values()} - BY_OPERATION.keys()
    assert not unknown_twins, unknown_twins


async def graphql(tenant: Tenant, field: str, ids: dict[str, str]) -> httpx.Response:
    entry = GRAPHQL[field]
    payload = {"query": entry.document, "variables": entry.variables(ids)}
    return await tenant.post("/graphql", json=payload)


def outcome(response: httpx.Response, field: str) -> Json:
    """What a field answered: its data and its errors' codes."""
    assert response.status_code == 200, f"{field}: {response.status_code} {response.text[:300]}"
    body = response.json()
    codes = sorted(str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or [])
    # An uncoded error is a document the schema refused: the entry in GRAPHQL is wrong, and
    # comparing two such refusals would prove nothing.
    assert "None" not in codes, f"{field}: {body}"
    return {"data": (body.get("data") or {}).get(field), "codes": codes}


def refused_for_scope(result: Json) -> bool:
    data = result["data"]
    if isinstance(data, dict) and data.get("__typename") == "ForbiddenError":
        return True
    return "forbidden" in result["codes"]


@pytest.mark.parametrize("scope", list(Scope), ids=[str(s) for s in Scope])
async def test_graphql_scope_matrix(tenant: Tenant, scope: Scope) -> None:
    world = await build_world(tenant, set(FACTORIES))
    key = await tenant.key_with(str(scope))
    granted = effective_scopes([str(scope)])
    # Refusals first, while every row exists; then the allowed calls, deletions last.
    ordered = sorted(
        FIELDS, key=lambda f: (field_scope(f) in granted, f.startswith(("delete", "unalign")))
    )
    failures = []
    for field in ordered:
        result = outcome(await graphql(key, field, world.ids), field)
        if "internal_error" in result["codes"]:
            failures.append(f"{field} with a {scope} key: internal error")
        allowed = field_scope(field) in granted
        if allowed and refused_for_scope(result):
            failures.append(f"{field}: a {scope} key was refused: {result}")
        if allowed and field in QUERIES and (result["codes"] or result["data"] is None):
            failures.append(f"{field}: a {scope} key did not get its own data: {result}")
        if allowed and field in MUTATIONS and not (result["data"] or {}).get("__typename"):
            failures.append(f"{field}: a {scope} key got no result: {result}")
        if not allowed and not refused_for_scope(result):
            failures.append(f"{field}: a {scope} key was not refused: {result}")
        if not allowed and result["data"] not in (None, []) and field in QUERIES:
            failures.append(f"{field}: a {scope} key got data: {result}")
    assert not failures, "\n".join(failures)


def _random_ids(world: World) -> dict[str, str]:
    ids = {name: str(uuid.uuid4()) for name in world.ids}
    ids["event_id"] = f"msg_{uuid.uuid4().hex}"
    return ids


def _normalised(result: Json, used: dict[str, str]) -> str:
    text = repr(result)
    for name, value in used.items():
        text = text.replace(value, f"<{name}>")
    return text


def _stable(value: Any) -> Any:
    """A document without what moves with the clock (pace, and health that follows it)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in ("pace", "health")}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def _victim_state(victim: Tenant, world: World) -> dict[str, Any]:
    state = {}
    for name, (_, _, read_path) in FACTORIES.items():
        if read_path and name in world.ids:
            response = await victim.get(read_path.format(**world.ids))
            state[name] = (response.status_code, _stable(response.json()))
    for url in (
        f"/v1/objectives/{world.ids['objective_id']}/parents",
        f"/v1/objectives/{world.ids['objective_id']}/kpis",
        f"/v1/objectives/{world.ids['objective_id']}/key-results",
        f"/v1/key-results/{world.ids['key_result_id']}/check-ins",
        f"/v1/kpis/{world.ids['kpi_ref']}/readings",
        f"/v1/kpis/{world.ids['kpi_ref']}/alert-rules",
        "/v1/kpis",
        "/v1/objectives",
        "/v1/webhook-endpoints",
    ):
        state[url] = _stable((await victim.get(url)).json())
    return state


async def test_graphql_other_organizations_ids_answer_like_random_ids(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """For every field given ids: the victim's ids get the same answer as random ids (after
    the ids themselves are masked), no other victim id shows, and the victim's rows stay."""
    victim = await build_world(tenant, set(FACTORIES))
    await build_world(other_tenant, set(FACTORIES))  # the attacker has rows of its own
    before = await _victim_state(tenant, victim)
    secrets = set(victim.ids.values()) | {a for alts in victim.alternates.values() for a in alts}
    failures = []
    for field in FIELDS:
        entry = GRAPHQL[field]
        if not entry.uses:
            continue
        spellings = [victim.ids]
        if "kpi_ref" in entry.uses:
            spellings.append({**victim.ids, "kpi_ref": victim.alternates["kpi_ref"][0]})
        for foreign_ids in spellings:
            random_ids = _random_ids(victim)
            if foreign_ids["kpi_ref"] != victim.ids["kpi_ref"]:
                random_ids["kpi_ref"] = f"no-such-{uuid.uuid4().hex[:8]}"
            foreign = outcome(await graphql(other_tenant, field, foreign_ids), field)
            random = outcome(await graphql(other_tenant, field, random_ids), field)
            used_foreign = {n: foreign_ids[n] for n in entry.uses}
            used_random = {n: random_ids[n] for n in entry.uses}
            shown = _normalised(foreign, used_foreign)
            if shown != _normalised(random, used_random):
                failures.append(f"{field}: victim's ids {foreign} but random ids {random}")
            leaked = [s for s in secrets if s in shown]
            if leaked:
                failures.append(f"{field} leaks {leaked}: {foreign}")
            if field in QUERIES and foreign["data"] not in (None, []):
                edges = foreign["data"].get("edges") if isinstance(foreign["data"], dict) else None
                nodes = foreign["data"].get("nodes") if isinstance(foreign["data"], dict) else None
                if edges or nodes:
                    failures.append(f"{field} returned rows for another org's ids: {foreign}")
    assert not failures, "\n".join(failures)
    assert await _victim_state(tenant, victim) == before


async def test_graphql_lists_never_show_other_organizations(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """Every connection field of Query (found by its ``first`` argument), unfiltered."""
    from graphql import GraphQLList, GraphQLObjectType, get_named_type, get_nullable_type

    from service.graphql.router import schema

    def scalars(type_: GraphQLObjectType) -> str:
        """Every argument-less scalar or enum field of the node type, so a leak would show."""
        names = [
            n
            for n, f in type_.fields.items()
            if not f.args
            and not isinstance(get_nullable_type(f.type), GraphQLList)
            and not isinstance(get_named_type(f.type), GraphQLObjectType)
        ]
        return " ".join(names)

    fields = schema._schema.query_type.fields
    connections = {}
    for name, f in fields.items():
        if "first" in f.args:
            connection = get_named_type(f.type)
            assert isinstance(connection, GraphQLObjectType)
            edge = get_named_type(connection.fields["edges"].type)
            assert isinstance(edge, GraphQLObjectType)
            node = get_named_type(edge.fields["node"].type)
            assert isinstance(node, GraphQLObjectType)
            connections[name] = scalars(node)
    assert len(connections) >= 8, connections
    victim = await build_world(tenant, set(FACTORIES))
    await build_world(other_tenant, set(FACTORIES))
    secrets = set(victim.ids.values())
    shown = 0
    for name, selection in connections.items():
        query = f"{{ {name}(first: 200) {{ edges {{ node {{ {selection} }} }} }} }}"
        response = await other_tenant.post("/graphql", json={"query": query})
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        shown += len(body["data"][name]["edges"])
        for secret in secrets:
            assert secret not in response.text, f"{name} leaks {secret}"
    assert shown >= len(connections), "the attacker's own rows should show"
