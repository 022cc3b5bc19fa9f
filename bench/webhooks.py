"""Webhook delivery: latency from an event's commit to its arrival, and deliveries/s.

    .venv/bin/python -m bench.webhooks [--events 20000] [--rate 100] [--seconds 20]

A local receiver (a minimal HTTP/1.1 server in this process) answers 200 at once.
(a) Throughput: N events are committed while no dispatcher runs, then two `meridian worker`
    processes start; deliveries/s is measured from the first arrival to the last.
(b) Latency: with the two workers running, one event is committed every 1/rate seconds, each
    in its own transaction; latency is arrival time minus the moment COMMIT returned.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.common import Server, percentile, running_server
from bench.results import Figure, report
from service.common.ids import prefixed

ENV = {
    "MERIDIAN_WEBHOOK_ALLOW_HTTP": "true",
    "MERIDIAN_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "MERIDIAN_WEBHOOK_DISPATCH_IN_SERVE": "false",
}


class MinimalHttpReceiver(asyncio.Protocol):
    """Just enough HTTP/1.1 (keep-alive, Content-Length) to read requests and answer 200;
    subclasses note arrivals or answer otherwise by overriding ``answer`` (the status line)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            status = self.answer(headers, body)
            self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\n\r\n")  # type: ignore[attr-defined]

    def answer(self, headers: dict[str, str], body: bytes) -> bytes:
        return b"200 OK"


class Receiver(MinimalHttpReceiver):
    """Answers 200 at once and notes when each webhook-id first arrived."""

    arrivals: dict[str, float] = {}

    def answer(self, headers: dict[str, str], body: bytes) -> bytes:
        Receiver.arrivals.setdefault(headers.get("webhook-id", ""), time.time())
        return b"200 OK"


def body_of(event_id: str, n: int) -> bytes:
    data = {
        "alert_id": f"alrt_{n}",
        "kpi": {"id": str(uuid.uuid4()), "key": "churn", "name": "Churn"},
        "state": "firing",
        "severity": "critical",
        "value": 2.71,
        "threshold": 2.5,
        "fingerprint": f"fp_{n}",
        "sequence": 1,
    }
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": "kpi.breached", "timestamp": now, "data": data}).encode()


INSERT = "INSERT INTO events (id, organization_id, type, occurred_at, body) VALUES ($1,$2,$3,$4,$5)"


def start_workers(server: Server, count: int) -> list[subprocess.Popen[bytes]]:
    meridian = str(Path(sys.executable).parent / "meridian")
    env = {
        **os.environ,
        **ENV,
        "MERIDIAN_DATABASE_URL": server.database_url,
        # The server's data directory holds the key that seals webhook secrets.
        "MERIDIAN_DATA_DIR": str(server.data_dir),
        "MERIDIAN_LOG_LEVEL": "WARNING",
        "MERIDIAN_WEBHOOK_BATCH_SIZE": "200",
    }
    return [
        subprocess.Popen([meridian, "worker"], env=env, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


# The bench's receiver takes whatever it is sent: the endpoint's limit (4 in flight by
# default, to spare real receivers) is raised so that the dispatchers' own capacity is what
# is measured.
UNLIMITED = {"max_in_flight": 1000}


async def wait_for(ids: list[str], within: float) -> None:
    deadline = time.monotonic() + within
    while not all(i in Receiver.arrivals for i in ids):
        if time.monotonic() > deadline:
            missing = sum(1 for i in ids if i not in Receiver.arrivals)
            raise SystemExit(f"{missing} of {len(ids)} events never arrived")
        await asyncio.sleep(0.05)


async def run(events: int, rate: float, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(Receiver, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    with running_server(extra_env=ENV) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            r = await http.post(
                "/v1/webhook-endpoints", json={"url": f"http://127.0.0.1:{port}/", **UNLIMITED}
            )
            r.raise_for_status()
        org = uuid.UUID(server.organization_id)
        db = await asyncpg.connect(server.database_url)
        backlog = [prefixed("msg") for _ in range(events)]
        rows = [
            (i, org, "kpi.breached", datetime.now(UTC), body_of(i, n))
            for n, i in enumerate(backlog)
        ]
        async with db.transaction():
            await db.executemany(INSERT, rows)
        workers = start_workers(server, 2)
        try:
            await wait_for(backlog, within=600)
            times = sorted(Receiver.arrivals[i] for i in backlog)
            throughput = (len(times) - 1) / (times[-1] - times[0])
            latencies = []
            pending = []
            interval = 1 / rate
            started = time.monotonic()
            n = 0
            while time.monotonic() - started < seconds:
                event_id = prefixed("msg")
                await db.execute(
                    INSERT, event_id, org, "kpi.breached", datetime.now(UTC), body_of(event_id, n)
                )
                pending.append((event_id, time.time()))
                n += 1
                next_at = started + n * interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await wait_for([i for i, _ in pending], within=60)
            latencies = [Receiver.arrivals[i] - committed for i, committed in pending]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
            await db.close()
    listener.close()
    print(f"throughput: {events} events, 2 workers: {throughput:,.0f} deliveries/s")
    print(
        f"latency at {rate:.0f} events/s for {seconds:.0f} s ({len(latencies)} events): "
        f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    report(
        Figure("webhooks", f"deliveries/s, {events:,} events, 2 workers", throughput, "/s",
               goal=">= 1,000", met=throughput >= 1000)
    )  # fmt: skip
    p99 = percentile(latencies, 99) * 1000
    report(
        Figure("webhooks", f"commit to arrival p99 at {rate:.0f} events/s", p99, "ms",
               goal="< 500 ms", met=p99 < 500)
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(run(args.events, args.rate, args.seconds))


if __name__ == "__main__":
    main()
