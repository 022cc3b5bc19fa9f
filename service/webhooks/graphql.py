# mypy: disallow-untyped-decorators=False
"""GraphQL for webhook endpoints and the event log; the same service calls as REST."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from service.api.etag import ETAG_FIELD_DESCRIPTION, etag_of
from service.auth.keys import Principal
from service.common.pagination import DEFAULT_LIMIT, encode_keyset
from service.errors import NotFound
from service.events import service as events_service
from service.graphql.context import Info
from service.graphql.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    ValidationError,
    run_mutation,
)
from service.graphql.types import (
    After,
    Connection,
    Edge,
    First,
    Id,
    PageInfo,
    arg,
    aware,
    connection,
    given,
    optional_field,
    page_request,
)
from service.models import Event, WebhookEndpoint, WebhookMessage
from service.webhooks import service
from service.webhooks.schemas import (
    SecretRotate,
    WebhookEndpointCreate,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)


@strawberry.type(name="WebhookEndpoint", description="Where events are delivered (no secret).")
class WebhookEndpointNode:
    row: strawberry.Private[WebhookEndpoint]
    id: uuid.UUID = strawberry.field(description="The endpoint's id.")
    url: str = strawberry.field(description="Where events are POSTed.")
    description: str | None = strawberry.field(description="What it is for.")
    event_types: list[str] = strawberry.field(description="Types or prefixes; empty = all.")
    disabled: bool = strawberry.field(description="Whether delivery is stopped.")
    disabled_reason: str | None = strawberry.field(
        description="manual, failing, gone or receiver_requested."
    )
    failing_since: datetime | None = strawberry.field(description="Start of current failures.")
    max_in_flight: int = strawberry.field(description="Messages being sent at once, at most.")
    throttle_rate: int | None = strawberry.field(
        description="Messages a second, at most; null: no limit."
    )
    created_at: datetime = strawberry.field(description="When it was registered.")

    @classmethod
    def of(cls, row: WebhookEndpoint) -> WebhookEndpointNode:
        return cls(
            row=row,
            id=row.id,
            url=row.url,
            description=row.description,
            event_types=list(row.event_types),
            disabled=row.disabled,
            disabled_reason=row.disabled_reason,
            failing_since=row.failing_since,
            max_in_flight=row.max_in_flight,
            throttle_rate=row.throttle_rate,
            created_at=row.created_at,
        )

    @strawberry.field(description=ETAG_FIELD_DESCRIPTION)
    def etag(self) -> str:
        return etag_of(self.row, WebhookEndpointRead.model_validate(self.row))


@strawberry.type(name="Delivery", description="One event's delivery to one endpoint.")
class DeliveryNode:
    endpoint_id: uuid.UUID = strawberry.field(description="The endpoint.")
    status: str = strawberry.field(
        description="pending, sending, retrying, succeeded, failed or canceled."
    )
    attempt_count: int = strawberry.field(description="Attempts so far.")
    last_status_code: int | None = strawberry.field(description="The last HTTP status.")

    @classmethod
    def of(cls, row: WebhookMessage) -> DeliveryNode:
        return cls(
            endpoint_id=row.endpoint_id,
            status=row.status,
            attempt_count=row.attempt_count,
            last_status_code=row.last_status_code,
        )


@strawberry.type(name="Event", description="Something that happened, as delivered.")
class EventNode:
    id: str = strawberry.field(description="The `webhook-id` of every delivery.")
    type: str = strawberry.field(description="E.g. `kpi.breached`.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    fingerprint: str | None = strawberry.field(description="The alert series, for alerts.")
    sequence: int | None = strawberry.field(description="Order within the series.")
    suppressed_reason: str | None = strawberry.field(
        description="Why it was kept but not delivered (`silence`: a muted rule); null if not."
    )
    body: JSON = strawberry.field(description="The exact payload.")
    created_at: datetime = strawberry.field(description="When it was recorded.")

    @classmethod
    def of(cls, row: Event) -> EventNode:
        return cls(
            id=row.id,
            type=row.type,
            occurred_at=row.occurred_at,
            fingerprint=row.fingerprint,
            sequence=row.sequence,
            suppressed_reason=row.suppressed_reason,
            body=json.loads(row.body),
            created_at=row.created_at,
        )


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Webhook endpoints, oldest first (admin scope).")
    async def webhook_endpoints(
        self,
        info: Info,
        first: First = DEFAULT_LIMIT,
        after: After = None,
        disabled: Annotated[bool | None, arg("Only (not) disabled endpoints.")] = None,
    ) -> Connection[WebhookEndpointNode]:
        ctx = info.context
        page = page_request(first, after)
        async with ctx.db_lock:
            rows, next_cursor = await service.list_endpoints(
                ctx.session, ctx.principal, page, disabled
            )
        return connection([WebhookEndpointNode.of(r) for r in rows], rows, next_cursor)

    @strawberry.field(description="Events in the order they were recorded.")
    async def events(
        self,
        info: Info,
        type: Annotated[str | None, arg("An exact type or a prefix like `kpi.*`.")] = None,
        since: Annotated[datetime | None, arg("Recorded at or after.")] = None,
        first: First = DEFAULT_LIMIT,
        after: After = None,
    ) -> Connection[EventNode]:
        ctx = info.context
        page = page_request(first, after)
        async with ctx.db_lock:
            rows, next_cursor = await events_service.list_events(
                ctx.session, ctx.principal, page, type, aware("since", since)
            )
        # The events' keyset is ``(created_at, id)`` with a text id (``msg_...``), so each
        # edge names its own position as REST's ``next_cursor`` would (``connection()``
        # takes uuid ids); `endCursor` is the last edge's, like every other connection.
        edges = [
            Edge(cursor=encode_keyset(row.created_at, row.id), node=EventNode.of(row))
            for row in rows
        ]
        end = edges[-1].cursor if edges else None
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=next_cursor is not None, end_cursor=end),
        )

    @strawberry.field(description="One event's deliveries per endpoint; empty if unknown.")
    async def event_deliveries(
        self, info: Info, event_id: Annotated[str, arg("The event's id.")]
    ) -> list[DeliveryNode]:
        ctx = info.context
        try:
            async with ctx.db_lock:
                _, rows = await events_service.get_event(ctx.session, ctx.principal, event_id)
        except NotFound:
            return []
        return [DeliveryNode.of(r) for r in rows]


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https URL, vetted against SSRF.")
    description: str | None = optional_field("What it is for.")
    event_types: list[str] | None = optional_field("Types or prefixes such as `kpi.*`; none = all.")
    disabled: bool | None = optional_field("Register it disabled.")
    secret: str | None = optional_field("Your own `whsec_` secret; generated if absent.")
    max_in_flight: int | None = optional_field("Messages sent at once, at most (1-1,000; 4).")
    throttle_rate: int | None = optional_field("Messages a second, at most (1-10,000).")


@strawberry.input(description="Changes to a webhook endpoint.")
class UpdateWebhookEndpointInput:
    url: str | None = optional_field("New URL (vetted again).")
    description: str | None = optional_field("New description.")
    event_types: list[str] | None = optional_field("New event types.")
    max_in_flight: int | None = optional_field("Messages sent at once, at most (1-1,000).")
    throttle_rate: int | None = optional_field("Messages a second, at most; null removes it.")


@strawberry.type(description="The endpoint created, and its secret: shown this once.")
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpointNode = strawberry.field(description="The new endpoint.")
    secret: str = strawberry.field(description="The signing secret. Store it now.")


@strawberry.type(description="The endpoint as changed.")
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpointNode = strawberry.field(description="The endpoint.")


@strawberry.type(description="The endpoint deleted.")
class DeleteWebhookEndpointPayload:
    id: uuid.UUID = strawberry.field(description="The deleted endpoint's id.")


@strawberry.type(description="The new secret; the old one signs until `previousExpiresAt`.")
class RotateWebhookSecretPayload:
    secret: str = strawberry.field(description="The new signing secret. Shown once.")
    previous_expires_at: datetime = strawberry.field(description="End of the grace period.")


Errors = NotFoundError | ValidationError | ConflictError | ForbiddenError
CreateWebhookEndpointResult = Annotated[
    CreateWebhookEndpointPayload | Errors,
    strawberry.union("CreateWebhookEndpointResult", description="The endpoint, or why not."),
]
WebhookEndpointResult = Annotated[
    WebhookEndpointPayload | Errors | PreconditionFailedError,
    strawberry.union("WebhookEndpointResult", description="The endpoint, or why not."),
]
DeleteWebhookEndpointResult = Annotated[
    DeleteWebhookEndpointPayload | Errors | PreconditionFailedError,
    strawberry.union("DeleteWebhookEndpointResult", description="The id, or why not."),
]
RotateWebhookSecretResult = Annotated[
    RotateWebhookSecretPayload | Errors,
    strawberry.union("RotateWebhookSecretResult", description="The new secret, or why not."),
]
IfMatch = Annotated[str | None, arg("The `etag` you last read; a stale one changes nothing.")]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Register a webhook endpoint (admin scope).")
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointResult:
        policy, box = info.context.url_policy, info.context.secret_box

        async def call(session: AsyncSession, principal: Principal) -> CreateWebhookEndpointPayload:
            values = {k: v for k, v in given(input).items() if v is not None}
            data = WebhookEndpointCreate(**values)
            row, secret = await service.create_endpoint(session, principal, data, policy, box)
            return CreateWebhookEndpointPayload(
                webhook_endpoint=WebhookEndpointNode.of(row), secret=secret
            )

        return await run_mutation(info, call)  # type: ignore[return-value]

    @strawberry.mutation(description="Change a webhook endpoint's URL, description or types.")
    async def update_webhook_endpoint(
        self, info: Info, id: Id, input: UpdateWebhookEndpointInput, if_match: IfMatch = None
    ) -> WebhookEndpointResult:
        policy = info.context.url_policy

        async def call(session: AsyncSession, principal: Principal) -> WebhookEndpointPayload:
            data = WebhookEndpointUpdate(**given(input))
            row = await service.update_endpoint(session, principal, id, data, if_match, policy)
            return WebhookEndpointPayload(webhook_endpoint=WebhookEndpointNode.of(row))

        return await run_mutation(info, call)

    @strawberry.mutation(description="Enable or disable a webhook endpoint.")
    async def set_webhook_endpoint_disabled(
        self, info: Info, id: Id, disabled: Annotated[bool, arg("True to stop delivery.")]
    ) -> WebhookEndpointResult:
        async def call(session: AsyncSession, principal: Principal) -> WebhookEndpointPayload:
            row = await service.set_disabled(session, principal, id, disabled)
            return WebhookEndpointPayload(webhook_endpoint=WebhookEndpointNode.of(row))

        return await run_mutation(info, call)

    @strawberry.mutation(description="Delete a webhook endpoint with its queue and log.")
    async def delete_webhook_endpoint(
        self, info: Info, id: Id, if_match: IfMatch = None
    ) -> DeleteWebhookEndpointResult:
        async def call(session: AsyncSession, principal: Principal) -> DeleteWebhookEndpointPayload:
            await service.delete_endpoint(session, principal, id, if_match)
            return DeleteWebhookEndpointPayload(id=id)

        return await run_mutation(info, call)

    @strawberry.mutation(description="Rotate the signing secret with a grace period.")
    async def rotate_webhook_secret(
        self,
        info: Info,
        id: Id,
        grace_period_seconds: Annotated[
            int, arg("0 to 604800; the old key signs meanwhile.")
        ] = 86_400,
    ) -> RotateWebhookSecretResult:
        box = info.context.secret_box

        async def call(session: AsyncSession, principal: Principal) -> RotateWebhookSecretPayload:
            data = SecretRotate(grace_period_seconds=grace_period_seconds)
            secret, expires_at = await service.rotate_secret(session, principal, id, data, box)
            return RotateWebhookSecretPayload(secret=secret, previous_expires_at=expires_at)

        return await run_mutation(info, call)  # type: ignore[return-value]
