"""Engine and sessions. One session per request; services never commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service.config import Settings
from service.embedded import start_embedded


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started on first use)."""
    return settings.database_url or start_embedded(settings.data_dir)


def create_engine(
    url: str, settings: Settings, pool_size: int | None = None, max_overflow: int | None = None
) -> AsyncEngine:
    """``pool_size`` and ``max_overflow`` default to the settings'."""
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size if pool_size is None else pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        # A connection cut while it sat in the pool (a restart, a failover) is found on
        # checkout and replaced, so the first request after an outage does not fail.
        pool_pre_ping=True,
        connect_args={"server_settings": {"timezone": "UTC", "application_name": "meridian"}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
