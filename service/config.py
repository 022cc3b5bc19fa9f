"""Settings, read once from the environment (prefix ``MERIDIAN_``)."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "meridian"


class Settings(BaseSettings):
    """Every knob an operator or integration may turn; each has a safe default."""

    model_config = SettingsConfigDict(env_prefix="MERIDIAN_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MERIDIAN_DATABASE_URL", "DATABASE_URL"),
        description="External PostgreSQL; unset means the embedded one.",
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    workers: int = Field(
        default=1,
        gt=0,
        description="Server processes sharing the rate limits; `meridian serve` sets it.",
    )
    rate_limit_enabled: bool = Field(default=True, description="Refuse keys over their rate.")
    rate_limit_per_second: float = Field(
        default=50.0, gt=0, description="Requests a second one API key may sustain."
    )
    rate_limit_burst: float = Field(
        default=100.0, ge=1, description="Requests one API key may send at once."
    )
    rate_limit_ingest_per_second: float = Field(
        default=200.0, gt=0, description="Readings posts (`POST .../readings`) a second, per key."
    )
    rate_limit_ingest_burst: float = Field(default=400.0, ge=1)
    db_pool_size: int = Field(default=10, gt=0)
    db_max_overflow: int = Field(default=10, ge=0)
    pace_on_track: float = Field(default=0.7, gt=0, le=1)
    pace_at_risk: float = Field(default=0.5, gt=0, le=1)
    grade_green: float = Field(default=0.7, gt=0, le=1, description="Final scores graded green.")
    grade_yellow: float = Field(default=0.4, gt=0, le=1, description="Final scores graded yellow.")
    alignment_max_depth: int = Field(
        default=8, ge=1, le=64, description="Most levels an alignment path may span."
    )
    graphql_max_depth: int = Field(default=10, gt=0)
    graphql_max_aliases: int = Field(default=15, gt=0)
    graphql_max_tokens: int = Field(default=2000, gt=0)
    graphql_alignment_max_nodes: int = Field(
        default=20_000,
        gt=0,
        description="Most nodes GraphQL `alignment` returns; larger graphs go through REST.",
    )
    idempotency_ttl_hours: int = Field(default=24, gt=0)
    secret_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Keys sealing webhook secrets at rest: comma-separated base64 of 32 bytes, "
        "the first seals, all open. Unset: a key generated into the data directory.",
    )
    webhook_allowed_networks: str = Field(
        default="",
        description="CIDRs webhooks may reach although private (tests, internal deployments).",
    )
    webhook_allow_http: bool = Field(default=False, description="Accept http:// endpoint URLs.")
    webhook_retry_schedule: str = Field(
        default="5,300,1800,7200,18000,36000,50400,72000,86400",
        description="Seconds before each retry; the first attempt is immediate (~3 days).",
    )
    webhook_retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    webhook_connect_timeout: float = Field(default=5.0, gt=0)
    webhook_timeout: float = Field(default=15.0, gt=0)
    webhook_batch_size: int = Field(default=100, gt=0, le=1000)
    webhook_concurrency: int = Field(
        default=8, gt=0, le=1000, description="Requests one dispatcher has in flight at once."
    )
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_poll_interval: float = Field(default=2.0, gt=0)
    webhook_disable_after_seconds: float = Field(
        default=5 * 24 * 3600, gt=0, description="Continuous failure before auto-disable."
    )
    webhook_dispatch_in_serve: bool = Field(
        default=True, description="Run a webhook dispatcher inside `serve` (with background)."
    )
    evaluation_interval: float = Field(default=30.0, gt=0)
    run_background: bool = Field(
        default=True, description="Run scheduled evaluation inside `serve` (off for tests)."
    )

    def idempotency_ttl(self) -> timedelta:
        """How long an ``Idempotency-Key`` is remembered (the guard and the sweep)."""
        return timedelta(hours=self.idempotency_ttl_hours)

    def retry_schedule(self) -> tuple[float, ...]:
        return tuple(float(part) for part in self.webhook_retry_schedule.split(",") if part.strip())

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_readable(cls, value: str) -> str:
        delays = [float(part) for part in value.split(",") if part.strip()]
        if any(delay < 0 for delay in delays):
            raise ValueError("retry delays must not be negative")
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_readable(cls, value: str) -> str:
        import ipaddress

        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip())
        return value

    @field_validator("secret_keys")
    @classmethod
    def _keys_readable(cls, value: SecretStr) -> SecretStr:
        from service.webhooks.secret_box import parse_keys

        parse_keys(value.get_secret_value())
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_driver(cls, value: str | None) -> str | None:
        """Accept the URLs people paste (postgres://, postgresql://) and use asyncpg."""
        if not value:
            return None
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        return value

    @field_validator("pace_at_risk", "grade_yellow")
    @classmethod
    def _bands_ordered(cls, value: float, info: ValidationInfo) -> float:
        """A lower band's bound must not exceed the one above it."""
        above = _BAND_ABOVE[info.field_name or ""]
        if above in info.data and value > info.data[above]:
            raise ValueError(f"{info.field_name} must not exceed {above}")
        return value


_BAND_ABOVE = {"pace_at_risk": "pace_on_track", "grade_yellow": "grade_green"}


@lru_cache
def get_settings() -> Settings:
    return Settings()
