from __future__ import annotations

from tests.conftest import Tenant


async def test_health_and_readiness(client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_objective_round_trip(tenant: Tenant, objective: dict) -> None:  # type: ignore[type-arg]
    got = await tenant.get(f"/v1/objectives/{objective['id']}")
    assert got.status_code == 200
    assert got.json()["title"] == "Delight customers"
