"""``meridian serve`` as users run it: a real process (or several) on a real socket."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx

from service.serving import bind_worker_sockets
from tests.conftest import Tenant

MERIDIAN = str(Path(sys.executable).parent / "meridian")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_for_lines(
    stream: asyncio.StreamReader, needle: str, count: int, log: list[str]
) -> None:
    seen = 0
    while seen < count:
        line = (await asyncio.wait_for(stream.readline(), timeout=60)).decode()
        assert line, "serve exited before it was ready:\n" + "".join(log)
        log.append(line)
        seen += needle in line


async def post_retrying(http: httpx.AsyncClient, value: int) -> httpx.Response:
    """A client keeping the documented contract: a 503 carries Retry-After; retry then."""
    body = {"readings": [{"kpi": "mrr", "value": value}]}
    for _ in range(5):
        response = await http.post("/v1/readings", json=body)
        if response.status_code != 503:
            return response
        assert "retry-after" in response.headers
        await asyncio.sleep(float(response.headers["retry-after"]))
    return response


async def test_serve_with_two_workers_answers_and_stops_cleanly(
    tenant: Tenant, database_url: str
) -> None:
    await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    port = _free_port()
    env = {
        **os.environ,
        "MERIDIAN_DATABASE_URL": database_url,
        "MERIDIAN_RUN_BACKGROUND": "false",
        "MERIDIAN_LOG_LEVEL": "INFO",
    }
    process = await asyncio.create_subprocess_exec(
        MERIDIAN,
        *("serve", "--port", str(port), "--workers", "2", "--no-migrate"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    log: list[str] = []
    try:
        assert process.stderr is not None
        # Each worker process logs its own start-up: two of them means two processes.
        await _wait_for_lines(process.stderr, "Application startup complete", 2, log)
        headers = {"Authorization": f"Bearer {tenant.key}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
        ) as http:
            answers = await asyncio.gather(*[post_retrying(http, i) for i in range(8)])
        statuses = [r.status_code for r in answers]
        listed = await tenant.get("/v1/kpis/mrr/readings")
        pids = {
            int(m.group(1)) for line in log if (m := re.search(r"server process \[(\d+)\]", line))
        }
        assert len(pids) == 2, log
        spread = await spread_of_connections(pids, port, 32)
        # 32 connections opened at once: with one shared socket, the worker that woke
        # first would accept them all; with a socket per worker the kernel spreads them
        # (all on one worker by chance: 2 in 2**32).
        assert all(spread[pid] > 0 for pid in pids), spread
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(process.communicate(), timeout=60)
    errors = [line for line in rest.decode().splitlines() if '"level": "error"' in line]
    assert statuses == [200] * 8, errors
    assert process.returncode == 0, "".join(log) + rest.decode()
    assert all(r.json()["created"] == 1 for r in answers)
    # Each of the two workers enforces half of the readings bucket (400 by default).
    assert {r.headers["ratelimit-limit"] for r in answers} == {"200"}
    assert len(listed.json()["items"]) == 8


async def spread_of_connections(pids: set[int], port: int, count: int) -> dict[int, int]:
    """Open ``count`` connections in one burst and count those each process accepted."""
    opened = [socket.socket() for _ in range(count)]
    for connection in opened:
        connection.setblocking(False)
        connection.connect_ex(("127.0.0.1", port))  # EINPROGRESS: no wait for each
    try:
        for _ in range(200):
            spread = connections_by_process(pids, port)
            if sum(spread.values()) >= count:
                break
            await asyncio.sleep(0.05)
        return spread
    finally:
        for connection in opened:
            connection.close()


def connections_by_process(pids: set[int], port: int) -> dict[int, int]:
    """Established TCP connections to ``port`` held by each process, from /proc."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if local_port == port and state == "01":
                established.add(f"socket:[{inode}]")
    counts = {}
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        counts[pid] = sum(1 for fd in fds.iterdir() if os.readlink(fd) in established)
    return counts


async def test_serve_with_workers_refuses_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = await asyncio.create_subprocess_exec(
            MERIDIAN,
            *("serve", "--port", str(taken.getsockname()[1]), "--workers", "2", "--no-migrate"),
            env={**os.environ, "MERIDIAN_RUN_BACKGROUND": "false"},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 3, err  # uvicorn's start-up failure status
    assert b"cannot listen" in err and b"Address already in use" in err


async def test_serve_refuses_zero_workers() -> None:
    process = await asyncio.create_subprocess_exec(
        MERIDIAN,
        *("serve", "--workers", "0"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert b"--workers: must be at least 1" in err


def test_worker_sockets_share_one_port_and_refuse_a_taken_one() -> None:
    sockets = bind_worker_sockets("127.0.0.1", 0, 3)
    try:
        assert len({s.getsockname()[1] for s in sockets}) == 1
        port = sockets[0].getsockname()[1]
        for s in sockets:
            s.listen()
        # Another process of this user with SO_REUSEPORT would be let in by the kernel;
        # the probe bind without it refuses the port as a plain server would.
        try:
            bind_worker_sockets("127.0.0.1", port, 2)
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
        else:
            raise AssertionError("a port already served was bound again")
    finally:
        for s in sockets:
            s.close()
