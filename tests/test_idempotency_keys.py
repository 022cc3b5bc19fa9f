"""Idempotency-Key records: a replay goes only to the API key that made the first request,
stored answers are sealed at rest, and expired records are swept."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from service.api.idempotency import sweep_expired
from service.models.base import utcnow
from tests.conftest import Tenant

PROBLEM = "application/problem+json"
HOOK = "http://127.0.0.1:9/h"


async def stored_bodies(app: FastAPI) -> dict[str, bytes]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(text("SELECT key, response_body FROM idempotency_keys"))
        return {key: bytes(body) for key, body in rows}


async def insert_record(
    app: FastAPI, organization_id: uuid.UUID, key: str, age: timedelta, **values: Any
) -> None:
    row = {
        "org": organization_id,
        "key": key,
        "hash": "0" * 64,
        "path": "/v1/people",
        "status": 201,
        "headers": '{"content-type": "application/json"}',
        "body": b"{}",
        "at": utcnow() - age,
        **values,
    }
    async with app.state.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO idempotency_keys (organization_id, key, request_hash, method, path,"
                " status_code, response_headers, response_body, created_at) VALUES (:org, :key,"
                " :hash, 'POST', :path, :status, CAST(:headers AS jsonb), :body, :at)"
            ),
            row,
        )
        await session.commit()


async def test_another_api_key_never_gets_the_replay(tenant: Tenant) -> None:
    reader = await tenant.key_with("read")
    other_admin = await tenant.key_with("admin")
    body = {"name": "deploy", "scopes": ["admin"]}
    headers = {"Idempotency-Key": "new-admin-key"}
    first = await tenant.post("/v1/api-keys", json=body, headers=headers)
    assert first.status_code == 201, first.text
    new_key = first.json()["key"]
    for other in (reader, other_admin):
        response = await other.post("/v1/api-keys", json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "another API key" in response.json()["detail"]
        assert new_key not in response.text and "idempotent-replayed" not in response.headers
    again = await tenant.post("/v1/api-keys", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    names = [k["name"] for k in (await tenant.get("/v1/api-keys")).json()["items"]]
    assert names.count("deploy") == 1


async def test_stored_answers_hold_no_secret_in_clear(app: FastAPI, tenant: Tenant) -> None:
    created = await tenant.post(
        "/v1/api-keys", json={"name": "ci", "scopes": ["read"]}, headers={"Idempotency-Key": "a"}
    )
    endpoint = await tenant.post(
        "/v1/webhook-endpoints", json={"url": HOOK}, headers={"Idempotency-Key": "e"}
    )
    rotate = f"/v1/webhook-endpoints/{endpoint.json()['id']}/secret/rotate"
    rotated = await tenant.post(rotate, json={}, headers={"Idempotency-Key": "r"})
    answers = {"a": created, "e": endpoint, "r": rotated}
    secrets = {
        "a": created.json()["key"],
        "e": endpoint.json()["secret"],
        "r": rotated.json()["secret"],
    }
    stored = await stored_bodies(app)
    for key, secret in secrets.items():
        assert stored[key].startswith(b"mk1."), stored[key][:20]
        assert secret.encode() not in stored[key]
    # And each still replays to its key, opened.
    requests = {
        "a": ("/v1/api-keys", {"name": "ci", "scopes": ["read"]}),
        "e": ("/v1/webhook-endpoints", {"url": HOOK}),
        "r": (rotate, {}),
    }
    for key, (path, body) in requests.items():
        replay = await tenant.post(path, json=body, headers={"Idempotency-Key": key})
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.content == answers[key].content


async def test_a_sealed_answer_moved_to_another_record_does_not_open(
    app: FastAPI, tenant: Tenant
) -> None:
    body = {"user_name": "ada", "display_name": "Ada"}
    first = await tenant.post("/v1/people", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    other = {**body, "user_name": "bob"}
    assert (
        await tenant.post("/v1/people", json=other, headers={"Idempotency-Key": "k2"})
    ).status_code == 201
    async with app.state.sessionmaker() as session:
        await session.execute(
            text(
                "UPDATE idempotency_keys SET response_body ="
                " (SELECT response_body FROM idempotency_keys WHERE key = 'k1') WHERE key = 'k2'"
            )
        )
        await session.commit()
    replay = await tenant.post("/v1/people", json=other, headers={"Idempotency-Key": "k2"})
    assert replay.status_code == 500 and replay.headers["content-type"].startswith(PROBLEM)
    assert "ada" not in replay.text


async def test_the_sweep_deletes_expired_records_in_batches(
    app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    day = timedelta(hours=24)
    for n in range(3):
        await insert_record(app, tenant.organization_id, f"old-{n}", day + timedelta(minutes=n))
    await insert_record(app, other_tenant.organization_id, "old", day * 2)
    await insert_record(app, tenant.organization_id, "fresh", timedelta(hours=1))
    deleted = await sweep_expired(app.state.sessionmaker, utcnow() - day, batch=2)
    assert deleted == 4
    assert set(await stored_bodies(app)) == {"fresh"}
    assert await sweep_expired(app.state.sessionmaker, utcnow() - day, batch=2) == 0


async def test_a_key_reused_with_another_query_string_is_422(tenant: Tenant) -> None:
    await tenant.create("/v1/kpis", {"key": "mrr", "name": "MRR"})
    headers = {"Idempotency-Key": "batch-1"}
    readings = [{"value": 1, "observed_at": "2026-01-01T00:00:00Z"}]
    first = await tenant.post("/v1/kpis/mrr/readings?atomic=false", json=readings, headers=headers)
    assert first.status_code == 200, first.text
    other = await tenant.post("/v1/kpis/mrr/readings?atomic=true", json=readings, headers=headers)
    assert other.status_code == 422 and "idempotent-replayed" not in other.headers
    again = await tenant.post("/v1/kpis/mrr/readings?atomic=false", json=readings, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content


async def test_a_replayed_secret_is_not_stored_by_caches(tenant: Tenant) -> None:
    body = {"name": "ci", "scopes": ["read"]}
    headers = {"Idempotency-Key": "key-ci"}
    first = await tenant.post("/v1/api-keys", json=body, headers=headers)
    assert first.headers["cache-control"] == "no-store"
    replay = await tenant.post("/v1/api-keys", json=body, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["cache-control"] == "no-store"


async def test_every_answer_with_a_secret_says_no_store(tenant: Tenant) -> None:
    endpoint = await tenant.post("/v1/webhook-endpoints", json={"url": HOOK})
    assert endpoint.status_code == 201 and endpoint.headers["cache-control"] == "no-store"
    rotate = f"/v1/webhook-endpoints/{endpoint.json()['id']}/secret/rotate"
    rotated = await tenant.post(rotate, json={})
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    read = await tenant.get(f"/v1/webhook-endpoints/{endpoint.json()['id']}")
    assert "no-store" not in read.headers.get("cache-control", "")
