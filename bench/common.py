"""Shared bench plumbing: a real server process on an embedded PostgreSQL, and timing."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    database_url: str
    api_key: str
    organization_id: str
    workers: int
    data_dir: Path  # the embedded PostgreSQL's (``service.embedded.halt_embedded`` and co.)
    pid: int  # the ``meridian serve`` process (its workers are its children)


def default_workers() -> int:
    """One server process per core, as the README advises for ingestion."""
    return os.cpu_count() or 1


@contextmanager
def running_server(
    workers: int | None = None,
    extra_env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[Server]:
    """``meridian serve --workers N`` in its own process on a fresh embedded PostgreSQL;
    its stderr (the JSON log) goes to ``log`` when given."""
    workers = workers or default_workers()
    data_dir = tempfile.mkdtemp(prefix="meridian-bench-")
    env = {
        # Benchmarks measure the service, not the limiter: off unless the environment or
        # extra_env sets it (or raises MERIDIAN_RATE_LIMIT_PER_SECOND and _BURST instead).
        "MERIDIAN_RATE_LIMIT_ENABLED": "false",
        **os.environ,
        "MERIDIAN_DATA_DIR": data_dir,
        "MERIDIAN_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    env.pop("MERIDIAN_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    meridian = str(Path(sys.executable).parent / "meridian")
    subprocess.run([meridian, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [meridian, "create-org", "Bench"], env=env, check=True, capture_output=True, text=True
    )
    org = json.loads(created.stdout.strip().splitlines()[-1])
    port = free_port()
    process = subprocess.Popen(
        [meridian, "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab") if log else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        from service.embedded import start_embedded

        url = start_embedded(Path(data_dir))
        database = url.replace("+asyncpg", "")
        yield Server(
            base,
            database,
            org["api_key"],
            org["organization_id"],
            workers,
            Path(data_dir),
            process.pid,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        # A 100,000-objective database is 580 MB: runs left behind filled the disk.
        from service.embedded import stop_embedded

        stop_embedded(Path(data_dir))
        shutil.rmtree(data_dir, ignore_errors=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(values) * 1000:.1f} ms"
    )


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue.extend(children.get(current, []))
    return tree


def rss_bytes(pids: list[int]) -> dict[int, int]:
    """Resident memory of each live process, from /proc/PID/status (VmRSS)."""
    sizes = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                sizes[pid] = int(line.split()[1]) * 1024
    return sizes


class LeanHttpClient:
    """One keep-alive HTTP/1.1 connection that sends pre-encoded requests and reads
    ``Content-Length`` answers: the benches' load generator, on the same cores as the
    server, costs a fraction of httpx's CPU per request (about 1 ms instead of 6 ms for a
    1,000-reading batch), which would otherwise be taken from the server being measured."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        address = base_url.removeprefix("http://")
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> LeanHttpClient:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        return status, await self.reader.readexactly(length)
