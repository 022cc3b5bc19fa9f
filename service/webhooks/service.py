"""Webhook endpoints: registration (vetted against SSRF), secrets, enable/disable, test sends,
recovery and the delivery log. Every operation needs the ``admin`` scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.api.etag import check_if_match
from service.auth.keys import Principal, Scope
from service.auth.service import require
from service.common.pagination import PageRequest, split_page
from service.errors import Conflict, NotFound, ValidationFailed, refuse_nulls
from service.events.outbox import record_event
from service.models import WebhookAttempt, WebhookEndpoint
from service.models.base import utcnow
from service.webhooks import repository, signing, ssrf
from service.webhooks.schemas import (
    RecoverRequest,
    SecretRotate,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
)
from service.webhooks.secret_box import SecretBox

# What an endpoint always has: an update's null for one of these is a 422, REST's PATCH and
# GraphQL's updateWebhookEndpoint alike (all event types is `[]`, not null). The others take
# null: `description` to clear it, `throttle_rate` to remove the limit.
NOT_NULL = ("url", "event_types", "max_in_flight")
MAX_RECOVER_WINDOW = timedelta(days=14)
MAX_RECOVER_MESSAGES = 10_000


@dataclass(frozen=True)
class UrlPolicy:
    """How endpoint URLs are vetted at registration (the dispatcher vets again at send)."""

    allow_http: bool = False
    allowlist: tuple[ssrf.Network, ...] = ()
    resolver: ssrf.Resolver = field(default=ssrf.system_resolver)


async def vet_url(url: str, policy: UrlPolicy) -> str:
    try:
        target = ssrf.parse_url(url, allow_http=policy.allow_http)
        await ssrf.vetted_address(target, policy.resolver, policy.allowlist)
    except ssrf.UnsafeUrl as exc:
        raise ValidationFailed.on("url", str(exc)) from exc
    except ssrf.BlockedAddress as exc:
        message = (
            "The host does not resolve."
            if exc.reason == "dns"
            else "The URL points at a private, loopback or otherwise reserved address."
        )
        raise ValidationFailed.on("url", message) from exc
    return url


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    data: WebhookEndpointCreate,
    policy: UrlPolicy,
    box: SecretBox,
) -> tuple[WebhookEndpoint, str]:
    require(principal, Scope.ADMIN)
    url = await vet_url(data.url, policy)
    secret = _caller_secret(data.secret, "secret") if data.secret else signing.generate_secret()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        url=url,
        description=data.description,
        event_types=_unique(data.event_types),
        disabled=data.disabled,
        disabled_reason="manual" if data.disabled else None,
        max_in_flight=data.max_in_flight,
        throttle_rate=data.throttle_rate,
    )
    await repository.add_endpoint(session, endpoint, box.seal(secret, endpoint.id))
    return endpoint, secret


async def list_endpoints(
    session: AsyncSession, principal: Principal, page: PageRequest, disabled: bool | None
) -> tuple[list[WebhookEndpoint], str | None]:
    require(principal, Scope.ADMIN)
    rows = await repository.list_endpoints(session, principal.organization_id, page, disabled)
    return split_page(rows, page)


async def get_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, *, for_update: bool = False
) -> WebhookEndpoint:
    require(principal, Scope.ADMIN)
    endpoint = await repository.get_endpoint(
        session, principal.organization_id, endpoint_id, for_update=for_update
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    if_match: str | None,
    policy: UrlPolicy,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, principal, endpoint_id, for_update=True)
    check_if_match(if_match, endpoint)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, NOT_NULL)
    if "url" in changes:
        endpoint.url = await vet_url(changes["url"], policy)
    if "description" in changes:
        endpoint.description = changes["description"]
    if "event_types" in changes:
        endpoint.event_types = _unique(changes["event_types"])
    if "max_in_flight" in changes:
        endpoint.max_in_flight = changes["max_in_flight"]
    if "throttle_rate" in changes and changes["throttle_rate"] != endpoint.throttle_rate:
        endpoint.throttle_rate = changes["throttle_rate"]
        endpoint.throttle_tokens = endpoint.throttle_at = None  # a new rate starts full
    await session.flush()
    return endpoint


async def delete_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, if_match: str | None
) -> None:
    endpoint = await get_endpoint(session, principal, endpoint_id, for_update=True)
    check_if_match(if_match, endpoint)
    await session.delete(endpoint)
    await session.flush()


async def set_disabled(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, disabled: bool
) -> WebhookEndpoint:
    """Disabling cancels what is queued; enabling restarts the failure clock. Use ``recover``
    to send what failed, was canceled or was emitted meanwhile."""
    endpoint = await get_endpoint(session, principal, endpoint_id, for_update=True)
    if endpoint.disabled == disabled:
        return endpoint
    endpoint.disabled = disabled
    endpoint.disabled_reason = "manual" if disabled else None
    endpoint.failing_since = None
    await session.flush()
    if disabled:
        await repository.cancel_queued(session, endpoint.id)
    return endpoint


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    data: SecretRotate,
    box: SecretBox,
) -> tuple[str, datetime]:
    endpoint = await get_endpoint(session, principal, endpoint_id, for_update=True)
    secret = _caller_secret(data.key, "key") if data.key else signing.generate_secret()
    expires_at = utcnow() + timedelta(seconds=data.grace_period_seconds)
    await repository.rotate_secret(session, endpoint.id, box.seal(secret, endpoint.id), expires_at)
    return secret, expires_at


async def send_test(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID) -> str:
    endpoint = await get_endpoint(session, principal, endpoint_id)
    if endpoint.disabled:
        raise Conflict("The endpoint is disabled; enable it before sending a test event.")
    now = utcnow()
    event = await record_event(
        session,
        principal.organization_id,
        "webhook.test",
        now,
        {"endpoint_id": endpoint.id, "message": "A test event from Meridian."},
        endpoint_id=endpoint.id,
    )
    return event.id


async def recover(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, data: RecoverRequest
) -> int:
    """Queue what the endpoint did not get in the window: its failed and canceled messages
    again, and the events it subscribes to that were emitted while it was disabled (§4.7's
    "replay missing"). At most ``MAX_RECOVER_MESSAGES`` in all; returns how many."""
    endpoint = await get_endpoint(session, principal, endpoint_id)
    until = data.until or utcnow()
    if until <= data.since:
        raise ValidationFailed.on("until", "`until` must be after `since`.")
    if until - data.since > MAX_RECOVER_WINDOW:
        raise ValidationFailed.on("since", "Recover at most 14 days at a time.")
    if endpoint.disabled:
        raise Conflict("The endpoint is disabled; enable it before recovering messages.")
    requeued = await repository.requeue_undelivered(
        session, endpoint.id, data.since, data.until, MAX_RECOVER_MESSAGES
    )
    if requeued == MAX_RECOVER_MESSAGES:
        return requeued
    missing = await repository.queue_missing(
        session, endpoint.id, data.since, data.until, MAX_RECOVER_MESSAGES - requeued
    )
    return requeued + missing


async def list_attempts(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, page: PageRequest
) -> tuple[list[WebhookAttempt], str | None]:
    endpoint = await get_endpoint(session, principal, endpoint_id)
    rows = await repository.list_attempts(session, principal.organization_id, endpoint.id, page)
    return split_page(rows, page, lambda attempt: (attempt.started_at, attempt.id))


def _caller_secret(secret: str, field_name: str) -> str:
    try:
        return signing.check_caller_secret(secret)
    except signing.InvalidSecret as exc:
        raise ValidationFailed.on(field_name, str(exc)) from exc


def _unique(patterns: list[str]) -> list[str]:
    return list(dict.fromkeys(patterns))
