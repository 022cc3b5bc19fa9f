"""REST for webhook endpoints (admin scope): CRUD, secrets, test, enable/disable, recover."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status

from service.api.deps import AdminPrincipal, PageDep, SessionDep
from service.api.etag import IfMatch, etag_of, set_etag
from service.api.uow import domain_router
from service.common.schemas import Page
from service.webhooks import service
from service.webhooks.schemas import (
    AttemptRead,
    RecoverRequest,
    RecoverResult,
    SecretRotate,
    SecretRotated,
    TestSent,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)
from service.webhooks.secret_box import SecretBox
from service.webhooks.service import UrlPolicy

router = domain_router(tags=["webhooks"])


async def url_policy(request: Request) -> UrlPolicy:
    policy: UrlPolicy = request.app.state.url_policy
    return policy


UrlPolicyDep = Annotated[UrlPolicy, Depends(url_policy)]


async def secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


SecretBoxDep = Annotated[SecretBox, Depends(secret_box)]


@router.post(
    "/webhook-endpoints", status_code=status.HTTP_201_CREATED, operation_id="createWebhookEndpoint"
)
async def create_endpoint(
    session: SessionDep,
    principal: AdminPrincipal,
    body: WebhookEndpointCreate,
    policy: UrlPolicyDep,
    box: SecretBoxDep,
    response: Response,
) -> WebhookEndpointCreated:
    """Register an endpoint. The URL is resolved and vetted; the secret is returned only here."""
    endpoint, secret = await service.create_endpoint(session, principal, body, policy, box)
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint.id}"
    read = WebhookEndpointRead.model_validate(endpoint)
    # The tag of what GET serves: the secret is only in this answer, and not in the tag.
    response.headers["ETag"] = etag_of(endpoint, read)
    response.headers["Cache-Control"] = "no-store"  # the secret: never kept by a cache
    return WebhookEndpointCreated(**read.model_dump(), secret=secret)


@router.get("/webhook-endpoints", operation_id="listWebhookEndpoints")
async def list_endpoints(
    session: SessionDep,
    principal: AdminPrincipal,
    page: PageDep,
    disabled: Annotated[bool | None, Query(description="Only (not) disabled endpoints.")] = None,
) -> Page[WebhookEndpointRead]:
    """Endpoints, oldest first."""
    rows, next_cursor = await service.list_endpoints(session, principal, page, disabled)
    return Page(
        items=[WebhookEndpointRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/webhook-endpoints/{endpoint_id}", operation_id="getWebhookEndpoint")
async def get_endpoint(
    session: SessionDep,
    principal: AdminPrincipal,
    endpoint_id: uuid.UUID,
    request: Request,
    response: Response,
) -> WebhookEndpointRead:
    """One endpoint (never its secret)."""
    endpoint = await service.get_endpoint(session, principal, endpoint_id)
    read = WebhookEndpointRead.model_validate(endpoint)
    set_etag(response, request, endpoint, read)
    return read


@router.patch("/webhook-endpoints/{endpoint_id}", operation_id="updateWebhookEndpoint")
async def update_endpoint(
    session: SessionDep,
    principal: AdminPrincipal,
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    policy: UrlPolicyDep,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookEndpointRead:
    """Change the URL (vetted again), description, event types or limits. Omitted fields
    stay; `null` clears `description` and removes `throttle_rate`, and is a 422 for `url`,
    `event_types` (all types is `[]`) and `max_in_flight`."""
    endpoint = await service.update_endpoint(
        session, principal, endpoint_id, body, if_match, policy
    )
    read = WebhookEndpointRead.model_validate(endpoint)
    response.headers["ETag"] = etag_of(endpoint, read)
    return read


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteWebhookEndpoint",
)
async def delete_endpoint(
    session: SessionDep, principal: AdminPrincipal, endpoint_id: uuid.UUID, if_match: IfMatch = None
) -> None:
    """Delete an endpoint with its queue and delivery log."""
    await service.delete_endpoint(session, principal, endpoint_id, if_match)


@router.post("/webhook-endpoints/{endpoint_id}/enable", operation_id="enableWebhookEndpoint")
async def enable_endpoint(
    session: SessionDep, principal: AdminPrincipal, endpoint_id: uuid.UUID, response: Response
) -> WebhookEndpointRead:
    """Enable again; the failure clock restarts. `recover` sends what was missed meanwhile."""
    endpoint = await service.set_disabled(session, principal, endpoint_id, False)
    read = WebhookEndpointRead.model_validate(endpoint)
    response.headers["ETag"] = etag_of(endpoint, read)
    return read


@router.post("/webhook-endpoints/{endpoint_id}/disable", operation_id="disableWebhookEndpoint")
async def disable_endpoint(
    session: SessionDep, principal: AdminPrincipal, endpoint_id: uuid.UUID, response: Response
) -> WebhookEndpointRead:
    """Stop sending; queued messages are canceled (recover them after enabling)."""
    endpoint = await service.set_disabled(session, principal, endpoint_id, True)
    read = WebhookEndpointRead.model_validate(endpoint)
    response.headers["ETag"] = etag_of(endpoint, read)
    return read


@router.post(
    "/webhook-endpoints/{endpoint_id}/secret/rotate", operation_id="rotateWebhookEndpointSecret"
)
async def rotate_secret(
    session: SessionDep,
    principal: AdminPrincipal,
    endpoint_id: uuid.UUID,
    body: SecretRotate,
    box: SecretBoxDep,
    response: Response,
) -> SecretRotated:
    """A new signing key, current at once; the old one also signs during the grace period."""
    secret, expires_at = await service.rotate_secret(session, principal, endpoint_id, body, box)
    response.headers["Cache-Control"] = "no-store"
    return SecretRotated(secret=secret, previous_expires_at=expires_at)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="testWebhookEndpoint",
)
async def send_test(
    session: SessionDep, principal: AdminPrincipal, endpoint_id: uuid.UUID
) -> TestSent:
    """Queue a `webhook.test` event for this endpoint only."""
    return TestSent(event_id=await service.send_test(session, principal, endpoint_id))


@router.post(
    "/webhook-endpoints/{endpoint_id}/recover",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="recoverWebhookEndpoint",
)
async def recover(
    session: SessionDep, principal: AdminPrincipal, endpoint_id: uuid.UUID, body: RecoverRequest
) -> RecoverResult:
    """Queue what this endpoint did not get since a time (at most 14 days, 10,000 messages):
    its failed and canceled messages again, with a fresh retry schedule, and the events it
    subscribes to that were emitted while it was disabled. Each keeps its `webhook-id`."""
    return RecoverResult(requeued=await service.recover(session, principal, endpoint_id, body))


@router.get("/webhook-endpoints/{endpoint_id}/attempts", operation_id="listWebhookAttempts")
async def list_attempts(
    session: SessionDep, principal: AdminPrincipal, endpoint_id: uuid.UUID, page: PageDep
) -> Page[AttemptRead]:
    """Every delivery attempt to this endpoint, newest first."""
    rows, next_cursor = await service.list_attempts(session, principal, endpoint_id, page)
    return Page(items=[AttemptRead.model_validate(r) for r in rows], next_cursor=next_cursor)
