"""ASGI middleware: request ids, access logs and metrics; the body size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.api.problems import error_document
from service.api.ratelimit import response_headers
from service.errors import PayloadTooLarge
from service.logs import request_id_var

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("meridian.access")


class RequestContextMiddleware:
    """Honours a sane ``X-Request-ID`` (or makes one), returns it, logs and counts the request.
    A keyed request's response also gets its ``RateLimit-*`` fields here, whatever produced
    it (a model, a raw ``Response``, a problem), and ``Server-Timing``: the milliseconds from
    the request's arrival to its response head, so a client can tell the service's time from
    the network's and its own (a whole body is made before its head is sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                    (b"server-timing", server_timing(time.perf_counter() - started)),
                    *response_headers(scope.get("state") or {}),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.observe_request(scope["method"], route, status, elapsed)
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


def server_timing(seconds: float) -> bytes:
    """The ``Server-Timing`` field (W3C Server Timing) for the service's time so far."""
    return b"app;dur=%.2f" % (seconds * 1000)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, by ``Content-Length`` or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _send_problem(send, scope, self._error())
            return
        # Read the body up front (it is bounded by the limit) so an oversized stream gets a
        # clean 413 before the app starts, then replay it to the app unchanged.
        chunks: list[bytes] = []
        received = 0
        more = scope["method"] not in ("GET", "HEAD", "DELETE", "OPTIONS")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await _send_problem(send, scope, self._error())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay if chunks or body else receive, send)

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The body exceeds the limit of {self.max_bytes} bytes.")


async def _send_problem(send: Send, scope: Scope, error: PayloadTooLarge) -> None:
    body, media_type = error_document(error, scope["path"])
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
