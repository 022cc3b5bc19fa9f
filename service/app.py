"""create_app(): lifespan, middleware, routers, /graphql and error handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from service import __version__
from service.alignment.router import router as alignment_router
from service.api import openapi, problems
from service.api.idempotency import run_sweeper
from service.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from service.api.ratelimit import RateLimiter
from service.auth.router import router as api_keys_router
from service.common.gc import collect_less_often, freeze_startup_heap
from service.config import Settings, get_settings
from service.cycles.router import router as cycles_router
from service.db import create_engine, create_sessionmaker, resolve_database_url
from service.errors import ServiceUnavailable
from service.events.router import router as events_router
from service.goals.router import router as goals_router
from service.graphql.router import graphql_router
from service.kpis.combiner import IngestCombiner
from service.kpis.ingest import insert_and_evaluate
from service.kpis.router import router as kpis_router
from service.kpis.scheduler import run_scheduler
from service.logs import configure_logging
from service.metrics import render
from service.organizations.router import router as organization_router
from service.people.router import router as people_router
from service.planning.router import router as planning_router
from service.scim.router import router as scim_router
from service.teams.router import router as teams_router
from service.webhooks.dispatcher import DispatcherConfig, asyncpg_dsn, run_dispatcher
from service.webhooks.router import router as webhooks_router
from service.webhooks.secret_box import box_from_settings
from service.webhooks.service import UrlPolicy
from service.webhooks.ssrf import parse_allowlist

API_DESCRIPTION = """\
Meridian is an API-first service for OKRs and KPIs.

Authenticate with an API key: `Authorization: Bearer mrd_...`. Errors are RFC 9457
`application/problem+json`. Lists are cursor-paginated (`limit`, `cursor` → `next_cursor`).
Single-resource reads return a strong `ETag`, `"<id>-<version>.<digest>"`, whose digest
covers the whole representation, computed fields included (progress, pace, health, a KPI's
latest reading): `If-None-Match` answers `304` only while none of it changed. Send the ETag
as `If-Match` on `PATCH`: it is compared on `<id>-<version>` only, the resource's own
fields, so a new reading, a check-in or time passing does not make it stale (`412`).
Send `Idempotency-Key` on `POST` to make retries safe.
"""


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        engine = create_engine(url, settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        # Reads need no transaction: under READ COMMITTED each statement takes its own
        # snapshot inside one anyway, so BEGIN and COMMIT were two round trips for nothing.
        app.state.read_sessionmaker = create_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # Readings rounds get connections of their own: the requests waiting for a round
        # each hold one of the main pool, and could otherwise leave the round none.
        rounds_engine = app.state.rounds_engine = create_engine(
            url, settings, pool_size=2, max_overflow=2
        )
        app.state.ingest_combiner = IngestCombiner(
            create_sessionmaker(rounds_engine), insert_and_evaluate
        )
        stop = asyncio.Event()
        background = []
        if settings.run_background:
            background.append(
                asyncio.create_task(
                    run_scheduler(app.state.sessionmaker, settings.evaluation_interval, stop)
                )
            )
            sweeper = run_sweeper(app.state.sessionmaker, settings.idempotency_ttl(), stop)
            background.append(asyncio.create_task(sweeper))
            if settings.webhook_dispatch_in_serve:
                dsn = asyncpg_dsn(engine.url.render_as_string(hide_password=False))
                config = DispatcherConfig.from_settings(settings)
                background.append(asyncio.create_task(run_dispatcher(dsn, config, stop)))
        freeze_startup_heap()
        collect_less_often()
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*background, return_exceptions=True)
            await engine.dispose()
            await rounds_engine.dispose()

    app = FastAPI(
        title="Meridian",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONResponse,
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.state.url_policy = UrlPolicy(
        allow_http=settings.webhook_allow_http,
        allowlist=parse_allowlist(settings.webhook_allowed_networks),
    )
    app.state.secret_box = box_from_settings(settings)
    problems.install(app)
    openapi.install(app)

    for router in (
        api_keys_router,
        organization_router,
        people_router,
        teams_router,
        cycles_router,
        goals_router,
        alignment_router,
        planning_router,
        kpis_router,
        webhooks_router,
        events_router,
    ):
        app.include_router(router)
    app.include_router(scim_router)
    app.include_router(graphql_router(settings), prefix="/graphql", include_in_schema=False)
    _operations(app)

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


def create_app_from_env() -> FastAPI:
    """The factory ``meridian serve`` gives uvicorn: each worker process reads the settings
    (and the database URL the parent resolved) from the environment."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def _operations(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], operation_id="healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], operation_id="readyz")
    async def readyz() -> dict[str, str]:
        """The database answers; 503 otherwise."""
        try:
            async with app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable("The database is not reachable.") from exc
        return {"status": "ready"}

    @app.get("/metrics", tags=["operations"], operation_id="metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics."""
        body, content_type = render()
        return Response(body, media_type=content_type)
