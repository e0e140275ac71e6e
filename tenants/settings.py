"""Process configuration, read from the environment once (pydantic-settings).

Everything a deployment can change lives here; the application reads no other environment
(the ``tortoise`` developer command reads ``DATABASE_ADMIN_URL`` for its own use).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BrokerKind = Literal["stub", "redis", "rabbitmq"]


def _env(name: str) -> AliasChoices:
    # Accept both the documented environment name and the field name, so tests can
    # build settings with keyword arguments.
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    # Storage and messaging -------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        validation_alias=_env("DATABASE_URL"),
        description="Application role (NOSUPERUSER NOBYPASSRLS). Unset: embedded PostgreSQL.",
    )
    database_admin_url: str | None = Field(
        default=None,
        validation_alias=_env("DATABASE_ADMIN_URL"),
        description="Owner role, used for migrations only.",
    )
    database_pool_size: int = Field(default=20, ge=1, validation_alias=_env("RENSHI_DB_POOL"))
    notices_url: str | None = Field(
        default=None,
        validation_alias=_env("RENSHI_NOTICES_URL"),
        description="Where each process LISTENs for tenant erasures (a session of its own: "
        "PostgreSQL itself, not a transaction-pooling PgBouncer). Unset: DATABASE_URL.",
    )
    broker_url: str | None = Field(default=None, validation_alias=_env("BROKER_URL"))
    redis_url: str | None = Field(
        default=None,
        validation_alias=_env("RENSHI_REDIS_URL"),
        description="Redis for rate limits; defaults to BROKER_URL when that is Redis.",
    )
    home: Path = Field(default=Path("./var"), validation_alias=_env("RENSHI_HOME"))

    # Keys --------------------------------------------------------------------------------
    jwt_keys: SecretStr | None = Field(
        default=None,
        validation_alias=_env("RENSHI_JWT_KEYS"),
        description="JWKS with private keys (JSON). Unset: RENSHI_JWT_KEYS_FILE.",
    )
    jwt_keys_file: Path | None = Field(default=None, validation_alias=_env("RENSHI_JWT_KEYS_FILE"))
    master_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("RENSHI_MASTER_KEY"),
        description="Base64 of 32 random bytes. Unset: RENSHI_HOME/master.key.",
    )

    # Tokens ------------------------------------------------------------------------------
    issuer: str = Field(default="urn:renshi", validation_alias=_env("RENSHI_ISSUER"))
    audience: str = Field(default="urn:renshi:api", validation_alias=_env("RENSHI_AUDIENCE"))
    access_token_ttl: int = Field(default=900, ge=30, validation_alias=_env("RENSHI_ACCESS_TTL"))
    refresh_token_ttl: int = Field(
        default=30 * 86400, ge=60, validation_alias=_env("RENSHI_REFRESH_TTL")
    )
    client_token_ttl: int = Field(default=3600, ge=30, validation_alias=_env("RENSHI_CLIENT_TTL"))

    # GraphQL edge ------------------------------------------------------------------------
    introspection: bool | None = Field(
        default=None,
        validation_alias=_env("RENSHI_INTROSPECTION"),
        description="1: on, 0: off. Unset: on for logged-in callers of the embedded default only.",
    )
    graphiql: bool = Field(default=False, validation_alias=_env("RENSHI_GRAPHIQL"))
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, validation_alias=_env("RENSHI_MAX_BODY_BYTES")
    )
    max_query_depth: int = Field(default=12, ge=2, validation_alias=_env("RENSHI_MAX_DEPTH"))
    max_aliases: int = Field(default=30, ge=1, validation_alias=_env("RENSHI_MAX_ALIASES"))
    max_tokens: int = Field(default=4000, ge=100, validation_alias=_env("RENSHI_MAX_TOKENS"))
    statement_timeout_ms: int = Field(
        default=5000, ge=100, validation_alias=_env("RENSHI_STATEMENT_TIMEOUT_MS")
    )
    rate_limit: str = Field(default="1200/minute", validation_alias=_env("RENSHI_RATE_LIMIT"))
    login_rate_limit: str = Field(
        default="10/minute", validation_alias=_env("RENSHI_LOGIN_RATE_LIMIT")
    )

    # Imports -----------------------------------------------------------------------------
    import_max_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        validation_alias=_env("RENSHI_IMPORT_MAX_BYTES"),
        description="The largest encrypted import file accepted (streaming or multipart upload).",
    )

    # Jobs --------------------------------------------------------------------------------
    worker_threads: int = Field(default=2, ge=1, validation_alias=_env("RENSHI_WORKER_THREADS"))
    sweep_interval_s: float = Field(default=30.0, gt=0, validation_alias=_env("RENSHI_SWEEP_S"))
    stuck_after_s: float = Field(default=120.0, gt=0, validation_alias=_env("RENSHI_STUCK_AFTER_S"))
    recompute_delay_s: float = Field(
        default=10.0,
        ge=0,
        le=60,
        validation_alias=_env("RENSHI_RECOMPUTE_DELAY_S"),
        description="How long a fact change waits before its open periods are rescored: the "
        "changes of that time are scored by one recomputation (an explicit "
        "recomputeScorecards is never delayed).",
    )

    # Dashboards --------------------------------------------------------------------------
    dashboard_cache_entries: int = Field(
        default=256,
        ge=0,
        validation_alias=_env("RENSHI_DASHBOARD_CACHE"),
        description="How many R&D dashboard period results each API process keeps and reuses "
        "while the work data under them is unchanged (0: none).",
    )

    # Logging -----------------------------------------------------------------------------
    log_level: str = Field(default="INFO", validation_alias=_env("RENSHI_LOG_LEVEL"))
    log_format: Literal["json", "console"] = Field(
        default="json", validation_alias=_env("RENSHI_LOG_FORMAT")
    )

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme not in {"redis", "rediss", "amqp", "amqps"}:
            raise ValueError(f"unsupported scheme {scheme!r}: use redis://, rediss:// or amqp://")
        return value

    @field_validator("database_url", "database_admin_url", "notices_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if urlsplit(value).scheme not in {"postgres", "postgresql"}:
            raise ValueError("expected a postgresql:// URL")
        return value

    @property
    def embedded(self) -> bool:
        """True when Renshi runs its own PostgreSQL under ``home``."""
        return self.database_url is None

    @property
    def broker_kind(self) -> BrokerKind:
        if self.broker_url is None:
            return "stub"
        return "redis" if urlsplit(self.broker_url).scheme.startswith("redis") else "rabbitmq"

    @property
    def rate_limit_redis_url(self) -> str | None:
        if self.redis_url is not None:
            return self.redis_url
        return self.broker_url if self.broker_kind == "redis" else None

    @property
    def resolved_jwt_keys_file(self) -> Path:
        return self.jwt_keys_file or self.home / "jwt-keys.json"

    @property
    def master_key_file(self) -> Path:
        return self.home / "master.key"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
