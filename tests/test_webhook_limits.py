"""Per-endpoint delivery limits: ``max_in_flight`` (messages being sent at once, by all
dispatchers together) and ``throttle_rate`` (messages a second). Held-back messages are
delayed, never dropped."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

from fastapi import FastAPI

from service.webhooks.dispatcher import Dispatcher, DispatcherConfig
from tests.conftest import Tenant, dispatching, emit
from tests.receiver import Received, Receiver, Reply
from tests.test_graphql_mutations import RESULT, mutate


async def test_limits_default_and_are_read_back_changed_and_cleared(tenant: Tenant) -> None:
    plain = await tenant.create("/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/a"})
    assert (plain["max_in_flight"], plain["throttle_rate"]) == (4, None)
    limited = await tenant.create(
        "/v1/webhook-endpoints",
        {"url": "http://127.0.0.1:9/b", "max_in_flight": 1, "throttle_rate": 20},
    )
    assert (limited["max_in_flight"], limited["throttle_rate"]) == (1, 20)
    url = f"/v1/webhook-endpoints/{limited['id']}"
    changed = await tenant.patch(url, json={"max_in_flight": 10, "throttle_rate": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["max_in_flight"], changed.json()["throttle_rate"]) == (10, None)
    read = (await tenant.get(url)).json()
    assert (read["max_in_flight"], read["throttle_rate"]) == (10, None)


async def test_limits_out_of_range_are_refused(tenant: Tenant) -> None:
    for limits in (
        {"max_in_flight": 0},
        {"max_in_flight": 1001},
        {"throttle_rate": 0},
        {"throttle_rate": 10_001},
        {"throttle_rate": 1.5},
        {"max_in_flight": "4"},
    ):
        body = {"url": "http://127.0.0.1:9/a", **limits}
        response = await tenant.post("/v1/webhook-endpoints", json=body)
        assert response.status_code == 422, (limits, response.text)
    listed = (await tenant.get("/v1/webhook-endpoints")).json()["items"]
    assert listed == []


async def test_graphql_sets_and_reads_the_limits(tenant: Tenant) -> None:
    create = f"""mutation($input: CreateWebhookEndpointInput!) {{
        createWebhookEndpoint(input: $input) {{ {RESULT} ... on CreateWebhookEndpointPayload
        {{ webhookEndpoint {{ id maxInFlight throttleRate }} }} }} }}"""
    update = f"""mutation($id: UUID!, $input: UpdateWebhookEndpointInput!) {{
        updateWebhookEndpoint(id: $id, input: $input) {{ {RESULT} ... on WebhookEndpointPayload
        {{ webhookEndpoint {{ maxInFlight throttleRate }} }} }} }}"""
    created = await mutate(
        tenant, create, input={"url": "http://127.0.0.1:9/g", "maxInFlight": 2, "throttleRate": 7}
    )
    node = created["webhookEndpoint"]
    assert (node["maxInFlight"], node["throttleRate"]) == (2, 7)
    updated = await mutate(
        tenant, update, id=node["id"], input={"throttleRate": None, "maxInFlight": 3}
    )
    assert updated["webhookEndpoint"] == {"maxInFlight": 3, "throttleRate": None}
    refused = await mutate(tenant, update, id=node["id"], input={"maxInFlight": 0})
    assert refused["__typename"] != "WebhookEndpointPayload", refused


async def test_two_dispatchers_never_exceed_an_endpoints_max_in_flight(
    app: FastAPI,
    tenant: Tenant,
    dispatcher: Dispatcher,
    dispatcher_config: DispatcherConfig,
    database_url: str,
) -> None:
    def slow(_: Received) -> Reply:
        return Reply(200, delay=0.15)

    async with Receiver(slow) as receiver:
        await tenant.create("/v1/webhook-endpoints", {"url": receiver.url, "max_in_flight": 2})
        ids = await emit(app, tenant.organization_id, "kpi.breached", count=12)
        async with AsyncExitStack() as stack:
            other = await stack.enter_async_context(Dispatcher(dispatcher.dsn, dispatcher_config))
            await stack.enter_async_context(dispatching(dispatcher))
            await stack.enter_async_context(dispatching(other))
            await receiver.wait_for(12, within=30)
    assert sorted(receiver.ids()) == sorted(ids)  # delayed, none dropped
    assert receiver.max_concurrent == 2  # both slots used, never a third


async def test_throttle_rate_spaces_deliveries_out(
    app: FastAPI, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    async with Receiver() as receiver:
        await tenant.create(
            "/v1/webhook-endpoints",
            {"url": receiver.url, "throttle_rate": 10, "max_in_flight": 100},
        )
        await emit(app, tenant.organization_id, "kpi.breached", count=30)
        started = time.monotonic()
        async with dispatching(dispatcher):
            received = await receiver.wait_for(30, within=30)
    arrivals = [r.at - started for r in received]
    # A full bucket (one second's worth, 10) at once, then 10 a second: the 30th about
    # 2 s in. Within a tolerance, and never faster than the rate.
    assert 1.8 <= arrivals[-1] <= 4.0, arrivals
    assert sum(1 for at in arrivals if at < 0.5) <= 16, arrivals  # 10 + 0.5 s of refill
    for n in range(10, 30):
        assert arrivals[n] >= (n - 10) / 10 - 0.05, (n, arrivals)
