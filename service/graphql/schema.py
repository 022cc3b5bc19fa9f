"""Schema assembly: the root types of every domain and the per-request limits."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.types.base_scalars import DateTimeDefinition, UUIDDefinition
from strawberry.types import ExecutionContext
from strawberry.types.scalar import ScalarDefinition

from service.alignment.graphql import AlignmentQuery
from service.alignment.graphql_mutations import AlignmentMutation
from service.common.schemas import utc_rfc3339
from service.config import Settings
from service.cycles.graphql import CycleQuery
from service.goals.graphql import GoalQuery
from service.goals.graphql_mutations import GoalMutation
from service.graphql.errors import ErrorCodes
from service.graphql.execution import PlainFieldExecutionContext
from service.kpis.graphql import KpiQuery
from service.kpis.graphql_mutations import KpiMutation
from service.people.graphql import PersonQuery
from service.planning.graphql import PlanningMutation, PlanningQuery
from service.teams.graphql import TeamQuery
from service.webhooks.graphql import WebhookMutation, WebhookQuery

UUID_SCALAR = replace(
    UUIDDefinition, description="An RFC 9562 UUID, e.g. `0b6f2c3e-5a1d-4c1e-9a43-2f1c9d7e8b10`."
)
DATETIME_SCALAR = replace(
    DateTimeDefinition,
    description="An RFC 3339 timestamp. Written in UTC with `Z` (`2026-01-02T03:04:05Z`), as "
    "REST writes it; arguments need an offset.",
    # REST's own serializer (``UtcDateTime``), naive values included, so both APIs write
    # every instant as the same string. Serialized here, not by the response encoder, so
    # graphql-core's path and the compiled plan (both call ``serialize``) agree.
    serialize=utc_rfc3339,
)
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    uuid.UUID: UUID_SCALAR,
    datetime: DATETIME_SCALAR,
}


@strawberry.type(
    description="Read objectives, key results, cycles, people, teams, KPIs, alerts, events and "
    "webhook endpoints."
)
class Query(
    GoalQuery,
    AlignmentQuery,
    PlanningQuery,
    CycleQuery,
    PersonQuery,
    TeamQuery,
    KpiQuery,
    WebhookQuery,
):
    pass


@strawberry.type(
    description="Change goals, alignment, KPIs and webhook endpoints; each result is a payload "
    "or a typed error."
)
class Mutation(GoalMutation, AlignmentMutation, PlanningMutation, KpiMutation, WebhookMutation):
    pass


logger = logging.getLogger("meridian.graphql")


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Strawberry logs every error at ERROR, the caller's too: an invalid document, a
        `not_found`. Those are answers, not faults. An unexpected exception is logged once,
        at ERROR, where ``ErrorCodes`` codes it ``internal_error``."""
        for error in errors:
            logger.debug("graphql error: %s", error.message)


def build_schema(settings: Settings) -> strawberry.Schema:
    """Extensions are passed as factories so Strawberry builds fresh ones per request."""
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=settings.graphql_max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        ErrorCodes,
    ]
    return _Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=PlainFieldExecutionContext,
    )
