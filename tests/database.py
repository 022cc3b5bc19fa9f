"""The test database server: embedded by default, ``MERIDIAN_DATABASE_URL`` when set.

Migrations build one template database per run; every test gets its own copy
(``CREATE DATABASE ... TEMPLATE``), so tests are isolated and can commit freely.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from service.config import Settings
from service.embedded import start_embedded, stop_embedded
from service.migrate import upgrade

TEMPLATE = "meridian_test_template"


@dataclass
class DatabaseServer:
    base_url: str  # SQLAlchemy URL of any database on the server
    data_dir: Path | None = None  # set when we started an embedded server for this run

    def stop(self) -> None:
        """Stop the embedded server we started and remove its data; leave external ones be."""
        if self.data_dir is None or os.environ.get("MERIDIAN_TEST_DATA_DIR"):
            return
        stop_embedded()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def url_for(self, database: str) -> str:
        return make_url(self.base_url).set(database=database).render_as_string(hide_password=False)

    async def admin(self) -> asyncpg.Connection:
        url = make_url(self.base_url)
        return await asyncpg.connect(
            host=url.query.get("host") or url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database="postgres",
        )

    async def create_template(self) -> None:
        connection = await self.admin()
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{TEMPLATE}"')
        finally:
            await connection.close()
        upgrade(self.url_for(TEMPLATE))

    async def create_database(self) -> str:
        name = f"meridian_test_{uuid.uuid4().hex[:12]}"
        connection = await self.admin()
        try:
            await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        finally:
            await connection.close()
        return name

    async def drop_database(self, name: str) -> None:
        connection = await self.admin()
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


def start_server() -> DatabaseServer:
    external = Settings().database_url
    if external:
        return DatabaseServer(external)
    data_dir = Path(
        os.environ.get("MERIDIAN_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="meridian-")
    )
    return DatabaseServer(start_embedded(data_dir, database="postgres"), data_dir)
