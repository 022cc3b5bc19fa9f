"""The ``meridian`` console script: serve, worker, migrate, create-org, export-schemas."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from service.config import get_settings
from service.db import create_engine, create_sessionmaker, resolve_database_url
from service.logs import configure_logging

logger = logging.getLogger("meridian")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meridian", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Migrate, then serve the API (embedded DB if unset).")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-migrate", action="store_true", help="Skip applying migrations.")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="Server processes (default 1); one per core serves ingestion at full speed.",
    )
    migrate = commands.add_parser("migrate", help="Apply migrations (to head by default).")
    migrate.add_argument("--revision", default="head", help="Target revision, e.g. -1 or base.")
    org = commands.add_parser("create-org", help="Create an organization and an admin key.")
    org.add_argument("name")
    export = commands.add_parser(
        "export-schemas", help="Write openapi/openapi.json and schema.graphql."
    )
    export.add_argument("--out", default="openapi", type=Path)
    commands.add_parser(
        "worker", help="Run alert evaluation and webhook delivery (run as many as you like)."
    )
    commands.add_parser(
        "generate-secret-key", help="Print a new key for MERIDIAN_SECRET_KEYS (prepend to rotate)."
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    handlers = {
        "serve": lambda: _serve(args.host, args.port, args.workers, migrate=not args.no_migrate),
        "migrate": lambda: _migrate(args.revision),
        "create-org": lambda: _create_org(args.name),
        "export-schemas": lambda: _export(args.out),
        "worker": _worker,
        "generate-secret-key": _generate_secret_key,
    }
    return handlers[args.command]()


def _generate_secret_key() -> int:
    from service.webhooks.secret_box import generate_key

    print(generate_key())
    return 0


def _migrate(revision: str) -> int:
    from service.migrate import migrate_to

    direction = migrate_to(resolve_database_url(get_settings()), revision)
    logger.info("migrated", extra={"direction": direction, "revision": revision})
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _serve(host: str, port: int, workers: int, *, migrate: bool) -> int:
    """Uvicorn with the app factory; ``--workers N`` starts N processes on one port, each
    with its own socket where the system allows (``service/serving.py``).

    The database is resolved once, here: the embedded server is started (and migrated) by
    this parent process, which holds it until the end, and every worker gets its URL through
    ``MERIDIAN_DATABASE_URL`` instead of starting one of its own."""
    import os

    import uvicorn

    from service.migrate import upgrade
    from service.serving import reuse_port_supported, serve_balanced

    settings = get_settings()
    url = resolve_database_url(settings)
    if migrate:
        upgrade(url)
    os.environ["MERIDIAN_DATABASE_URL"] = url
    os.environ["MERIDIAN_WORKERS"] = str(workers)  # each worker enforces 1/N of the rate limits
    logger.info(
        "serving",
        extra={
            "host": host,
            "port": port,
            "workers": workers,
            "embedded": not settings.database_url,
        },
    )
    # uvicorn stops gracefully on SIGINT/SIGTERM and then raises the signal again; with
    # the default action the process would die by it and skip atexit, which stops the
    # embedded PostgreSQL when this process holds its last handle. Exit normally instead
    # (this handler also covers a signal that arrives before uvicorn installs its own).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_normally)
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_config": None,
        "proxy_headers": True,
        "timeout_graceful_shutdown": 30,
    }
    if workers > 1 and reuse_port_supported():
        return serve_balanced(uvicorn.Config("service.app:create_app_from_env", **options))
    uvicorn.run("service.app:create_app_from_env", **options)
    return 0


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _create_org(name: str) -> int:
    from service.auth.service import create_organization

    async def run(url: str) -> tuple[str, str]:
        settings = get_settings()
        engine = create_engine(url, settings)
        try:
            async with create_sessionmaker(engine)() as session:
                org_id, key = await create_organization(session, name)
                await session.commit()
                return str(org_id), key
        finally:
            await engine.dispose()

    if not name.strip():
        print("create-org: the name must not be blank", file=sys.stderr)
        return 2
    from service.migrate import upgrade

    url = resolve_database_url(get_settings())
    upgrade(url)  # a fresh data directory works without a separate `meridian migrate`
    org_id, key = asyncio.run(run(url))
    print(json.dumps({"organization_id": org_id, "api_key": key}))
    return 0


def _export(out: Path) -> int:
    from service.schemas_export import write_schemas

    for path in write_schemas(out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _worker() -> int:
    """Background work without the API: scheduled evaluation, webhook delivery and the sweep
    of expired idempotency records, until SIGINT or SIGTERM (deliveries in flight finish
    and are recorded first)."""
    import signal

    from service.api.idempotency import run_sweeper
    from service.kpis.scheduler import run_scheduler
    from service.webhooks.dispatcher import DispatcherConfig, asyncpg_dsn, run_dispatcher

    async def run() -> None:
        settings = get_settings()
        url = resolve_database_url(settings)
        engine = create_engine(url, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        sessions = create_sessionmaker(engine)
        try:
            await asyncio.gather(
                run_scheduler(sessions, settings.evaluation_interval, stop),
                run_dispatcher(asyncpg_dsn(url), DispatcherConfig.from_settings(settings), stop),
                run_sweeper(sessions, settings.idempotency_ttl(), stop),
            )
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
