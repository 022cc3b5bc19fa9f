"""Running Alembic from code, for the CLI, ``serve`` and the tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Partitions are created by migrations (and, later, maintenance), never mapped as models.
PARTITION_TABLES = frozenset({"kpi_readings_default"})


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate filter: ignore partitions, which have no model of their own."""
    return not (type_ == "table" and name in PARTITION_TABLES)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def _in_thread(fn: object, *args: object) -> None:
    """env.py calls asyncio.run, which cannot nest in a running loop: use a thread then."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn(*args)  # type: ignore[operator]
        return
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def upgrade(database_url: str, revision: str = "head") -> None:
    _in_thread(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    _in_thread(command.downgrade, alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from sqlalchemy import inspect, text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> str | None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                has_table = await connection.run_sync(
                    lambda sync: inspect(sync).has_table("alembic_version")
                )
                if not has_table:
                    return None
                row = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).first()
                return str(row[0]) if row else None
        finally:
            await engine.dispose()

    result: list[str | None] = []
    _in_thread(lambda: result.append(asyncio.run(read())))
    return result[0]


def migrate_to(database_url: str, revision: str = "head") -> str:
    """Upgrade or downgrade to ``revision`` (head, base, -1, or an id); returns the direction."""
    from alembic.script import ScriptDirectory

    if revision in ("head", "heads"):
        upgrade(database_url, revision)
        return "upgrade"
    if revision == "base" or revision.startswith("-"):
        downgrade(database_url, revision)
        return "downgrade"
    script = ScriptDirectory.from_config(alembic_config(database_url))
    target = script.get_revision(revision)
    current = current_revision(database_url)
    if target is None or current is None:
        upgrade(database_url, revision)
        return "upgrade"
    below = {r.revision for r in script.iterate_revisions(current, "base")} - {current}
    if target.revision in below:
        downgrade(database_url, revision)
        return "downgrade"
    upgrade(database_url, revision)
    return "upgrade"
