"""Every ORM table. Import from here so Alembic sees the whole metadata."""

from service.models.alignment import ObjectiveKpi, ObjectiveLink
from service.models.api_keys import ApiKey
from service.models.base import Base
from service.models.cycles import Cycle
from service.models.events import Event
from service.models.goals import CheckIn, KeyResult, Objective
from service.models.idempotency import IdempotencyRecord
from service.models.kpis import AlertRule, AlertState, Kpi, KpiReadingVersion, Reading
from service.models.organizations import Organization
from service.models.people import Person, Team, TeamMember
from service.models.webhooks import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookSecret

__all__ = [
    "AlertRule",
    "AlertState",
    "ApiKey",
    "Base",
    "CheckIn",
    "Cycle",
    "Event",
    "IdempotencyRecord",
    "KeyResult",
    "Kpi",
    "KpiReadingVersion",
    "Objective",
    "ObjectiveKpi",
    "ObjectiveLink",
    "Organization",
    "Person",
    "Reading",
    "Team",
    "TeamMember",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookMessage",
    "WebhookSecret",
]
