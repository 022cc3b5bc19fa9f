"""A real HTTP receiver on loopback for webhook tests: records every request and answers
with whatever the test scripts (a status, headers, a delay)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    at: float


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


Script = Callable[[Received], Reply]


def always_ok(_: Received) -> Reply:
    return Reply()


class Receiver:
    def __init__(self, script: Script = always_ok) -> None:
        self.script = script
        self.received: list[Received] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight_per_id = 0
        self.max_concurrent = 0  # requests open at once, whatever their ids
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request = Received(headers, b"".join(chunks), scope["path"], time.monotonic())
        msg_id = headers.get("webhook-id", "")
        self.in_flight[msg_id] = self.in_flight.get(msg_id, 0) + 1
        self.max_in_flight_per_id = max(self.max_in_flight_per_id, self.in_flight[msg_id])
        self.max_concurrent = max(self.max_concurrent, sum(self.in_flight.values()))
        try:
            reply = self.script(request)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            self.received.append(request)
        finally:
            self.in_flight[msg_id] -= 1
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode(), v.encode()) for k, v in reply.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    async def __aenter__(self) -> Receiver:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(1000):  # uvicorn offers no event to wait on
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        self._server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, timeout=5)

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + within
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"received {len(self.received)} of {count} webhooks")
            await asyncio.sleep(0.02)
        return self.received
