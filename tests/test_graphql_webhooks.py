"""Webhook endpoints and events over GraphQL: the same rules as REST."""

from __future__ import annotations

from fastapi import FastAPI

from tests.conftest import Tenant, emit
from tests.test_graphql import data
from tests.test_graphql_mutations import RESULT, mutate

CREATE = f"""mutation($input: CreateWebhookEndpointInput!) {{
    createWebhookEndpoint(input: $input) {{ {RESULT}
    ... on CreateWebhookEndpointPayload {{ secret webhookEndpoint {{ id url eventTypes etag }} }}
    }} }}"""
UPDATE = f"""mutation($id: UUID!, $input: UpdateWebhookEndpointInput!, $ifMatch: String) {{
    updateWebhookEndpoint(id: $id, input: $input, ifMatch: $ifMatch) {{ {RESULT}
    ... on WebhookEndpointPayload {{ webhookEndpoint {{ eventTypes description }} }} }} }}"""
DISABLE = f"""mutation($id: UUID!) {{ setWebhookEndpointDisabled(id: $id, disabled: true) {{
    {RESULT} ... on WebhookEndpointPayload {{ webhookEndpoint {{ disabled disabledReason }} }}
    }} }}"""
ROTATE = f"""mutation($id: UUID!) {{ rotateWebhookSecret(id: $id, gracePeriodSeconds: 60) {{
    {RESULT} ... on RotateWebhookSecretPayload {{ secret previousExpiresAt }} }} }}"""
DELETE = f"""mutation($id: UUID!) {{ deleteWebhookEndpoint(id: $id) {{ {RESULT}
    ... on DeleteWebhookEndpointPayload {{ id }} }} }}"""
ENDPOINTS = "{ webhookEndpoints { edges { node { id url disabled } } } }"
EVENTS = """query($type: String) { events(type: $type) { edges { cursor node { id type body } }
    pageInfo { hasNextPage endCursor } } }"""

URL = "http://127.0.0.1:9/hook"


async def test_endpoint_mutations(tenant: Tenant) -> None:
    created = await mutate(tenant, CREATE, input={"url": URL, "eventTypes": ["kpi.*"]})
    assert created["__typename"] == "CreateWebhookEndpointPayload", created
    assert created["secret"].startswith("whsec_")
    endpoint_id = created["webhookEndpoint"]["id"]
    updated = await mutate(
        tenant, UPDATE, id=endpoint_id, input={"description": "ops", "eventTypes": []}
    )
    assert updated["webhookEndpoint"] == {"eventTypes": [], "description": "ops"}
    stale = await mutate(tenant, UPDATE, id=endpoint_id, input={}, ifMatch='"0"')
    assert stale["__typename"] == "PreconditionFailedError"
    rotated = await mutate(tenant, ROTATE, id=endpoint_id)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    disabled = await mutate(tenant, DISABLE, id=endpoint_id)
    assert disabled["webhookEndpoint"] == {"disabled": True, "disabledReason": "manual"}
    listed = (await data(tenant, ENDPOINTS))["webhookEndpoints"]["edges"]
    assert [e["node"]["id"] for e in listed] == [endpoint_id]
    assert (await mutate(tenant, DELETE, id=endpoint_id))["id"] == endpoint_id
    assert (await data(tenant, ENDPOINTS))["webhookEndpoints"]["edges"] == []


async def test_bad_urls_and_missing_scope_are_typed_errors(tenant: Tenant) -> None:
    private = await mutate(tenant, CREATE, input={"url": "https://10.0.0.1/"})
    assert private["__typename"] == "ValidationError"
    writer = await tenant.key_with("write")
    refused = await mutate(writer, CREATE, input={"url": URL})
    assert refused["__typename"] == "ForbiddenError"
    assert (await data(tenant, ENDPOINTS))["webhookEndpoints"]["edges"] == []


async def test_events_are_listed_per_organization(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    ids = await emit(app, tenant.organization_id, "kpi.breached", count=2)
    await emit(app, other_tenant.organization_id, "kpi.breached", count=3)
    await emit(app, tenant.organization_id, "objective.created")
    events = (await data(tenant, EVENTS, {"type": "kpi.*"}))["events"]
    assert [e["node"]["id"] for e in events["edges"]] == ids
    assert events["edges"][0]["node"]["body"]["type"] == "kpi.breached"
    others = await mutate(other_tenant, ENDPOINTS)
    assert others["edges"] == []
