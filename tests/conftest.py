"""Fixtures: a real PostgreSQL, a fresh migrated database per test, httpx against the app."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from service.app import create_app
from service.auth.service import create_organization
from service.config import Settings
from service.events.outbox import record_event
from service.models.base import utcnow
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig, asyncpg_dsn
from tests.database import DatabaseServer, start_server


@pytest.fixture(scope="session")
async def database_server() -> AsyncIterator[DatabaseServer]:
    server = start_server()
    await server.create_template()
    yield server
    server.stop()


@pytest.fixture
async def database_url(database_server: DatabaseServer) -> AsyncIterator[str]:
    name = await database_server.create_database()
    yield database_server.url_for(name)
    await database_server.drop_database(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        run_background=False,
        rate_limit_enabled=False,  # tests/test_ratelimit.py turns it on
        # Webhooks go to local receivers: loopback is allowlisted, nothing else is.
        webhook_allow_http=True,
        webhook_allowed_networks="127.0.0.0/8,::1/128",
        webhook_retry_schedule="0.2,0.4",
        webhook_retry_jitter=0,
        webhook_poll_interval=0.1,
    )


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meridian.test") as http:
        yield http


@dataclass
class Tenant:
    """An organization with an admin key, and a client that sends it."""

    organization_id: uuid.UUID
    key: str
    http: httpx.AsyncClient
    created: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def create(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST and insist on 201; returns the created resource."""
        response = await self.post(url, json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def key_with(self, *scopes: str) -> Tenant:
        """Another key of this organization with only these scopes."""
        created = await self.create(
            "/v1/api-keys", {"name": f"{'+'.join(scopes)}", "scopes": list(scopes)}
        )
        return Tenant(self.organization_id, created["key"], self.http)


async def new_tenant(app: FastAPI, http: httpx.AsyncClient, name: str) -> Tenant:
    async with app.state.sessionmaker() as session:
        org_id, key = await create_organization(session, name)
        await session.commit()
    return Tenant(org_id, key, http)


@pytest.fixture
async def tenant(app: FastAPI, client: httpx.AsyncClient) -> Tenant:
    return await new_tenant(app, client, "Acme")


@pytest.fixture
async def other_tenant(app: FastAPI, client: httpx.AsyncClient) -> Tenant:
    return await new_tenant(app, client, "Globex")


@pytest.fixture
async def cycle(tenant: Tenant) -> dict[str, Any]:
    """An active cycle from 2026-10-01 to 2026-12-31."""
    return await tenant.create(
        "/v1/cycles",
        {
            "name": "2026-Q4",
            "start_date": "2026-10-01",
            "end_date": "2026-12-31",
            "status": "active",
        },
    )


@pytest.fixture
async def objective(tenant: Tenant, cycle: dict[str, Any]) -> dict[str, Any]:
    return await tenant.create(
        "/v1/objectives", {"title": "Delight customers", "cycle_id": cycle["id"]}
    )


@pytest.fixture
def dispatcher_config(settings: Settings) -> DispatcherConfig:
    return DispatcherConfig.from_settings(settings)


@pytest.fixture
async def dispatcher(
    database_url: str, dispatcher_config: DispatcherConfig
) -> AsyncIterator[Dispatcher]:
    """A webhook dispatcher on the test database; drive it with ``dispatch_once`` or ``run``."""
    async with Dispatcher(asyncpg_dsn(database_url), dispatcher_config) as running:
        yield running


@asynccontextmanager
async def dispatching(dispatcher: Dispatcher) -> AsyncIterator[None]:
    """Run the dispatcher's loop in the background for the duration of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


async def emit(
    app: FastAPI, organization_id: uuid.UUID, event_type: str, count: int = 1
) -> list[str]:
    """Write events through the real outbox writer, committed like a request would."""
    ids = []
    async with app.state.sessionmaker() as session:
        for n in range(count):
            event = await record_event(session, organization_id, event_type, utcnow(), {"n": n})
            ids.append(event.id)
        await session.commit()
    return ids


@contextmanager
def loop_errors() -> Iterator[list[str]]:
    """What reaches the event loop's exception handler ("Future exception was never
    retrieved", say), collected after a full garbage collection."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    seen: list[str] = []
    loop.set_exception_handler(lambda _, context: seen.append(context["message"]))
    try:
        yield seen
        gc.collect()
    finally:
        loop.set_exception_handler(previous)


async def until_waiting_on_a_lock(app: FastAPI) -> None:
    """Return once some statement waits on a lock (a test's held row or advisory lock)."""
    for _ in range(200):
        async with app.state.sessionmaker() as session:
            waiting = await session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("nothing waited on a lock")
