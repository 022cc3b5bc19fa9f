"""GraphQL types and queries for KPIs, their readings, alert rules and alert series.

Resolvers are thin: root fields call ``service.kpis.service`` and ``rules_service`` (which
check scopes) under the request lock; nested fields go through the per-request DataLoaders,
so ``kpis { edges { node { owner team alertRules alerts } } }`` costs one statement per
field however many KPIs the page holds.

Readings come in two shapes, as in REST's ``GET /v1/kpis/{ref}/readings``:

* ``readings(from, to, first, after)``: a connection of raw readings, oldest first, whose
  cursors are REST's ``next_cursor`` format;
* ``series(bucket, agg, from, to)``: one aggregated point per bucket with data (REST's
  ``?bucket=``), buckets aligned to the Unix epoch.

Both are per KPI (one statement each): ask for them on one KPI, not across a page of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from service.api.etag import ETAG_FIELD_DESCRIPTION, etag_of
from service.common.pagination import DEFAULT_LIMIT, PageRequest, encode_keyset
from service.errors import NotFound
from service.graphql.context import Info
from service.graphql.types import (
    After,
    Connection,
    Edge,
    First,
    PageInfo,
    arg,
    aware,
    connection,
    page_request,
)
from service.kpis import rules_service, service
from service.kpis.durations import format_duration
from service.kpis.evaluation import OnNoData, State
from service.kpis.schemas import Aggregation, BucketRead, Direction, Health, ReadingRead
from service.kpis.thresholds import Operator, Severity
from service.kpis.views import kpi_read, rule_read
from service.models import AlertRule, AlertState, Kpi
from service.people.graphql import PersonNode
from service.teams.graphql import TeamNode

strawberry.enum(Direction, description="Which side of the target is good.")
strawberry.enum(Health, description="The latest value against the target.")
strawberry.enum(Aggregation, description="How readings are combined over a window or bucket.")
strawberry.enum(Operator, name="AlertOperator", description="When a rule breaches.")
strawberry.enum(Severity, name="AlertSeverity", description="How bad a breach is.")
strawberry.enum(State, name="AlertState", description="Where an alert series is.")
strawberry.enum(OnNoData, description="What a rule does when readings stop arriving.")


def _duration(value: timedelta | None) -> str | None:
    return None if value is None else format_duration(value)


@strawberry.type(name="LatestReading", description="The newest reading of a KPI.")
class LatestReadingNode:
    value: float = strawberry.field(description="The observed value.")
    observed_at: datetime = strawberry.field(description="When it was true.")


@strawberry.type(name="Reading", description="One observation of a KPI.")
class ReadingNode:
    kpi_id: uuid.UUID = strawberry.field(description="The KPI observed.")
    value: float = strawberry.field(description="The observed value.")
    observed_at: datetime = strawberry.field(description="When it was true.")
    source: str = strawberry.field(description="Who sent it; a repeat per source is ignored.")
    received_at: datetime = strawberry.field(description="When the service stored it.")

    @classmethod
    def of(cls, row: ReadingRead) -> ReadingNode:
        return cls(
            kpi_id=row.kpi_id,
            value=row.value,
            observed_at=row.observed_at,
            source=row.source,
            received_at=row.received_at,
        )


@strawberry.type(name="SeriesPoint", description="One bucket of a downsampled series.")
class SeriesPointNode:
    bucket_start: datetime = strawberry.field(description="Where the bucket begins.")
    value: float = strawberry.field(description="The aggregate of the bucket's readings.")
    samples: int = strawberry.field(description="How many readings the bucket holds.")


@strawberry.type(name="ReadingSeries", description="Readings downsampled to one value a bucket.")
class ReadingSeriesNode:
    bucket: str = strawberry.field(description="The bucket width asked for, e.g. `1h`.")
    agg: Aggregation = strawberry.field(description="How each bucket was aggregated.")
    points: list[SeriesPointNode] = strawberry.field(
        description="Buckets with data, oldest first (empty buckets are left out)."
    )


@strawberry.type(name="AlertRule", description="When a KPI breaches, and how it recovers.")
class AlertRuleNode:
    row: strawberry.Private[AlertRule]
    id: uuid.UUID = strawberry.field(description="The rule's id.")
    kpi_id: uuid.UUID = strawberry.field(description="The KPI it watches.")
    name: str = strawberry.field(description="A label for the rule.")
    enabled: bool = strawberry.field(description="Disabled rules are not evaluated.")
    is_default: bool = strawberry.field(description="Created from the KPI's target; follows it.")
    operator: Operator = strawberry.field(description="The comparison that breaches.")
    warning: JSON | None = strawberry.field(description="A number, or `{lo, hi}` for bands.")
    critical: JSON | None = strawberry.field(description="A number, or `{lo, hi}` for bands.")
    warning_recovery: JSON | None = strawberry.field(description="Where warning recovers.")
    critical_recovery: JSON | None = strawberry.field(description="Where critical recovers.")
    aggregation: Aggregation = strawberry.field(description="How the window is combined.")
    window: str = strawberry.field(description="ISO 8601 duration evaluated, e.g. `PT5M`.")
    min_samples: int = strawberry.field(description="Fewer readings in the window: no data.")
    pending_for: str = strawberry.field(description="ISO 8601: breach this long before firing.")
    keep_firing_for: str = strawberry.field(description="ISO 8601: stay firing this long.")
    no_data_after: str | None = strawberry.field(description="ISO 8601; null: 2 x window.")
    on_no_data: OnNoData = strawberry.field(description="What missing data does.")
    max_lateness: str = strawberry.field(description="ISO 8601: how late readings still count.")
    renotify_interval: str | None = strawberry.field(description="ISO 8601 between reminders.")
    muted_until: datetime | None = strawberry.field(description="No notifications until then.")
    labels: JSON = strawberry.field(description="String labels carried by its alerts.")
    annotations: JSON = strawberry.field(description="String annotations, e.g. `summary`.")
    version: int = strawberry.field(description="Moves with every change.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, row: AlertRule) -> AlertRuleNode:
        return cls(
            row=row,
            id=row.id,
            kpi_id=row.kpi_id,
            name=row.name,
            enabled=row.enabled,
            is_default=row.is_default,
            operator=Operator(row.operator),
            warning=cast(JSON, row.warning),
            critical=cast(JSON, row.critical),
            warning_recovery=cast(JSON, row.warning_recovery),
            critical_recovery=cast(JSON, row.critical_recovery),
            aggregation=Aggregation(row.aggregation),
            window=format_duration(row.window),
            min_samples=row.min_samples,
            pending_for=format_duration(row.pending_for),
            keep_firing_for=format_duration(row.keep_firing_for),
            no_data_after=_duration(row.no_data_after),
            on_no_data=OnNoData(row.on_no_data),
            max_lateness=format_duration(row.max_lateness),
            renotify_interval=_duration(row.renotify_interval),
            muted_until=row.muted_until,
            labels=cast(JSON, dict(row.labels or {})),
            annotations=cast(JSON, dict(row.annotations or {})),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description=ETAG_FIELD_DESCRIPTION)
    def etag(self) -> str:
        return etag_of(self.row, rule_read(self.row))


@strawberry.type(name="Alert", description="The current state of one alert series (a rule).")
class AlertNode:
    fingerprint: str = strawberry.field(description="Stable id of the series.")
    rule_id: uuid.UUID = strawberry.field(description="The rule evaluated.")
    kpi_id: uuid.UUID = strawberry.field(description="The KPI watched.")
    state: State = strawberry.field(description="Ok, pending, firing, recovering or no data.")
    severity: Severity | None = strawberry.field(description="While breaching: how badly.")
    alert_id: str | None = strawberry.field(
        description="New for every episode from ok to firing to ok."
    )
    since: datetime = strawberry.field(description="When the series entered its state.")
    started_at: datetime | None = strawberry.field(description="When the episode began.")
    last_value: float | None = strawberry.field(description="The last evaluated value.")
    last_eval_at: datetime | None = strawberry.field(description="When it was last evaluated.")
    sequence: int = strawberry.field(description="Number of events the series has emitted.")

    @classmethod
    def of(cls, row: AlertState) -> AlertNode:
        return cls(
            fingerprint=row.fingerprint,
            rule_id=row.rule_id,
            kpi_id=row.kpi_id,
            state=State(row.state),
            severity=Severity(row.severity) if row.severity else None,
            alert_id=row.alert_id,
            since=row.since,
            started_at=row.started_at,
            last_value=row.last_value,
            last_eval_at=row.last_eval_at,
            sequence=row.sequence,
        )

    @strawberry.field(description="The KPI the series watches.")
    async def kpi(self, info: Info) -> KpiNode | None:
        row = await info.context.loaders.kpi.load(self.kpi_id)
        return None if row is None else KpiNode.of(row)

    @strawberry.field(description="The rule the series evaluates.")
    async def rule(self, info: Info) -> AlertRuleNode | None:
        row = await info.context.loaders.alert_rule.load(self.rule_id)
        return None if row is None else AlertRuleNode.of(row)


# Both need an offset (``aware``), as REST's ``from``/``to``.
From = Annotated[
    datetime | None, strawberry.argument(name="from", description="Observed at or after this.")
]
To = Annotated[datetime | None, arg("Observed before this.")]


@strawberry.type(name="Kpi", description="A key performance indicator fed by readings.")
class KpiNode:
    row: strawberry.Private[Kpi]
    id: uuid.UUID = strawberry.field(description="The KPI's id.")
    key: str = strawberry.field(description="A slug integrations use instead of the id.")
    name: str = strawberry.field(description="The name to show.")
    description: str | None = strawberry.field(description="Longer explanation.")
    unit: str = strawberry.field(description="What the numbers count, e.g. `percent`.")
    owner_id: uuid.UUID | None = strawberry.field(description="Id of the owning person.")
    team_id: uuid.UUID | None = strawberry.field(description="Id of the owning team.")
    direction: Direction = strawberry.field(description="Which side of the target is good.")
    target: float | None = strawberry.field(description="The value to be at or beyond.")
    health: Health = strawberry.field(description="The latest value against the target.")
    latest: LatestReadingNode | None = strawberry.field(description="The newest reading.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, row: Kpi) -> KpiNode:
        latest = None
        if row.latest_value is not None and row.latest_observed_at is not None:
            latest = LatestReadingNode(value=row.latest_value, observed_at=row.latest_observed_at)
        return cls(
            row=row,
            id=row.id,
            key=row.key,
            name=row.name,
            description=row.description,
            unit=row.unit,
            owner_id=row.owner_id,
            team_id=row.team_id,
            direction=Direction(row.direction),
            target=row.target,
            health=service.health_of(row),
            latest=latest,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description=ETAG_FIELD_DESCRIPTION)
    def etag(self) -> str:
        return etag_of(self.row, kpi_read(self.row))

    @strawberry.field(description="The owning person, if any.")
    async def owner(self, info: Info) -> PersonNode | None:
        if self.owner_id is None:
            return None
        return PersonNode.maybe(await info.context.loaders.person.load(self.owner_id))

    @strawberry.field(description="The owning team, if any.")
    async def team(self, info: Info) -> TeamNode | None:
        if self.team_id is None:
            return None
        return TeamNode.maybe(await info.context.loaders.team.load(self.team_id))

    @strawberry.field(description="The KPI's alert rules, in creation order.")
    async def alert_rules(self, info: Info) -> list[AlertRuleNode]:
        rows = await info.context.loaders.rules_by_kpi.load(self.id)
        return [AlertRuleNode.of(row) for row in rows]

    @strawberry.field(description="The current state of each of the KPI's alert series.")
    async def alerts(self, info: Info) -> list[AlertNode]:
        rows = await info.context.loaders.alerts_by_kpi.load(self.id)
        return [AlertNode.of(row) for row in rows]

    @strawberry.field(
        description="Raw readings in `[from, to)`, oldest first (as REST without `bucket`)."
    )
    async def readings(
        self,
        info: Info,
        from_: From = None,
        to: To = None,
        first: First = DEFAULT_LIMIT,
        after: After = None,
    ) -> Connection[ReadingNode]:
        ctx = info.context
        page = page_request(first, after)
        query = service.ReadingQuery(start=aware("from", from_), end=aware("to", to))
        async with ctx.db_lock:
            rows, next_cursor = await service.list_readings(
                ctx.session, ctx.principal, str(self.id), query, page
            )
        readings = [ReadingRead.model_validate(row) for row in rows]
        edges = [
            Edge(cursor=encode_keyset(r.observed_at, r.source), node=ReadingNode.of(r))
            for r in readings
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=next_cursor is not None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="Readings in `[from, to)` downsampled to one `agg` value per `bucket` "
        "(as REST with `bucket`); at most 10,000 buckets."
    )
    async def series(
        self,
        info: Info,
        bucket: Annotated[str, arg("Bucket width: `15m`, `1h`, `1d` or ISO 8601 `PT15M`.")],
        agg: Annotated[Aggregation, arg("How to combine a bucket.")] = Aggregation.AVG,
        from_: From = None,
        to: To = None,
    ) -> ReadingSeriesNode:
        ctx = info.context
        start, end = aware("from", from_), aware("to", to)
        query = service.ReadingQuery(start=start, end=end, bucket=bucket, agg=agg)
        async with ctx.db_lock:
            rows = await service.downsample(ctx.session, ctx.principal, str(self.id), query)
        buckets = [BucketRead.model_validate(row) for row in rows]
        points = [
            SeriesPointNode(bucket_start=b.bucket_start, value=b.value, samples=b.samples)
            for b in buckets
        ]
        return ReadingSeriesNode(bucket=bucket, agg=agg, points=points)


@strawberry.type
class KpiQuery:
    @strawberry.field(description="KPIs with their health and latest reading, oldest first.")
    async def kpis(
        self, info: Info, first: First = DEFAULT_LIMIT, after: After = None
    ) -> Connection[KpiNode]:
        ctx = info.context
        page = page_request(first, after)
        async with ctx.db_lock:
            rows, next_cursor = await service.list_kpis(ctx.session, ctx.principal, page)
        for row in rows:
            ctx.loaders.kpi.prime(row.id, row)
        return connection([KpiNode.of(row) for row in rows], rows, next_cursor)

    @strawberry.field(description="One KPI by id or key; null when it does not exist.")
    async def kpi(
        self, info: Info, id_or_key: Annotated[str, arg("The KPI's id or key.")]
    ) -> KpiNode | None:
        ctx = info.context
        try:
            async with ctx.db_lock:
                row = await service.get_kpi(ctx.session, ctx.principal, id_or_key)
        except NotFound:
            return None
        return KpiNode.of(row)

    @strawberry.field(description="Current alert series, by fingerprint; optionally one state.")
    async def alerts(
        self,
        info: Info,
        state: Annotated[State | None, arg("Only series in this state, e.g. FIRING.")] = None,
        first: First = DEFAULT_LIMIT,
        after: After = None,
    ) -> Connection[AlertNode]:
        ctx = info.context
        page: PageRequest = page_request(first, after)
        async with ctx.db_lock:
            rows, next_cursor = await rules_service.list_alerts(
                ctx.session, ctx.principal, state, page
            )
        edges = [Edge(cursor=row.fingerprint, node=AlertNode.of(row)) for row in rows]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=next_cursor is not None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
