"""SSRF: URL shapes, the deny list, resolution that fails closed, the allowlist that opens
only itself, and DNS rebinding defeated by connecting to the vetted address."""

from __future__ import annotations

import ipaddress

import pytest
from fastapi import FastAPI

from service.webhooks import ssrf
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig, asyncpg_dsn
from tests.conftest import Tenant, emit
from tests.receiver import Receiver

LOOPBACK = ssrf.parse_allowlist("127.0.0.0/8")


def static(*addresses: str) -> ssrf.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def failing(host: str, port: int) -> list[str]:
    raise OSError("NXDOMAIN")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1",
        "https://[::1]",
        "https://[::1]:9876",
        "https://[0000:0000:0000:0000:0000:ffff:7f00:0001]:9854",
        "https://[::ffff:7f00:1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2002:7f00:1::]/",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://10.1.2.3/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://224.0.0.1/",
        "https://192.88.99.1/",
        "https://198.18.0.1/",
        "https://[fe80::1]/",
        "https://[fc00::1]/",
        "https://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
        "https://[::a9fe:a9fe]/",  # IPv4-compatible 169.254.169.254
        "https://[::ffff:0:7f00:1]/",  # SIIT IPv4-translated 127.0.0.1
        "https://[fec0::1]/",  # site-local
        "https://[feff::1]/",
    ],
)
async def test_reserved_addresses_are_blocked(url: str) -> None:
    target = ssrf.parse_url(url, allow_http=False)
    with pytest.raises(ssrf.BlockedAddress):
        await ssrf.vetted_address(target, failing)


@pytest.mark.parametrize(
    "url",
    [
        "https://@[::1]:9876",
        "https://1:2@[::1]:9876",
        "https://user@example.com/",
        "https://[127.0.0.1]/",
        "https://[::1%lo]/",
        "https://::1/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "http://example.com/",  # http only when the deployment allows it
        "ftp://example.com/",
        "https://example.com/#fragment",
        "https:///path",
        "https://exa mple.com/",
        "https://" + "a" * 2100 + ".com/",
        "https://example.com/hook\x01",  # httpx refused it only at send time
        "https://example.com/hook\x00",
        "https://example.com/hook\x7f",
        "https://example.com/ho ok",
        "https://example.com/hook\t",  # urlsplit drops tabs and newlines silently
        "https://exa\nmple.com/hook",
        "https://example.com/hook?a=\r\n",
        "https://example.com/hook\x85",  # C1 control
        "https://example.com/hook\u2028",  # Unicode line separator
        "https://example.com/hook\u3000",  # ideographic space
        "https://[::1]]/",  # urlsplit takes it, httpx does not
    ],
)
def test_loose_url_forms_are_refused(url: str) -> None:
    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.parse_url(url, allow_http=False)


async def test_public_addresses_and_names_pass() -> None:
    target = ssrf.parse_url("https://8.8.8.8/hook", allow_http=False)
    assert await ssrf.vetted_address(target, failing) == ipaddress.ip_address("8.8.8.8")
    named = ssrf.parse_url("https://Hooks.Example.COM:8443/a?b=c", allow_http=False)
    assert (named.host, named.port, named.path) == ("hooks.example.com", 8443, "/a?b=c")
    assert await ssrf.vetted_address(named, static("93.184.216.34")) == ipaddress.ip_address(
        "93.184.216.34"
    )
    idn = ssrf.parse_url("https://bücher.example/", allow_http=False)
    assert idn.host == "xn--bcher-kva.example"


async def test_every_resolved_address_must_pass() -> None:
    target = ssrf.parse_url("https://mixed.example/", allow_http=False)
    with pytest.raises(ssrf.BlockedAddress):
        await ssrf.vetted_address(target, static("93.184.216.34", "10.0.0.1"))


async def test_resolution_failure_fails_closed() -> None:
    target = ssrf.parse_url("https://nowhere.example/", allow_http=False)
    with pytest.raises(ssrf.BlockedAddress) as raised:
        await ssrf.vetted_address(target, failing)
    assert raised.value.reason == "dns"
    with pytest.raises(ssrf.BlockedAddress):
        await ssrf.vetted_address(target, static())


async def test_the_allowlist_opens_its_cidrs_and_nothing_else() -> None:
    local = ssrf.parse_url("http://127.0.0.1:8080/", allow_http=True)
    assert await ssrf.vetted_address(local, failing, LOOPBACK)
    for other in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(ssrf.BlockedAddress):
            await ssrf.vetted_address(ssrf.parse_url(other, allow_http=True), failing, LOOPBACK)
    mapped = ssrf.parse_url("http://[::ffff:127.0.0.1]/", allow_http=True)
    assert await ssrf.vetted_address(mapped, failing, LOOPBACK) == ipaddress.ip_address("127.0.0.1")


def test_the_deny_list_covers_deprecated_ipv6_forms_of_internal_addresses() -> None:
    for text in ("::7f00:1", "::a00:1", "::ffff:0:7f00:1", "::ffff:0:a9fe:a9fe", "fec0::1"):
        assert not ssrf.is_allowed(ipaddress.ip_address(text)), text
    for text in ("2606:4700:4700::1111", "8.8.8.8", "::ffff:8.8.8.8"):
        assert ssrf.is_allowed(ipaddress.ip_address(text)), text


async def test_registration_refuses_urls_with_control_characters_or_whitespace(
    tenant: Tenant,
) -> None:
    """REST and GraphQL, creating and changing: 422, and nothing is stored."""
    good = "http://127.0.0.1:9/hook"
    created = await tenant.create("/v1/webhook-endpoints", {"url": good})
    # Inside: the schema strips whitespace around the URL.
    for url in (good + "\u0001", good + "\u007f", good + "/a b", good + "/a\u2028b"):
        response = await tenant.post("/v1/webhook-endpoints", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert "control characters" in response.text
        patched = await tenant.patch(
            f"/v1/webhook-endpoints/{created['id']}",
            json={"url": url},
            headers={"If-Match": "*"},
        )
        assert patched.status_code == 422, (url, patched.text)
        mutation = """mutation($input: CreateWebhookEndpointInput!) {
            createWebhookEndpoint(input: $input) { __typename } }"""
        answer = await tenant.post(
            "/graphql", json={"query": mutation, "variables": {"input": {"url": url}}}
        )
        assert answer.json()["data"]["createWebhookEndpoint"]["__typename"] == "ValidationError"
    listed = (await tenant.get("/v1/webhook-endpoints")).json()["items"]
    assert [e["url"] for e in listed] == [good]


async def test_registration_refuses_private_and_unresolvable_urls(tenant: Tenant) -> None:
    for url in ("http://10.0.0.1/hook", "https://169.254.169.254/", "https://0x7f000001/"):
        response = await tenant.post("/v1/webhook-endpoints", json={"url": url})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await tenant.post(
        "/v1/webhook-endpoints", json={"url": "https://does-not-exist.invalid/hook"}
    )
    assert response.status_code == 422
    assert "resolve" in response.text
    assert (await tenant.get("/v1/webhook-endpoints")).json()["items"] == []


async def test_dns_rebinding_is_blocked_at_send_time(
    app: FastAPI, tenant: Tenant, settings: object, database_url: str
) -> None:
    """Registration saw a public address; at send time the name points inside: blocked, and
    nothing reaches the receiver."""
    public = static("93.184.216.34")
    app.state.url_policy = app.state.url_policy.__class__(
        allow_http=True, allowlist=(), resolver=public
    )
    async with Receiver() as receiver:
        url = f"http://rebind.example:{receiver.port}/hook"
        created = await tenant.create("/v1/webhook-endpoints", {"url": url})
        config = DispatcherConfig.from_settings(
            settings.model_copy(update={"webhook_allowed_networks": ""})  # type: ignore[attr-defined]
        )
        dsn = asyncpg_dsn(database_url)
        async with Dispatcher(dsn, config, resolver=static("127.0.0.1")) as dispatcher:
            await emit(app, tenant.organization_id, "kpi.breached")
            assert await dispatcher.dispatch_once() == 1
    assert receiver.received == []
    [attempt] = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}/attempts")).json()[
        "items"
    ]
    assert attempt["error_class"] == "ssrf_blocked"
    assert attempt["outcome"] == "failed"  # no retries until the URL changes


async def test_the_connection_goes_to_the_vetted_address_with_the_name_as_host(
    app: FastAPI, tenant: Tenant, settings: object, database_url: str
) -> None:
    """The name never resolves anywhere real: delivery works only because we connect to the
    address we vetted, sending the name in ``Host``."""
    app.state.url_policy = app.state.url_policy.__class__(
        allow_http=True, allowlist=LOOPBACK, resolver=static("127.0.0.1")
    )
    async with Receiver() as receiver:
        url = f"http://hooks.customer.example:{receiver.port}/hook"
        await tenant.create("/v1/webhook-endpoints", {"url": url})
        config = DispatcherConfig.from_settings(settings)  # type: ignore[arg-type]
        dsn = asyncpg_dsn(database_url)
        async with Dispatcher(dsn, config, resolver=static("127.0.0.1")) as dispatcher:
            await emit(app, tenant.organization_id, "kpi.breached")
            await dispatcher.dispatch_once()
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.customer.example:{receiver.port}"
