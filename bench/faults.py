"""Fault drills at bench scale, with figures: nothing here is asserted by the test suite.

    .venv/bin/python -m bench.faults [--events 10000] [--kill-every 2] [--readings 200000]

(a) Webhook workers killed with SIGKILL: two `meridian worker` processes deliver N events
    to a local receiver that answers 500 to a third of all requests (at random); every
    `--kill-every` seconds one worker is killed with SIGKILL and started again, while the
    events are still being committed. Counts: events, requests, 200s, events delivered,
    duplicates (200s beyond the first for an event), kills, time; and the checks: none
    lost, every request for an event carried that event's `webhook-id` and the same body.
(b) PostgreSQL stopped and restarted mid-ingestion: 8 clients post batches of 1,000
    readings to `meridian serve --workers 2` (half with an `Idempotency-Key`, half relying
    on the natural key); once `--down-after` of the batches are acknowledged (a quarter),
    PostgreSQL is stopped (`pg_ctl stop -m fast`) for `--down-for` seconds and started
    again. Clients honour `Retry-After`. Figures: 503s, other errors, the slowest answer,
    rows stored against rows sent, time from restart to ready; the figure counts as met
    only if clients saw the outage (503s).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import Server, running_server
from bench.results import Figure, report
from bench.webhooks import INSERT, UNLIMITED, MinimalHttpReceiver, body_of
from service.common.ids import prefixed
from service.embedded import halt_embedded, resume_embedded

WEBHOOK_ENV = {
    "MERIDIAN_WEBHOOK_ALLOW_HTTP": "true",
    "MERIDIAN_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "MERIDIAN_WEBHOOK_DISPATCH_IN_SERVE": "false",
    "MERIDIAN_RATE_LIMIT_ENABLED": "false",
}
WORKER_ENV = {
    # Retries come quickly and often enough that a third of requests failing loses nothing
    # (ten failures in a row: one chance in 3^10 per event); leases are short so a killed
    # worker's claims come back within seconds.
    "MERIDIAN_WEBHOOK_RETRY_SCHEDULE": "0.2,0.5,1,1,2,2,2,2,2,2",
    "MERIDIAN_WEBHOOK_RETRY_JITTER": "0",
    "MERIDIAN_WEBHOOK_LEASE_SECONDS": "5",
    "MERIDIAN_WEBHOOK_POLL_INTERVAL": "0.5",
    "MERIDIAN_WEBHOOK_BATCH_SIZE": "100",
    "MERIDIAN_EVALUATION_INTERVAL": "3600",
    "MERIDIAN_LOG_LEVEL": "ERROR",
}


class FlakyReceiver(MinimalHttpReceiver):
    """Answers 500 to a third of requests, 200 to the rest; counts both per webhook-id."""

    rng = random.Random(7)
    requests: Counter[str] = Counter()
    succeeded: Counter[str] = Counter()
    bodies: defaultdict[str, set[str]] = defaultdict(set)
    failed = 0

    def answer(self, headers: dict[str, str], body: bytes) -> bytes:
        msg_id = headers.get("webhook-id", "")
        cls = FlakyReceiver
        cls.requests[msg_id] += 1
        cls.bodies[msg_id].add(hashlib.sha256(body).hexdigest())
        if cls.rng.random() < 1 / 3:
            cls.failed += 1
            return b"500 Internal Server Error"
        cls.succeeded[msg_id] += 1
        return b"200 OK"


def start_worker(server: Server) -> subprocess.Popen[bytes]:
    meridian = str(Path(sys.executable).parent / "meridian")
    env = {
        **os.environ,
        **WEBHOOK_ENV,
        **WORKER_ENV,
        "MERIDIAN_DATABASE_URL": server.database_url,
        # The server's data directory holds the key that seals webhook secrets.
        "MERIDIAN_DATA_DIR": str(server.data_dir),
    }
    return subprocess.Popen([meridian, "worker"], env=env, stderr=subprocess.DEVNULL)


async def feed(db: asyncpg.Connection, org: str, ids: list[str], chunks: int) -> None:
    """Commit the events in chunks, a quarter of a second apart, while workers die."""
    size = -(-len(ids) // chunks)
    for start in range(0, len(ids), size):
        rows = [
            (i, org, "kpi.breached", datetime.now(UTC), body_of(i, start + n))
            for n, i in enumerate(ids[start : start + size])
        ]
        async with db.transaction():
            await db.executemany(INSERT, rows)
        await asyncio.sleep(0.25)


async def webhooks_under_kills(events: int, kill_every: float, within: float) -> None:
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(FlakyReceiver, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    with running_server(workers=1, extra_env=WEBHOOK_ENV) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            r = await http.post(
                "/v1/webhook-endpoints", json={"url": f"http://127.0.0.1:{port}/", **UNLIMITED}
            )
            r.raise_for_status()
        db = await asyncpg.connect(server.database_url)
        ids = [prefixed("msg") for _ in range(events)]
        workers = [start_worker(server), start_worker(server)]
        kills = 0
        started = time.monotonic()
        feeding = asyncio.create_task(feed(db, server.organization_id, ids, chunks=40))
        try:
            next_kill = started + kill_every
            while True:
                now = time.monotonic()
                if now - started > within:
                    raise SystemExit(f"not all delivered within {within:.0f} s")
                if now >= next_kill:
                    victim = kills % len(workers)
                    workers[victim].send_signal(signal.SIGKILL)
                    workers[victim].wait()
                    workers[victim] = start_worker(server)
                    kills += 1
                    next_kill += kill_every
                if feeding.done() and all(FlakyReceiver.succeeded[i] for i in ids):
                    pending = await db.fetchval(
                        "SELECT count(*) FROM webhook_messages WHERE status <> 'succeeded'"
                    )
                    if pending == 0:
                        break
                await asyncio.sleep(0.1)
            elapsed = time.monotonic() - started
            states = dict(
                await db.fetch("SELECT status, count(*) FROM webhook_messages GROUP BY status")
            )
            attempts = await db.fetchval("SELECT count(*) FROM webhook_attempts")
        finally:
            feeding.cancel()
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
            await db.close()
    listener.close()
    received = FlakyReceiver
    requests = sum(received.requests.values())
    oks = sum(received.succeeded.values())
    lost = [i for i in ids if not received.succeeded[i]]
    duplicates = sum(n - 1 for n in received.succeeded.values() if n > 1)
    strangers = set(received.requests) - set(ids)
    mixed = [i for i, bodies in received.bodies.items() if len(bodies) > 1]
    print(f"(a) webhook workers under SIGKILL every {kill_every:g} s, receiver failing 1/3")
    print(f"    events {events:,}; kills {kills}; time {elapsed:.1f} s")
    print(
        f"    requests {requests:,} (500s {received.failed:,}, 200s {oks:,}); "
        f"events delivered {len(ids) - len(lost):,}; lost {len(lost)}"
    )
    print(
        f"    duplicates (200s after the first) {duplicates:,} on "
        f"{sum(1 for n in received.succeeded.values() if n > 1):,} events; "
        f"requests with an unknown webhook-id {len(strangers)}; "
        f"webhook-ids seen with two bodies {len(mixed)}"
    )
    print(f"    messages by status {states}; attempts recorded {attempts:,} of {requests:,} sent")
    report(
        Figure("faults", f"webhook events lost, {kills} SIGKILLs, 1/3 failing", len(lost),
               f"of {events:,}", goal="0", met=not lost and not mixed)
    )  # fmt: skip


@dataclass
class Clients:
    batches: int = 0
    unavailable: int = 0
    other: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0
    created_by_keyed: int = 0
    first_ok_after_restart: float | None = None


START = datetime(2026, 1, 1, tzinfo=UTC)


def batch_body(client: int, number: int, per_batch: int, batches: int, kpis: int) -> dict[str, Any]:
    first = (client * batches + number) * per_batch
    return {
        "readings": [
            {
                "kpi": f"k{(first + n) % kpis}",
                "value": float(n),
                "observed_at": (START + timedelta(seconds=first + n)).isoformat(),
            }
            for n in range(per_batch)
        ]
    }


async def client_loop(
    http: httpx.AsyncClient,
    client: int,
    args: argparse.Namespace,
    seen: Clients,
    restart: list[float],
) -> None:
    keyed = client % 2 == 0
    for number in range(args.batches):
        body = batch_body(client, number, args.per_batch, args.batches, args.kpis)
        headers = {"Idempotency-Key": f"c{client}-b{number}"} if keyed else {}
        while True:
            asked = time.monotonic()
            try:
                response = await http.post("/v1/readings", json=body, headers=headers)
            except httpx.HTTPError as exc:
                seen.other[type(exc).__name__] += 1
                await asyncio.sleep(1)
                continue
            finally:
                seen.slowest = max(seen.slowest, time.monotonic() - asked)
            if response.status_code == 503:
                seen.unavailable += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                continue
            if response.status_code != 200:
                seen.other[str(response.status_code)] += 1
                await asyncio.sleep(1)
                continue
            if restart and seen.first_ok_after_restart is None and asked > restart[0]:
                seen.first_ok_after_restart = time.monotonic() - restart[0]
            seen.batches += 1
            if keyed:
                seen.created_by_keyed += response.json()["created"]
            break


async def postgres_restart(args: argparse.Namespace) -> None:
    log = Path(tempfile.mkdtemp(prefix="meridian-faults-")) / "serve.log"
    with running_server(extra_env={"MERIDIAN_RATE_LIMIT_ENABLED": "false"}, log=log) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with httpx.AsyncClient(
            base_url=server.base_url,
            headers=headers,
            timeout=120,
            limits=httpx.Limits(max_connections=args.clients + 4),
        ) as http:
            for k in range(args.kpis):
                r = await http.post("/v1/kpis", json={"key": f"k{k}", "name": f"KPI {k}"})
                r.raise_for_status()
            seen = Clients()
            restart: list[float] = []
            started = time.monotonic()
            clients = [
                asyncio.create_task(client_loop(http, c, args, seen, restart))
                for c in range(args.clients)
            ]
            # Stopped once a share of the batches is in, not after a fixed time: on a fast
            # host every batch had landed within the 3 s the bench once waited.
            total = args.clients * args.batches
            for _ in range(60_000):  # 10 minutes at most
                if seen.batches >= total * args.down_after or all(c.done() for c in clients):
                    break
                await asyncio.sleep(0.01)
            acked_before = seen.batches
            await asyncio.to_thread(halt_embedded, server.data_dir)
            halted = time.monotonic()
            not_ready = (await http.get("/readyz")).status_code
            await asyncio.sleep(args.down_for)
            await asyncio.to_thread(resume_embedded, server.data_dir)
            restart.append(time.monotonic())
            for _ in range(3000):
                if (await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.02)
            ready_after = time.monotonic() - restart[0]
            await asyncio.gather(*clients)
            elapsed = time.monotonic() - started
        db = await asyncpg.connect(server.database_url)
        try:
            stored = await db.fetchval("SELECT count(*) FROM kpi_readings")
        finally:
            await db.close()
    expected = args.clients * args.batches * args.per_batch
    keyed_expected = (args.clients + 1) // 2 * args.batches * args.per_batch
    print(
        f"(b) PostgreSQL stopped for {restart[0] - halted:.1f} s"
        f" mid-ingestion ({args.clients} clients, batches of {args.per_batch:,}, "
        f"{server.workers} serve workers; {acked_before} batches acknowledged before the stop)"
    )
    print(
        f"    /readyz while down: {not_ready}; "
        f"ready {ready_after * 1000:.0f} ms after the restart; "
        f"first batch accepted {(seen.first_ok_after_restart or float('nan')):.2f} s after it "
        "(clients wait Retry-After: 5 s)"
    )
    print(
        f"    503s {seen.unavailable} (each retried); other errors {dict(seen.other) or 0}; "
        f"slowest answer {seen.slowest:.2f} s"
    )
    print(
        f"    rows stored {stored:,} of {expected:,} sent "
        f"({'exactly once' if stored == expected else 'MISMATCH'}); "
        f"keyed clients' created {seen.created_by_keyed:,} of {keyed_expected:,}; "
        f"time {elapsed:.1f} s"
    )
    errors = Counter(
        entry.get("logger")
        for entry in map(json_or_none, log.read_text().splitlines())
        if entry and entry.get("level") == "error"
    )
    # meridian.errors is the API's unhandled errors (500s); the dispatcher and scheduler
    # log each failed round while the database is away, then reconnect.
    print(f"    errors logged by logger: {dict(errors) or 0} (log: {log})")
    report(
        Figure("faults", "PostgreSQL restart: readings stored", stored, "rows", expected,
               "rows sent", "exactly once, no 500",
               stored == expected and not seen.other and seen.unavailable > 0)
    )  # fmt: skip


def json_or_none(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--kill-every", type=float, default=2.0)
    parser.add_argument("--within", type=float, default=600.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=25, help="per client")
    parser.add_argument("--per-batch", type=int, default=1000)
    parser.add_argument("--kpis", type=int, default=10)
    parser.add_argument(
        "--down-after", type=float, default=0.25, help="Share of batches acknowledged first."
    )
    parser.add_argument("--down-for", type=float, default=5.0)
    parser.add_argument("--only", choices=["webhooks", "postgres"])
    args = parser.parse_args()
    if args.only != "postgres":
        asyncio.run(webhooks_under_kills(args.events, args.kill_every, args.within))
    if args.only != "webhooks":
        asyncio.run(postgres_restart(args))


if __name__ == "__main__":
    main()
