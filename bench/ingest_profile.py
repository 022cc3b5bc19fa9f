"""Where one ``POST /v1/readings`` batch spends its time, in process, with one client.

    .venv/bin/python -m bench.ingest_profile [--batches 30] [--profile]

The app runs in this process (httpx over ASGI, no sockets, no uvicorn) against a fresh
embedded PostgreSQL, so with one client nothing else competes for the interpreter: per
batch, wall time minus this process's CPU time is time spent waiting on PostgreSQL.
``--profile`` adds a cProfile of the measured batches (top functions by own time);
``--dump FILE`` keeps it for ``pstats``. ``--clients N`` instead sends N batches at once
and reports readings/s (the queue on the shared row locks, without sockets).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import summary
from bench.ingest import BATCH, batches, setup_kpis
from service.app import create_app
from service.auth.service import create_organization
from service.config import Settings
from service.embedded import start_embedded, stop_embedded
from service.migrate import upgrade

JSON = {"Content-Type": "application/json"}


def postgres_cpu(pgdata: Path) -> float:
    """CPU seconds used so far by the server's processes (the postmaster's children), from
    /proc: unlike wall time minus our CPU, it does not grow when other work shares the
    cores. Linux only; 0 elsewhere."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:  # ppid
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


async def concurrent(
    http: httpx.AsyncClient, work: list[list[dict[str, object]]], clients: int
) -> None:
    """``--clients N``: N batches in flight at once on this one event loop, so the lock
    queue on the shared KPI and series rows shows without sockets or other processes."""
    bodies = [json.dumps({"readings": batch}).encode() for batch in work]
    for body in bodies[:5]:  # warm up
        (await http.post("/v1/readings", content=body, headers=JSON)).raise_for_status()
    queue = list(reversed(bodies[5:]))
    latencies: list[float] = []

    async def client() -> None:
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            r = await http.post("/v1/readings", content=body, headers=JSON)
            latencies.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.json()["created"] == BATCH, r.text[:300]

    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    elapsed = time.perf_counter() - started
    print(f"{len(latencies)} batches of {BATCH}, {clients} clients in process")
    print(f"  {len(latencies) * BATCH / elapsed:,.0f} readings/s; per batch {summary(latencies)}")


@contextlib.asynccontextmanager
async def profiled_app(kpis: int) -> AsyncIterator[tuple[httpx.AsyncClient, list[str], Path]]:
    """The app on a fresh embedded PostgreSQL, a client over ASGI, and ``kpis`` KPIs with
    one rule each; yields the client, the KPI keys and the data directory."""
    data_dir = Path(tempfile.mkdtemp(prefix="meridian-profile-"))
    url = start_embedded(data_dir)
    upgrade(url)
    settings = Settings(
        database_url=url, run_background=False, log_level="WARNING", rate_limit_enabled=False
    )
    app = create_app(settings, database_url=url)
    try:
        async with app.router.lifespan_context(app):
            async with app.state.sessionmaker() as session:
                _, key = await create_organization(session, "Profile")
                await session.commit()
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://meridian.test", headers=headers
            ) as http:
                yield http, await setup_kpis(http, "p", kpis), data_dir / "pgdata"
    finally:
        stop_embedded()


async def run(
    count: int, kpis: int, profile: bool, dump: str | None = None, clients: int = 1
) -> None:
    async with profiled_app(kpis) as (http, keys, pgdata):
        work = batches(keys, (count + 5) * BATCH, datetime.now(UTC) - timedelta(minutes=5))
        if clients > 1:
            await concurrent(http, work, clients)
            return
        for batch in work[:5]:  # warm up: plans, pools, imports
            (await http.post("/v1/readings", json={"readings": batch})).raise_for_status()
        profiler = cProfile.Profile() if profile else None
        walls, cpus = [], []
        pg_started, cpu_started = postgres_cpu(pgdata), time.process_time()
        for batch in work[5:]:
            body = json.dumps({"readings": batch}).encode()  # encoded outside the timer
            if profiler:
                profiler.enable()
            wall, cpu = time.perf_counter(), time.process_time()
            r = await http.post("/v1/readings", content=body, headers=JSON)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            if profiler:
                profiler.disable()
            assert r.status_code == 200 and r.json()["created"] == BATCH, r.text[:300]
        pg_cpu = (postgres_cpu(pgdata) - pg_started) / count
        # Includes decoding the answers and encoding the bodies: an upper bound.
        all_cpu = (time.process_time() - cpu_started) / count
    wall_ms = statistics.median(walls) * 1000
    cpu_ms = statistics.median(cpus) * 1000
    print(f"{count} batches of {BATCH} readings across {kpis} KPIs, one client, in process")
    print(f"per batch (median): wall {wall_ms:.1f} ms = Python CPU {cpu_ms:.1f} ms")
    print("  (the body is encoded before the clock starts; the answer decoded after it stops)")
    print(f"  + waiting on PostgreSQL {wall_ms - cpu_ms:.1f} ms")
    print(
        f"CPU per batch (mean, not inflated by other load): PostgreSQL {pg_cpu * 1000:.1f} ms, "
        f"this process {all_cpu * 1000:.1f} ms (with the client's encoding and decoding)"
    )
    print(f"  -> {BATCH / statistics.median(walls):,.0f} readings/s for one client")
    if profiler:
        if dump:
            profiler.dump_stats(dump)
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--kpis", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dump", help="With --profile: also write the stats to this file.")
    parser.add_argument("--clients", type=int, default=1, help="Batches in flight at once.")
    args = parser.parse_args()
    asyncio.run(run(args.batches, args.kpis, args.profile, args.dump, args.clients))
