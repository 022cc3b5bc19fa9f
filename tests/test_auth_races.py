"""Revocations of admin keys are serialised per organization: two admin keys revoking each
other (or themselves) at once must not both succeed, or the organization is locked out."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Tenant, new_tenant

# Each round is one race; on the unserialised check most rounds let both revocations through.
ROUNDS = 6


async def organization_with_two_admin_keys(
    app: FastAPI, client: httpx.AsyncClient, name: str
) -> tuple[Tenant, Tenant, dict[str, str]]:
    """An organization whose only admin keys are its bootstrap key and one more, both used
    once already (so the race's requests do not record a use, which row-locks the key and
    would turn two requests revoking each other's key into a deadlock), and their ids."""
    first = await new_tenant(app, client, name)
    second = await first.key_with("admin")
    listed = (await second.get("/v1/api-keys")).json()["items"]
    ids = {k["name"]: k["id"] for k in listed}
    return first, second, {first.key: ids["bootstrap admin"], second.key: ids["admin"]}


@pytest.mark.parametrize("target", ["each_other", "themselves"])
async def test_two_admin_keys_revoking_at_once_leave_one(
    app: FastAPI, client: httpx.AsyncClient, target: str
) -> None:
    for round_ in range(ROUNDS):
        first, second, ids = await organization_with_two_admin_keys(app, client, f"Org {round_}")
        if target == "each_other":
            victims = (ids[second.key], ids[first.key])
        else:
            victims = (ids[first.key], ids[second.key])
        responses = await asyncio.gather(
            first.delete(f"/v1/api-keys/{victims[0]}"),
            second.delete(f"/v1/api-keys/{victims[1]}"),
        )
        # The loser is refused as the last admin key (409), or, when the winner committed
        # before it authenticated, as a revoked key (401).
        statuses = sorted(r.status_code for r in responses)
        assert statuses in ([204, 401], [204, 409]), [r.text for r in responses]
        lists = [await key.get("/v1/api-keys") for key in (first, second)]
        assert sorted(r.status_code for r in lists) == [200, 401]
        (alive,) = [r.json()["items"] for r in lists if r.status_code == 200]
        assert len([k for k in alive if k["revoked_at"] is None]) == 1
