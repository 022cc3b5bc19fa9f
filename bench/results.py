"""One line of JSON per measured figure, so `bench/run.py` can print every bench in one table.

A bench calls `report(...)` next to its own `print`; when `MERIDIAN_BENCH_RESULTS` names a
file (as `bench/run.py` sets it), the figure is appended there, otherwise nothing happens
and the bench behaves as it always did.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

RESULTS_ENV = "MERIDIAN_BENCH_RESULTS"


@dataclass(frozen=True)
class Figure:
    bench: str
    measure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]


def report(figure: Figure) -> None:
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(figure)) + "\n")


def read(path: str) -> list[Figure]:
    try:
        with open(path, encoding="utf-8") as lines:
            return [Figure(**json.loads(line)) for line in lines if line.strip()]
    except FileNotFoundError:
        return []
