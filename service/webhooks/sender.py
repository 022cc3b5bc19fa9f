"""One HTTP attempt to one endpoint: resolve, vet, connect only to the vetted address.

The URL is rewritten to the vetted IP so nothing resolves the name a second time (no DNS
rebinding window); ``Host`` and TLS SNI/certificate checks still use the endpoint's name.
Redirects are never followed and proxy variables are ignored.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from service import __version__
from service.webhooks import signing, ssrf
from service.webhooks.policy import Result

USER_AGENT = f"Meridian-Webhooks/{__version__}"


@dataclass(frozen=True)
class Outgoing:
    msg_id: str
    event_type: str
    body: bytes
    url: str
    secrets: Sequence[str]  # newest first
    attempt_number: int


@dataclass(frozen=True)
class Sent:
    result: Result
    duration_ms: int
    response_body: str | None
    error: str | None = None


@dataclass(frozen=True)
class SenderConfig:
    allowlist: tuple[ssrf.Network, ...] = ()
    allow_http: bool = False
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    response_log_bytes: int = 20_000


def new_client(config: SenderConfig, max_connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(config.total_timeout, connect=config.connect_timeout),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=50),
    )


def headers_for(message: Outgoing, timestamp: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            message.secrets, message.msg_id, timestamp, message.body
        ),
        "webhook-event-type": message.event_type,
        "webhook-attempt": str(message.attempt_number),
    }


async def send(
    client: httpx.AsyncClient,
    message: Outgoing,
    config: SenderConfig,
    resolver: ssrf.Resolver = ssrf.system_resolver,
) -> Sent:
    started = time.perf_counter()
    try:
        target = ssrf.parse_url(message.url, allow_http=config.allow_http)
        address = await asyncio.wait_for(
            ssrf.vetted_address(target, resolver, config.allowlist), config.connect_timeout
        )
    except (ssrf.UnsafeUrl, ssrf.BlockedAddress) as exc:
        reason = getattr(exc, "reason", "ssrf_blocked")
        return Sent(Result(None, reason), _ms(started), None, str(exc))
    except TimeoutError:
        return Sent(Result(None, "dns"), _ms(started), None, "DNS resolution timed out.")
    try:
        async with asyncio.timeout(config.total_timeout):
            return await _post(client, message, target, address, config, started)
    except TimeoutError:
        return Sent(Result(None, "timeout"), _ms(started), None, "The request timed out.")
    except httpx.TimeoutException as exc:
        return Sent(Result(None, "timeout"), _ms(started), None, describe(exc))
    except httpx.ConnectError as exc:
        kind = "tls" if "SSL" in str(exc) or "certificate" in str(exc) else "connect"
        return Sent(Result(None, kind), _ms(started), None, describe(exc))
    except httpx.HTTPError as exc:
        return Sent(Result(None, "protocol"), _ms(started), None, describe(exc))


async def _post(
    client: httpx.AsyncClient,
    message: Outgoing,
    target: ssrf.Target,
    address: ssrf.IPAddress,
    config: SenderConfig,
    started: float,
) -> Sent:
    host_in_url = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.literal is None else _bracketed(target)
    if target.port != default_port:
        host_header += f":{target.port}"
    headers = headers_for(message, int(time.time()))
    headers["host"] = host_header
    extensions = {"sni_hostname": target.host} if target.literal is None else {}
    request = client.build_request(
        "POST",
        f"{target.scheme}://{host_in_url}:{target.port}{target.path}",
        content=message.body,
        headers=headers,
        extensions=extensions,
    )
    response = await client.send(request, stream=True)
    try:
        body = await _read_limited(response, config.response_log_bytes)
    finally:
        await response.aclose()
    result = Result(
        response.status_code,
        retry_after=response.headers.get("retry-after"),
        delivery_directive=response.headers.get("webhook-delivery"),
    )
    return Sent(result, _ms(started), body)


def _bracketed(target: ssrf.Target) -> str:
    return f"[{target.host}]" if isinstance(target.literal, ipaddress.IPv6Address) else target.host


async def _read_limited(response: httpx.Response, limit: int) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace")


def describe(exc: BaseException) -> str:
    """The error as the attempt log stores it (its column holds 500 characters)."""
    return f"{type(exc).__name__}: {exc}"[:500]


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
