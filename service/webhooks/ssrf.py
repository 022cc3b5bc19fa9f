"""Which URLs and addresses a webhook may reach (the spec's §1.8 and §4.8), without I/O
except the one resolver call, which callers inject so tests can stage DNS rebinding.

Every resolved address must pass, the connection then goes to that vetted address (no second
lookup), and a resolution error fails closed. The allowlist opens its own CIDRs and nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
MAX_URL_LENGTH = 2048

# Python's is_global misses several of these (NAT64 and 6to4 wrappers, multicast, the 6to4
# relay), so the deny list is explicit, after unwrapping IPv4-mapped addresses.
DENIED_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",  # IPv4-compatible (deprecated; ::7f00:1 is 127.0.0.1), with :: and ::1
        "::ffff:0:0:0/96",  # SIIT IPv4-translated (::ffff:0:7f00:1)
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",  # site-local (deprecated, still routed inside some networks)
        "ff00::/8",
    )
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_STRICT_IPV4 = re.compile(
    r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$"
)


class UnsafeUrl(ValueError):
    """The URL itself is unacceptable (shape, scheme, host form)."""


class BlockedAddress(ValueError):
    """The host resolves (or is) somewhere we refuse to connect; ``reason`` is dns or ssrf."""

    def __init__(self, message: str, reason: str = "ssrf_blocked") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # IDNA-normalised name, or the address without brackets
    port: int
    path: str  # path and query, as sent
    literal: IPAddress | None


def parse_allowlist(text: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())


def parse_url(url: str, *, allow_http: bool) -> Target:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(_is_control_or_space(char) for char in url):
        # urlsplit drops tabs and newlines silently, httpx refuses control characters at
        # send time: neither may decide what such a URL means.
        raise UnsafeUrl("The URL must not contain whitespace or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)  # what the sender will be given must parse there too
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeUrl("The URL cannot be parsed.") from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl(f"The URL scheme must be {' or '.join(schemes)}.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("The URL must not carry credentials.")
    if parts.fragment or url.endswith("#"):
        raise UnsafeUrl("The URL must not have a fragment.")
    host, literal = _parse_host(parts.netloc, parts.hostname)
    default_port = 443 if parts.scheme == "https" else 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port or default_port, path, literal)


def _is_control_or_space(char: str) -> bool:
    """C0, DEL and C1 controls, and any whitespace (Unicode's too)."""
    return char.isspace() or unicodedata.category(char) == "Cc"


def _parse_host(netloc: str, hostname: str | None) -> tuple[str, IPAddress | None]:
    if not hostname:
        raise UnsafeUrl("The URL has no host.")
    if netloc.startswith("["):
        if "%" in hostname:
            raise UnsafeUrl("Zone identifiers are not allowed in URLs.")
        try:
            return hostname, ipaddress.IPv6Address(hostname)
        except ValueError as exc:
            raise UnsafeUrl("Only IPv6 addresses go in brackets.") from exc
    if ":" in hostname:
        raise UnsafeUrl("IPv6 addresses must be in brackets.")
    if _STRICT_IPV4.match(hostname):
        return hostname, ipaddress.IPv4Address(hostname)
    try:
        name = hostname.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError as exc:
        raise UnsafeUrl("The host name is not a valid (IDNA) name.") from exc
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise UnsafeUrl("The host name is not a valid DNS name.")
    # 2130706433, 0x7f000001, 0177.0.0.1, 127.1: numeric forms some resolvers read as IPv4.
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise UnsafeUrl("IPv4 addresses must be written as four decimal numbers.")
    return name, None


def canonical(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_allowed(address: IPAddress, allowlist: Sequence[Network] = ()) -> bool:
    address = canonical(address)
    if any(address.version == net.version and address in net for net in allowlist):
        return True
    if any(address.version == net.version and address in net for net in DENIED_NETWORKS):
        return False
    return address.is_global


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def vetted_address(
    target: Target, resolver: Resolver, allowlist: Sequence[Network] = ()
) -> IPAddress:
    """The address to connect to; every address the name has must be allowed."""
    if target.literal is not None:
        candidates: list[IPAddress] = [target.literal]
    else:
        try:
            resolved = await resolver(target.host, target.port)
            candidates = [ipaddress.ip_address(text.split("%")[0]) for text in resolved]
        except (OSError, ValueError, UnicodeError) as exc:
            raise BlockedAddress(f"{target.host} did not resolve.", reason="dns") from exc
        if not candidates:
            raise BlockedAddress(f"{target.host} has no address.", reason="dns")
    for address in candidates:
        if not is_allowed(address, allowlist):
            raise BlockedAddress(f"{target.host} resolves to a disallowed address.")
    return canonical(candidates[0])
