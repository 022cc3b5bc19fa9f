"""Every benchmark in one run, and one table of their figures against their raw baselines.

    .venv/bin/python -m bench.run [--quick] [--only ingest,tree] [--soak-minutes 5]

Each bench runs as its own process, one after another (never two at once: they would
measure each other), with `MERIDIAN_BENCH_RESULTS` pointing at a scratch file where it
appends its figures (`bench/results.py`). Their own output streams through as they run;
the table comes last. `--quick` shrinks every bench for a smoke run; its figures are not
the ones to publish.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from bench.results import RESULTS_ENV, Figure, read


@dataclass(frozen=True)
class Bench:
    name: str
    full: list[str]
    quick: list[str]


BENCHES = [
    Bench(
        "ingest",
        ["--readings", "100000", "--kpis", "100", "--singles", "2000"],
        ["--readings", "10000", "--kpis", "20", "--singles", "200"],
    ),
    Bench(
        "tree",
        ["--objectives", "100000", "--subtree-requests", "200", "--repeats", "5"],
        ["--objectives", "10000", "--subtree-requests", "50", "--repeats", "2"],
    ),
    Bench(
        "webhooks",
        ["--events", "10000", "--rate", "100", "--seconds", "10"],
        ["--events", "1000", "--rate", "100", "--seconds", "3"],
    ),
    Bench(
        "faults",
        ["--events", "10000"],
        ["--events", "1000", "--batches", "5"],
    ),
    Bench("soak", [], ["--minutes", "0.5"]),  # --minutes from --soak-minutes
]


def run_one(bench: Bench, quick: bool, results: str, soak_minutes: float) -> tuple[int, float]:
    extra = ["--minutes", f"{soak_minutes:g}"] if bench.name == "soak" and not quick else []
    chosen = bench.quick if quick else bench.full
    argv = [sys.executable, "-m", f"bench.{bench.name}", *chosen, *extra]
    print(f"\n=== {bench.name}: {' '.join(argv[1:])}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(argv, env={**os.environ, RESULTS_ENV: results}).returncode
    return code, time.perf_counter() - started


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def table(figures: list[Figure]) -> str:
    header = ("bench", "measure", "service", "baseline", "ratio", "goal", "met")
    rows = [header]
    for f in figures:
        baseline = f"{_number(f.baseline)} {f.baseline_name}".strip() if f.baseline else ""
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append(
            (f.bench, f.measure, f"{_number(f.value)} {f.unit}", baseline,
             _number(f.ratio), f.goal, met)
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument("--soak-minutes", type=float, default=5.0)
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} at start")  # fmt: skip
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as scratch:
        results = scratch.name
    failed = []
    for bench in chosen:
        code, seconds = run_one(bench, args.quick, results, args.soak_minutes)
        print(f"=== {bench.name}: exit {code} in {seconds:.0f} s", flush=True)
        if code:
            failed.append(bench.name)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}\n")
    print(table(read(results)))
    os.unlink(results)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
