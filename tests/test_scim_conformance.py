"""The SCIM conformance suite (scim2-tester) against a live server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from service.app import create_app
from service.config import Settings
from tests.conftest import Tenant


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_server(settings: Settings, database_url: str) -> Iterator[str]:
    """The app under uvicorn in a thread of its own, on the test database."""
    port = _free_port()
    app = create_app(settings, database_url=database_url)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


async def test_scim2_tester_reports_no_failure(tenant: Tenant, live_server: str) -> None:
    scim = await tenant.key_with("scim")

    def run() -> list[object]:
        with Client(
            base_url=f"{live_server}/scim/v2", headers={"Authorization": f"Bearer {scim.key}"}
        ) as http:
            return list(check_server(SyncSCIMClient(http)))

    results = await asyncio.to_thread(run)
    failures = [
        f"{r.title}: {r.reason}"  # type: ignore[attr-defined]
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED)  # type: ignore[attr-defined]
    ]
    assert not failures, "\n".join(failures)
    succeeded = [r for r in results if r.status is Status.SUCCESS]  # type: ignore[attr-defined]
    assert len(succeeded) >= 100, len(succeeded)
