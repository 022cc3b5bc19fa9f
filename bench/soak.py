"""Mixed-load soak: readers, writers, batch ingestion and GraphQL together, for N minutes.

    pip install -e ".[embedded,bench]"      # locust
    .venv/bin/python -m bench.soak [--minutes 5] [--users 18] [--pace 1] [--batch 500]

`meridian serve --workers 2` on a fresh embedded PostgreSQL, seeded with a cycle, 5
objectives with 8 aligned children each (3 key results apiece) and 20 KPIs with an alert
rule each. Locust runs in its own process on loopback (`bench/locustfile.py`), every user
at a fixed pace so the load at the end is the load at the start: with 18 users, 8 readers
at 5 requests/s, 4 writers at 2/s, 2 ingesters at one batch/s and 4 GraphQL users at 2/s
(`--pace` scales all of them). Prints requests/s, p50 and p99 per kind, the error count
(goal 0), the server's errors logged, and the resident memory of every serve process
(from /proc) before the load, every `--sample` seconds, and at the end (goal: flat).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, Server, process_tree, rss_bytes, running_server
from bench.results import Figure, report

SERVER_ENV = {"MERIDIAN_RATE_LIMIT_ENABLED": "false"}  # the soak measures the service


def seed(server: Server, roots: int = 5, children: int = 8, kpis: int = 20) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:

        def create(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = http.post(path, json=body)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

        cycle = create(
            "/v1/cycles",
            {
                "name": "Soak",
                "start_date": "2026-10-01",
                "end_date": "2026-12-31",
                "status": "active",
            },
        )["id"]
        root_ids, objective_ids, key_results = [], [], []
        for r in range(roots):
            root = create(
                "/v1/objectives",
                {"title": f"Company {r}", "cycle_id": cycle, "rollup": "children"},
            )["id"]
            root_ids.append(root)
            for c in range(children):
                child = create(
                    "/v1/objectives",
                    {"title": f"Team {r}.{c}", "cycle_id": cycle, "parent_id": root},
                )["id"]
                objective_ids.append(child)
                for k in range(3):
                    key_result = create(
                        f"/v1/objectives/{child}/key-results",
                        {"title": f"KR {k}", "type": "increase", "start": 0, "target": 100},
                    )
                    key_results.append(key_result["id"])
        # Writers align their new objectives here, so the trees readers ask for keep
        # their size and the load stays the same through the run.
        inbox = create(
            "/v1/objectives", {"title": "Inbox", "cycle_id": cycle, "rollup": "children"}
        )["id"]
        kpi_keys = []
        for k in range(kpis):
            key = f"kpi{k}"
            create("/v1/kpis", {"key": key, "name": f"KPI {k}"})
            rule = {"operator": "gt", "warning": 1e9, "critical": 2e9, "aggregation": "avg"}
            create(f"/v1/kpis/{key}/alert-rules", rule)
            kpi_keys.append(key)
    return {
        "api_key": server.api_key,
        "cycle": cycle,
        "roots": root_ids,
        "inbox": inbox,
        "objectives": root_ids + objective_ids,
        "key_results": key_results,
        "kpis": kpi_keys,
    }


def memory(server: Server) -> dict[int, int]:
    return rss_bytes(process_tree(server.pid))


def mib(sizes: dict[int, int]) -> str:
    total = sum(sizes.values()) / 2**20
    parts = " + ".join(f"{size / 2**20:.0f}" for _, size in sorted(sizes.items()))
    return f"{total:.1f} MiB ({parts})"


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def read_failures(prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="meridian-soak-"))
    log = workdir / "serve.log"
    with running_server(extra_env=SERVER_ENV, log=log) as server:
        data = seed(server)
        before = memory(server)
        prefix = workdir / "locust"
        env = {
            **os.environ,
            "MERIDIAN_SOAK_SEED": json.dumps(data),
            "MERIDIAN_SOAK_PACE": str(args.pace),
            "MERIDIAN_SOAK_BATCH": str(args.batch),
        }
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.users),
            "--run-time",
            f"{int(args.minutes * 60)}s",
            "--stop-timeout",
            "30",
            "--host",
            server.base_url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        started = time.monotonic()
        locust = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=(workdir / "locust.log").open("wb")
        )
        samples: list[tuple[float, dict[int, int], tuple[float, float, float]]] = []
        try:
            next_sample = started
            while locust.poll() is None:
                if time.monotonic() >= next_sample:
                    samples.append((time.monotonic() - started, memory(server), os.getloadavg()))
                    next_sample += args.sample
                time.sleep(0.5)
        finally:
            if locust.poll() is None:
                locust.terminate()
                locust.wait(timeout=60)
        elapsed = time.monotonic() - started
        after = memory(server)
        load = os.getloadavg()
    print(
        f"soak: {args.minutes:g} min, {args.users} users (pace {args.pace:g}), "
        f"{server.workers} serve workers, batches of {args.batch}; wall {elapsed:.0f} s"
    )
    print(
        f"{'kind':<10} {'requests':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'errors':>6}"
    )
    rows = read_stats(prefix)
    for row in rows:
        print(
            f"{row['Name']:<10} {int(row['Request Count']):>9,} {float(row['Requests/s']):>7.1f} "
            f"{row['50%']:>7} {row['99%']:>7} {float(row['Max Response Time']):>7.0f} "
            f"{int(row['Failure Count']):>6}"
        )
    failures = read_failures(prefix)
    for failure in failures[:10]:
        print(f"  failure x{failure['Occurrences']}: {failure['Name']}: {failure['Error'][:300]}")
    errors_logged = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
    print(f"server errors logged: {len(errors_logged)}")
    for line in errors_logged[:5]:
        print("  " + line[:400])
    print(f"serve RSS before load: {mib(before)}")
    for at, sizes, (one, _, _) in samples:
        print(f"  at {at:5.0f} s: {mib(sizes)}; load average {one:.2f}")
    print(
        f"serve RSS at the end: {mib(after)}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"locust CSV and the server log: {workdir}")
    total = next((r for r in rows if r["Name"] == "Aggregated"), None)
    if total is not None:
        failed = int(total["Failure Count"])
        report(
            Figure("soak", f"mixed load {args.minutes:g} min, errors", failed,
                   f"of {int(total['Request Count']):,}", goal="0", met=failed == 0)
        )  # fmt: skip
    warm = next((sizes for at, sizes, _ in samples if at >= 60), before)
    growth = sum(after.values()) / max(1, sum(warm.values()))
    report(
        Figure("soak", "serve RSS at the end", sum(after.values()) / 2**20, "MiB",
               sum(warm.values()) / 2**20, "MiB after warm-up", "<= 1.05x", growth <= 1.05)
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=18)
    parser.add_argument("--pace", type=float, default=1.0, help="scales every user's rate")
    parser.add_argument("--batch", type=int, default=500, help="readings per ingestion batch")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
