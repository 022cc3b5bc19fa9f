"""The organization's settings carry an ETag like every other resource: GET tags them and
answers 304, PATCH honours `If-Match` (412 when stale, nothing changed)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service.migrate import downgrade, upgrade
from tests.conftest import Tenant
from tests.test_auth import assert_problem
from tests.test_etag import version_part
from tests.test_migrations import empty_database, query  # noqa: F401  (fixture)

URL = "/v1/organization"


async def test_get_is_tagged_and_answers_304(tenant: Tenant) -> None:
    first = await tenant.get(URL)
    etag = first.headers["etag"]
    assert version_part(etag).endswith("-1")
    assert first.json()["updated_at"].endswith("Z")
    assert (await tenant.get(URL)).headers["etag"] == etag
    cached = await tenant.get(URL, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["etag"] == etag
    weak = await tenant.get(URL, headers={"If-None-Match": f'"nope", W/{etag}'})
    assert weak.status_code == 304
    other = await tenant.get(URL, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.json() == first.json()


async def test_stale_if_match_is_412_and_changes_nothing(tenant: Tenant) -> None:
    etag = (await tenant.get(URL)).headers["etag"]
    change = {"orphan_policy": "reassign_to_manager"}
    fresh = await tenant.patch(URL, json=change, headers={"If-Match": etag})
    assert fresh.status_code == 200, fresh.text
    new_etag = fresh.headers["etag"]
    assert version_part(new_etag) != version_part(etag)
    assert (await tenant.get(URL)).headers["etag"] == new_etag

    before = (await tenant.get(URL)).json()
    stale = await tenant.patch(URL, json={"orphan_policy": "flag"}, headers={"If-Match": etag})
    assert "If-Match" in assert_problem(stale, 412)["detail"]
    after = await tenant.get(URL)
    assert after.json() == before and after.headers["etag"] == new_etag

    weak = await tenant.patch(URL, json=change, headers={"If-Match": f"W/{new_etag}"})
    assert_problem(weak, 412)
    listed = await tenant.patch(URL, json=change, headers={"If-Match": f'"x", {new_etag}'})
    assert listed.status_code == 200, listed.text
    star = await tenant.patch(URL, json={"orphan_policy": "flag"}, headers={"If-Match": "*"})
    assert star.status_code == 200, star.text
    assert star.json()["orphan_policy"] == "flag"


async def test_patch_without_if_match_is_accepted(tenant: Tenant) -> None:
    response = await tenant.patch(URL, json={"orphan_policy": "reassign_to_manager"})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == (await tenant.get(URL)).headers["etag"]


async def test_existing_organizations_start_at_version_one(
    empty_database: str,  # noqa: F811
) -> None:
    """0020 gives rows made before it version 1, last updated when they were created, and
    provisioning SQL that names no version keeps working."""
    url = empty_database
    upgrade(url, "0019_objective_id_hash")
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await insert_organization(url, "Old", created)
    upgrade(url)
    await insert_organization(url, "New", created)
    rows = await query(url, "SELECT name, version, updated_at FROM organizations ORDER BY name")
    assert [row[:2] for row in rows] == [("New", 1), ("Old", 1)]
    assert rows[1][2] == created
    downgrade(url, "0019_objective_id_hash")
    columns = await query(
        url,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'organizations' AND column_name IN ('version', 'updated_at')",
    )
    assert columns == []


async def insert_organization(url: str, name: str, created_at: datetime) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO organizations (id, name, created_at)"
                    " VALUES (gen_random_uuid(), :name, :at)"
                ),
                {"name": name, "at": created_at},
            )
    finally:
        await engine.dispose()
