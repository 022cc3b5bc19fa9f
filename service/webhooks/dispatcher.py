"""The outbox relay: claim due messages, send them outside any transaction, record the result.

Any number of dispatchers may run (inside ``meridian serve`` and as ``meridian worker``):
claims use ``FOR UPDATE SKIP LOCKED`` and a lease, so one message is never being sent by two
at once. ``LISTEN webhook_messages`` wakes them early; they poll anyway, because a
notification can be missed. On stop, deliveries in flight finish and are recorded, and the
claimed messages not yet started are released at once for another dispatcher to send (so a
stop waits for one round of requests, never for a whole batch).

One message never costs another its delivery: whatever goes wrong while sending one (a
receiver's odd answer, a URL stored before today's vetting, our own bug) is recorded as that
message's failed attempt, and a result the database refuses is recorded on its own, without
its details. The loop logs and survives anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from service.common.database_errors import connection_lost
from service.common.failure_runs import FailureRun
from service.common.ids import prefixed
from service.config import Settings
from service.events.outbox import encode_body
from service.webhooks import policy, sender, ssrf
from service.webhooks import queue_repository as queue
from service.webhooks.policy import decide
from service.webhooks.secret_box import SecretBox, box_from_settings

logger = logging.getLogger("meridian.webhooks")
CHANNEL = "webhook_messages"
UNEXPECTED = "internal_error"
"""The error class of an attempt that raised what the sender does not expect."""
UNSTORABLE = "The attempt's response body and error text could not be stored."
UNREADABLE_SECRETS = (
    "No signing secret of this endpoint opens with the configured MERIDIAN_SECRET_KEYS; "
    "nothing was sent."
)


@dataclass(frozen=True)
class DispatcherConfig:
    sender: sender.SenderConfig
    schedule: tuple[float, ...]
    jitter: float = 0.2
    batch_size: int = 100
    concurrency: int = 8
    lease_seconds: float = 60.0
    poll_interval: float = 2.0
    disable_after_seconds: float = 5 * 24 * 3600
    overload_penalty: float = policy.OVERLOAD_PENALTY_SECONDS
    # Opens the sealed signing secrets; None only where nothing is sent (tests of claims).
    secret_box: SecretBox | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatcherConfig:
        return cls(
            sender=sender.SenderConfig(
                allowlist=ssrf.parse_allowlist(settings.webhook_allowed_networks),
                allow_http=settings.webhook_allow_http,
                connect_timeout=settings.webhook_connect_timeout,
                total_timeout=settings.webhook_timeout,
            ),
            schedule=settings.retry_schedule(),
            jitter=settings.webhook_retry_jitter,
            batch_size=settings.webhook_batch_size,
            concurrency=settings.webhook_concurrency,
            lease_seconds=settings.webhook_lease_seconds,
            poll_interval=settings.webhook_poll_interval,
            disable_after_seconds=settings.webhook_disable_after_seconds,
            secret_box=box_from_settings(settings),
        )


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of an endpoint URL: what an event may say about it. The
    path and query often carry the receiver's token, and events are readable with the read
    scope and sent to the organization's other endpoints."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The same database for a plain asyncpg pool (the dispatcher does not use the ORM)."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class Dispatcher:
    def __init__(
        self,
        dsn: str,
        config: DispatcherConfig,
        resolver: ssrf.Resolver = ssrf.system_resolver,
        failures: FailureRun | None = None,
    ) -> None:
        self.dsn = dsn
        self.config = config
        self.resolver = resolver
        # Shared with ``run_dispatcher``: an outage is one run whichever step fails.
        self.failures = failures or FailureRun(logger, "webhook dispatch")
        # Messages that met something unexpected: a bug hitting every message of every
        # batch is then one logged traceback, not one per message.
        self.message_failures = FailureRun(logger, "webhook message handling")
        self._troubled = False  # whether this batch met something unexpected
        self._wake = asyncio.Event()
        # httpx's pool gets slower per request with many connections in play; a few
        # requests in flight per dispatcher deliver more per second (see bench/README.md).
        self._slots = asyncio.Semaphore(config.concurrency)
        self._stop: asyncio.Event | None = None
        self._pool: Any = None
        self._client: httpx.AsyncClient | None = None
        self._listener: Any = None

    async def __aenter__(self) -> Dispatcher:
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=4,
            server_settings={"application_name": "meridian-webhooks"},
        )
        self._client = sender.new_client(self.config.sender, self.config.concurrency)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_listening()
        if self._client is not None:
            await self._client.aclose()
        if self._pool is not None:
            await self._pool.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; errors are logged (``FailureRun``) and retried,
        never fatal."""
        logger.info("webhook dispatcher started")
        self._stop = stop
        while not stop.is_set():
            sent = 0
            wait = self.config.poll_interval
            try:
                await self._ensure_listening()
                await self.reap()
                sent = await self.dispatch_once()
                if not sent:
                    wait = await self._until_next_token(wait)
            except Exception as error:  # an outage, or a bug: both are retried after a wait
                self.failures.failed(error)
            else:
                self.failures.succeeded()
            if sent:
                # More may be due right now: beyond the batch, or held back by an
                # endpoint's max_in_flight until the messages just sent were recorded.
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def dispatch_once(self) -> int:
        """Claim one batch, send it concurrently, record every outcome; returns the count."""
        async with self._pool.acquire() as connection, connection.transaction():
            claimed = await queue.claim(
                connection, self.config.batch_size, self.config.lease_seconds
            )
        if not claimed:
            return 0
        self._troubled = False
        try:
            attempts = await asyncio.gather(*(self._attempt(message) for message in claimed))
        except asyncio.CancelledError:
            # Cancelled mid-flight: give the leases back so another worker sends them now.
            with contextlib.suppress(Exception):
                async with self._pool.acquire() as connection:
                    await queue.release(connection, claimed)
            raise
        results = [attempt for attempt in attempts if attempt is not None]
        unsent = [m for m, attempt in zip(claimed, attempts, strict=True) if attempt is None]
        if unsent:  # stopping: these were never sent, so nothing is lost or sent twice
            async with self._pool.acquire() as connection:
                await queue.release(connection, unsent)
            logger.info("released unsent webhook messages", extra={"messages": len(unsent)})
        if results:
            await self._record(results)
        if not self._troubled:
            self.message_failures.succeeded()
        return len(claimed)

    async def _until_next_token(self, poll_interval: float) -> float:
        """How long to sleep: the poll interval, or less when an endpoint held back by its
        ``throttle_rate`` has messages due and gets its next token sooner."""
        async with self._pool.acquire() as connection:
            seconds = await queue.seconds_to_next_token(connection)
        return poll_interval if seconds is None else min(poll_interval, seconds + 0.001)

    async def reap(self) -> int:
        """Messages whose worker died mid-send become due again once their lease expires."""
        async with self._pool.acquire() as connection:
            reaped = await queue.reap(connection)
        if reaped:
            logger.warning("reclaimed expired webhook leases", extra={"messages": reaped})
        return reaped

    async def _attempt(self, message: queue.Claimed) -> tuple[queue.Recorded, str | None] | None:
        """Send one message and decide its outcome; ``None`` when a stop came first. Nothing
        raised here escapes: it would fail the whole batch, other tenants' messages too."""
        async with self._slots:
            if self._stop is not None and self._stop.is_set():
                return None
            started_at = datetime.now(UTC)
            started = time.perf_counter()
            try:
                sent = await self._send(message)
            except Exception as error:
                self._unexpected(error)
                elapsed_ms = int((time.perf_counter() - started) * 1000)
                failure = policy.Result(None, UNEXPECTED)
                sent = sender.Sent(failure, elapsed_ms, None, sender.describe(error))
        return self._decided(message, started_at, sent)

    def _decided(
        self, message: queue.Claimed, started_at: datetime, sent: sender.Sent
    ) -> tuple[queue.Recorded, str | None]:
        now = datetime.now(UTC)
        try:
            decision = decide(
                sent.result,
                trigger=message.trigger,
                retry_index=message.retry_index,
                schedule=self.config.schedule,
                now=now,
                jitter=self.config.jitter,
                overload_penalty=self.config.overload_penalty,
            )
        except Exception as error:  # e.g. a retry too far ahead for a datetime: none is made
            self._unexpected(error)
            decision = policy.Decision("failed")
        recorded = queue.Recorded(
            claimed=message,
            started_at=started_at,
            duration_ms=sent.duration_ms,
            outcome=decision.outcome,
            next_attempt_at=decision.next_attempt_at,
            status_code=sent.result.status,
            response_body=sent.response_body,
            error_class=sent.result.failure_class,
            error=sent.error,
        )
        return recorded, decision.disable_reason

    def _unexpected(self, error: Exception) -> None:
        self._troubled = True
        self.message_failures.failed(error)

    async def _send(self, message: queue.Claimed) -> sender.Sent:
        assert self._client is not None and self.config.secret_box is not None
        secrets = self.config.secret_box.open_all(message.secrets, message.endpoint_id)
        if not secrets:
            # Sending unsigned would teach receivers to accept anything: retry on the
            # schedule instead, so deliveries resume once the operator restores the key.
            failure = policy.Result(None, "secret_unreadable")
            return sender.Sent(failure, 0, None, UNREADABLE_SECRETS)
        outgoing = sender.Outgoing(
            msg_id=message.event_id,
            event_type=message.event_type,
            body=message.body,
            url=message.url,
            secrets=secrets,
            attempt_number=message.attempt_number,
        )
        return await sender.send(self._client, outgoing, self.config.sender, self.resolver)

    async def _record(self, results: Sequence[tuple[queue.Recorded, str | None]]) -> None:
        """Record a batch in one transaction; if the database refuses it for anything but a
        lost connection (a value it cannot store), record each message on its own."""
        try:
            await self._record_together(results)
        except Exception as error:
            if connection_lost(error):
                raise
            self._unexpected(error)
            await self._record_each(results)

    async def _record_each(self, results: Sequence[tuple[queue.Recorded, str | None]]) -> None:
        """Each result in its own transaction, and one the database still refuses without
        the receiver's answer and our error text: what is left is ids, numbers and our own
        words. A failure that remains (the database went away) is raised after the others
        were tried."""
        first_error: Exception | None = None
        for result, disable_reason in results:
            try:
                await self._record_together([(result, disable_reason)])
            except Exception as error:
                if connection_lost(error):
                    first_error = first_error or error
                    continue
                plain = replace(result, response_body=None, error=UNSTORABLE)
                try:
                    await self._record_together([(plain, disable_reason)])
                except Exception as again:
                    first_error = first_error or again
        if first_error is not None:
            raise first_error

    async def _record_together(self, results: Sequence[tuple[queue.Recorded, str | None]]) -> None:
        recorded = [r for r, _ in results]
        disable_reasons: dict[uuid.UUID, str] = {
            r.claimed.endpoint_id: reason for r, reason in results if reason
        }
        ok_by_endpoint: dict[uuid.UUID, bool] = {}
        for r in recorded:
            ok_by_endpoint[r.claimed.endpoint_id] = ok_by_endpoint.get(
                r.claimed.endpoint_id, False
            ) or (r.outcome == "succeeded")
        async with self._pool.acquire() as connection, connection.transaction():
            kept = await queue.record(connection, recorded)
            if len(kept) < len(recorded):
                logger.warning(
                    "webhook results dropped: lease lost", extra={"lost": len(recorded) - len(kept)}
                )
            await queue.track_failures(connection, ok_by_endpoint)
            failing = [e for e, ok in ok_by_endpoint.items() if not ok]
            for endpoint_id in await queue.failing_for(
                connection, failing, self.config.disable_after_seconds
            ):
                disable_reasons.setdefault(endpoint_id, "failing")
            if disable_reasons:
                await self._disable(connection, disable_reasons)

    async def _disable(self, connection: Any, reasons: dict[uuid.UUID, str]) -> None:
        now = datetime.now(UTC)
        for row in await queue.disable(connection, reasons):
            logger.warning(
                "webhook endpoint disabled",
                extra={"endpoint_id": str(row["id"]), "reason": row["disabled_reason"]},
            )
            data = {
                "endpoint_id": row["id"],
                "url_origin": url_origin(row["url"]),
                "reason": row["disabled_reason"],
                "failing_since": row["failing_since"],
            }
            await queue.insert_event(
                connection,
                prefixed("msg"),
                row["organization_id"],
                "webhook_endpoint.disabled",
                now,
                encode_body("webhook_endpoint.disabled", now, data),
            )

    async def _ensure_listening(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self._listener = await asyncpg.connect(self.dsn)
            await self._listener.add_listener(CHANNEL, self._notified)

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def _stop_listening(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
        self._listener = None


async def run_dispatcher(dsn: str, config: DispatcherConfig, stop: asyncio.Event) -> None:
    """A dispatcher for the life of a process; survives the database going away."""
    failures = FailureRun(logger, "webhook dispatch")
    while not stop.is_set():
        try:
            async with Dispatcher(dsn, config, failures=failures) as dispatcher:
                await dispatcher.run(stop)
        except Exception as error:  # an outage or a bug: a new dispatcher, after a wait
            failures.failed(error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=config.poll_interval)
