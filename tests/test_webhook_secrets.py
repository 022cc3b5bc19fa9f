"""Webhook signing secrets are sealed at rest, open only with their key and endpoint, and a
dispatcher that cannot open them sends nothing rather than an unsigned request."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat
import uuid
from pathlib import Path

import asyncpg
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service.config import Settings
from service.migrate import downgrade, upgrade
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig, asyncpg_dsn
from service.webhooks.secret_box import (
    SecretBox,
    UnreadableSecret,
    box_from_settings,
    generate_key,
    key_file,
    parse_keys,
)
from tests.conftest import Tenant, emit
from tests.receiver import Receiver
from tests.test_migrations import empty_database  # noqa: F401  (fixture)
from tests.test_webhook_delivery import endpoint

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()


def a_box(*keys: str) -> SecretBox:
    return SecretBox(parse_keys(",".join(keys)))


def test_sealed_secret_opens_with_its_key_and_endpoint_only() -> None:
    key, other = generate_key(), generate_key()
    endpoint_id = uuid.uuid4()
    sealed = a_box(key).seal(SECRET, endpoint_id)
    assert SECRET not in sealed and sealed.startswith("mk1.")
    assert a_box(key).open(sealed, endpoint_id) == SECRET
    assert a_box(key).seal(SECRET, endpoint_id) != sealed  # a fresh nonce every time
    with pytest.raises(UnreadableSecret):
        a_box(key).open(sealed, uuid.uuid4())  # copied onto another endpoint
    with pytest.raises(UnreadableSecret):
        a_box(other).open(sealed, endpoint_id)
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(UnreadableSecret):
        a_box(key).open(tampered, endpoint_id)
    with pytest.raises(UnreadableSecret):
        a_box(key).open(SECRET, endpoint_id)  # a plain value is not accepted as sealed


def test_keys_rotate_by_prepending() -> None:
    old, new = generate_key(), generate_key()
    endpoint_id = uuid.uuid4()
    sealed_by_old = a_box(old).seal(SECRET, endpoint_id)
    rotated = a_box(new, old)
    assert rotated.open(sealed_by_old, endpoint_id) == SECRET
    assert a_box(new).open(rotated.seal(SECRET, endpoint_id), endpoint_id) == SECRET
    assert rotated.open_all([sealed_by_old, "mk1.deadbeef.xx"], endpoint_id) == [SECRET]


@pytest.mark.parametrize("keys", ["not base64!", "c2hvcnQ", f"{generate_key()},abc"])
def test_malformed_keys_are_a_configuration_error(keys: str) -> None:
    with pytest.raises(ValueError):
        parse_keys(keys)
    with pytest.raises(ValidationError):
        Settings(secret_keys=keys)


def test_settings_never_show_the_keys() -> None:
    key = generate_key()
    settings = Settings(secret_keys=key)
    assert key not in repr(settings) and key not in str(settings.model_dump())


def test_without_keys_one_is_generated_into_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(secret_keys="", data_dir=tmp_path)
    box = box_from_settings(settings)
    assert not (tmp_path / "secret.key").exists()  # not until a secret is sealed or opened
    first = key_file(tmp_path)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert key_file(tmp_path) == first and len(first[0]) == 32
    endpoint_id = uuid.uuid4()
    sealed = box.seal(SECRET, endpoint_id)
    assert box_from_settings(settings).open(sealed, endpoint_id) == SECRET


async def stored_secrets(database_url: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return list(await connection.fetch("SELECT endpoint_id, secret FROM webhook_secrets"))
    finally:
        await connection.close()


async def test_the_database_holds_only_sealed_secrets(
    app: FastAPI, tenant: Tenant, database_url: str
) -> None:
    created = await endpoint(tenant, "http://127.0.0.1:9/hook", secret=SECRET)
    rotated = await tenant.post(
        f"/v1/webhook-endpoints/{created['id']}/secret/rotate", json={"grace_period_seconds": 60}
    )
    new_secret = rotated.json()["secret"]
    rows = await stored_secrets(database_url)
    assert len(rows) == 2
    box: SecretBox = app.state.secret_box
    assert {box.open(r["secret"], r["endpoint_id"]) for r in rows} == {SECRET, new_secret}
    assert not any(SECRET in r["secret"] or new_secret in r["secret"] for r in rows)


async def test_a_dispatcher_without_the_key_sends_nothing_and_retries(
    app: FastAPI, tenant: Tenant, database_url: str, dispatcher_config: DispatcherConfig
) -> None:
    async with Receiver() as receiver:
        created = await endpoint(tenant, receiver.url)
        await emit(app, tenant.organization_id, "kpi.breached")
        wrong_key = dataclasses.replace(dispatcher_config, secret_box=a_box(generate_key()))
        async with Dispatcher(asyncpg_dsn(database_url), wrong_key) as dispatcher:
            assert await dispatcher.dispatch_once()
        assert receiver.received == []
    attempts = (await tenant.get(f"/v1/webhook-endpoints/{created['id']}/attempts")).json()
    [attempt] = attempts["items"]
    assert (attempt["outcome"], attempt["error_class"]) == ("retrying", "secret_unreadable")
    assert "MERIDIAN_SECRET_KEYS" in attempt["error"]


async def test_upgrade_seals_plain_secrets_and_downgrade_opens_them(
    empty_database: str,  # noqa: F811
) -> None:
    upgrade(empty_database, "0009_alignment_speed")
    org, endpoint_id = uuid.uuid4(), uuid.uuid4()
    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO organizations (id, name) VALUES (:id, 'Acme')"), {"id": org}
            )
            await connection.execute(
                text(
                    "INSERT INTO webhook_endpoints (id, organization_id, url, disabled, version) "
                    "VALUES (:id, :org, 'https://example.com/hook', false, 1)"
                ),
                {"id": endpoint_id, "org": org},
            )
            await connection.execute(
                text("INSERT INTO webhook_secrets (id, endpoint_id, secret) VALUES (:i, :e, :s)"),
                {"i": uuid.uuid4(), "e": endpoint_id, "s": SECRET},
            )
    finally:
        await engine.dispose()
    upgrade(empty_database, "0013_sealed_secrets")
    [row] = await stored_secrets(empty_database)
    assert row["secret"] != SECRET
    assert box_from_settings(Settings()).open(row["secret"], endpoint_id) == SECRET
    downgrade(empty_database, "0009_alignment_speed")
    [row] = await stored_secrets(empty_database)
    assert row["secret"] == SECRET


def test_cli_generates_usable_keys(capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    assert main(["generate-secret-key"]) == 0
    key = capsys.readouterr().out.strip()
    assert len(parse_keys(key)[0]) == 32
