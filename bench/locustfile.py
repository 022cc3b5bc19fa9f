"""The soak's load, run by locust in its own process (``bench/soak.py`` starts it).

Four kinds of user, each request named by its kind so locust reports requests/s, p50 and
p99 per kind: readers (GETs of objectives, KPIs, trees and lists), writers (objectives and
check-ins), ingesters (batches to POST /v1/readings) and GraphQL queries. The data they
read was seeded by ``bench/soak.py``, which passes it in ``MERIDIAN_SOAK_SEED`` (JSON).
Every user keeps a fixed pace (``constant_throughput``), so the load is the same at the
end of the run as at the start and memory can be compared.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

SEED: dict[str, Any] = json.loads(os.environ.get("MERIDIAN_SOAK_SEED", "{}"))
PACE = float(os.environ.get("MERIDIAN_SOAK_PACE", "1"))  # scales every user's rate
BATCH = int(os.environ.get("MERIDIAN_SOAK_BATCH", "500"))
_observed = itertools.count()
_START = datetime(2026, 1, 1, tzinfo=UTC)

GRAPHQL = """
query Soak($cycle: UUID!, $first: Int!) {
  objectives(first: $first, cycleId: $cycle) {
    edges { node {
      id title status rollup
      progress { value }
      pace { __typename }
      keyResults { id title current progress { value } }
      children { weight objective { id title } }
    } }
    pageInfo { hasNextPage endCursor }
  }
  kpis(first: 20) { edges { node { key name health latest { value observedAt } } } }
}
"""


class Meridian(FastHttpUser):
    abstract = True

    def check(
        self,
        kind: str,
        method: str,
        path: str,
        expect: int = 200,
        problem: Callable[[Any], str | None] = lambda _: None,
        **kwargs: Any,
    ) -> None:
        """One request named by its kind; any other status, or what ``problem`` finds in
        the answer, counts as a failure."""
        headers = {"Authorization": f"Bearer {SEED['api_key']}"}
        with self.client.request(
            method, path, name=kind, headers=headers, catch_response=True, **kwargs
        ) as response:
            if response.status_code != expect:
                response.failure(f"{method} {path}: {response.status_code} {response.text[:200]}")
            elif found := problem(response):
                response.failure(found)


class Reader(Meridian):
    weight = 4
    wait_time = constant_throughput(5 * PACE)

    @task(3)
    def objective(self) -> None:
        self.check("read", "GET", f"/v1/objectives/{random.choice(SEED['objectives'])}")

    @task(2)
    def objectives(self) -> None:
        self.check("read", "GET", f"/v1/objectives?cycle_id={SEED['cycle']}&limit=50")

    @task(2)
    def kpi(self) -> None:
        self.check("read", "GET", f"/v1/kpis/{random.choice(SEED['kpis'])}")

    @task(1)
    def kpis(self) -> None:
        self.check("read", "GET", "/v1/kpis?limit=50")

    @task(1)
    def readings(self) -> None:
        self.check("read", "GET", f"/v1/kpis/{random.choice(SEED['kpis'])}/readings?limit=100")

    @task(2)
    def tree(self) -> None:
        self.check("read", "GET", f"/v1/objectives/{random.choice(SEED['roots'])}/tree")

    @task(1)
    def key_results(self) -> None:
        objective = random.choice(SEED["objectives"])
        self.check("read", "GET", f"/v1/objectives/{objective}/key-results")


class Writer(Meridian):
    weight = 2
    wait_time = constant_throughput(2 * PACE)

    @task(1)
    def objective(self) -> None:
        body = {
            "title": f"Soak {uuid.uuid4().hex[:8]}",
            "cycle_id": SEED["cycle"],
            "parent_id": SEED["inbox"],
        }
        self.check("write", "POST", "/v1/objectives", expect=201, json=body)

    @task(3)
    def check_in(self) -> None:
        key_result = random.choice(SEED["key_results"])
        body = {"value": round(random.uniform(0, 100), 2), "confidence": 0.7}
        self.check(
            "write", "POST", f"/v1/key-results/{key_result}/check-ins", expect=201, json=body
        )


class Ingester(Meridian):
    weight = 1
    wait_time = constant_throughput(1 * PACE)

    @task
    def batch(self) -> None:
        readings = []
        for _ in range(BATCH):
            n = next(_observed)
            readings.append(
                {
                    "kpi": SEED["kpis"][n % len(SEED["kpis"])],
                    "value": float(n % 997),
                    # Unique per reading across the run, so every item is created.
                    "observed_at": (_START + timedelta(milliseconds=n)).isoformat(),
                    "source": f"soak-{os.getpid()}",
                }
            )
        self.check("ingest", "POST", "/v1/readings", json={"readings": readings})


class GraphQL(Meridian):
    weight = 2
    wait_time = constant_throughput(2 * PACE)

    @task
    def query(self) -> None:
        variables = {"cycle": SEED["cycle"], "first": 20}
        self.check(
            "graphql",
            "POST",
            "/graphql",
            json={"query": GRAPHQL, "variables": variables},
            problem=graphql_errors,
        )


def graphql_errors(response: Any) -> str | None:
    errors = response.json().get("errors")
    return f"GraphQL errors: {errors[:2]}" if errors else None
