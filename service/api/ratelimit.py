"""Rate limiting per API key: token buckets held in each server process.

Every authenticated request takes one token from its key's bucket; a bucket holds at most
``burst`` tokens and refills at ``rate`` tokens a second. An empty bucket refuses the request
with ``429`` and ``Retry-After`` (the seconds until one token is back). Every keyed response,
allowed or not, carries the fields of draft-ietf-httpapi-ratelimit-headers-06:

* ``RateLimit-Limit``: the bucket's size (the burst);
* ``RateLimit-Remaining``: whole tokens left after this request;
* ``RateLimit-Reset``: seconds until the bucket is full again;
* ``RateLimit-Policy``: ``{burst};w={seconds to refill it}``.

Posting readings (``POST .../readings``) draws from a second, larger bucket of the same key,
so a sync job that sends readings one request at a time neither starves that key's reads
nor is starved by them. A batch counts as one request whatever its size: it costs the server
about one statement, and its size is bounded by the batch and body limits. A GraphQL request
is one request of the default bucket, whatever its operations (its cost is bounded by the
depth, alias and token limits).

Why per process: the check costs well under a microsecond, needs no connection and keeps
working while the database it protects is slow. ``meridian serve --workers N`` tells each
worker N (``MERIDIAN_WORKERS``), and each divides the rate and the burst by it, so the
sum over the workers is the configured limit. CONTRIBUTING.md has the measurements and the
trade-off (a client on one keep-alive connection meets one worker's share).

Requests without a key, or with a bad one, are not keyed (they end in 401 before a bucket is
looked up), and neither are the health, readiness and metrics endpoints, which take no key.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from fastapi import Request

from service.auth.keys import Principal
from service.config import Settings
from service.errors import TooManyRequests


@dataclass(frozen=True)
class Policy:
    """A bucket's shape: ``burst`` tokens at most, refilled at ``rate`` a second."""

    name: str
    rate: float
    burst: float

    @property
    def window(self) -> int:
        """Seconds an empty bucket takes to fill."""
        return max(1, math.ceil(self.burst / self.rate))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: Policy
    tokens: float  # left after this request (before it, when refused)

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.tokens))

    @property
    def reset(self) -> int:
        return max(0, math.ceil((self.policy.burst - self.tokens) / self.policy.rate))

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil((1 - self.tokens) / self.policy.rate))

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(math.floor(self.policy.burst)),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{math.floor(self.policy.burst)};w={self.policy.window}",
        }


@dataclass
class _Bucket:
    tokens: float
    at: float
    policy: Policy

    def full_at(self, now: float) -> bool:
        return self.tokens + (now - self.at) * self.policy.rate >= self.policy.burst


class TokenBuckets:
    """Buckets by key; a pure structure driven by explicit instants (``now`` in seconds)."""

    # A full bucket is the same as no bucket, so idle ones are dropped past this many.
    SWEEP_ABOVE = 10_000

    def __init__(self) -> None:
        self._buckets: dict[tuple[uuid.UUID, str], _Bucket] = {}

    def take(self, key: uuid.UUID, policy: Policy, now: float, cost: float = 1.0) -> Decision:
        bucket = self._buckets.get((key, policy.name))
        if bucket is None:
            if len(self._buckets) >= self.SWEEP_ABOVE:
                self._sweep(now)
            bucket = self._buckets[(key, policy.name)] = _Bucket(policy.burst, now, policy)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(policy.burst, bucket.tokens + elapsed * policy.rate)
        bucket.at = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return Decision(True, policy, bucket.tokens)
        return Decision(False, policy, bucket.tokens)

    def _sweep(self, now: float) -> None:
        for k in [k for k, b in self._buckets.items() if b.full_at(now)]:
            del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimiter:
    """The app's limiter: the policies from the settings and this process's buckets."""

    def __init__(self, default: Policy, ingest: Policy, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.default = default
        self.ingest = ingest
        self.buckets = TokenBuckets()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        share = settings.workers  # each process enforces its share of the limit

        def policy(name: str, rate: float, burst: float) -> Policy:
            return Policy(name, rate / share, max(1.0, burst / share))

        return cls(
            policy("default", settings.rate_limit_per_second, settings.rate_limit_burst),
            policy(
                "ingest", settings.rate_limit_ingest_per_second, settings.rate_limit_ingest_burst
            ),
            enabled=settings.rate_limit_enabled,
        )

    def policy_for(self, request: Request) -> Policy:
        if request.method == "POST" and request.url.path.endswith("/readings"):
            return self.ingest
        return self.default

    def check(self, request: Request, principal: Principal) -> None:
        """Take a token for this request; 429 when the key's bucket is empty."""
        if not self.enabled:
            return
        decision = self.buckets.take(
            principal.api_key_id, self.policy_for(request), time.monotonic()
        )
        request.state.rate_limit = decision
        if not decision.allowed:
            # The numbers are this process's share: what the client's connection meets.
            raise TooManyRequests(
                f"This API key is over its rate limit ({decision.policy.rate:g} requests a "
                f"second, bursts of {decision.policy.burst:g}, on this server process); retry "
                f"after {decision.retry_after} s.",
                retry_after=decision.retry_after,
            )


def response_headers(state: dict[str, object]) -> list[tuple[bytes, bytes]]:
    """The RateLimit-* fields for a response whose request was keyed, else none."""
    decision = state.get("rate_limit")
    if not isinstance(decision, Decision):
        return []
    return [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]
