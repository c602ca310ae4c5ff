"""Settings base: pydantic-settings, one class per service with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".data")
DEFAULT_KEYS_DIR = DEFAULT_DATA_DIR / "keys"
INTERNAL_PRIVATE_KEY_FILE = "internal_ed25519.pem"
INTERNAL_PUBLIC_KEY_FILE = "internal_ed25519.pub.pem"


class ServiceSettings(BaseSettings):
    """What every service reads. Subclasses set ``env_prefix`` for their own variables
    (``REGISTRY_PORT``); the shared ones below are read without prefix (``LOG_LEVEL``)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("SAFEWORK_ENV")
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 16 * 1024 * 1024
    # Prometheus metrics on a port of their own (``<PREFIX>_METRICS_PORT``; unset: none), never
    # the public one: bind it to an internal address (safework_common.metrics).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # Redis, when several processes must agree (the gateway's rate limits and short caches);
    # unset: each process keeps its own, in memory. A URL names the database index
    # (``redis://127.0.0.1:6379/0``); keys start with ``redis_key_prefix``.
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL"))
    redis_key_prefix: str = Field(default="safework:", validation_alias=AliasChoices("REDIS_KEY_PREFIX"))
    # The internal service token: the gateway signs with the private key, the others verify
    # with the public key. PEM text in the variable wins over the file.
    internal_token_public_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("INTERNAL_TOKEN_PUBLIC_KEY")
    )
    internal_token_public_key_file: Path = Field(
        default=DEFAULT_KEYS_DIR / INTERNAL_PUBLIC_KEY_FILE,
        validation_alias=AliasChoices("INTERNAL_TOKEN_PUBLIC_KEY_FILE"),
    )

    def internal_public_key_pem(self) -> bytes:
        if self.internal_token_public_key is not None:
            return self.internal_token_public_key.get_secret_value().encode()
        return self.internal_token_public_key_file.read_bytes()

    @model_validator(mode="after")
    def _no_missing_keys_in_production(self) -> ServiceSettings:
        if (
            self.environment == "production"
            and self.internal_token_public_key is None
            and not self.internal_token_public_key_file.exists()
        ):
            raise ValueError("production needs INTERNAL_TOKEN_PUBLIC_KEY or an existing key file")
        return self


def asyncpg_url(url: str) -> str:
    """Accept ``postgres://`` / ``postgresql://`` URLs and make them SQLAlchemy+asyncpg URLs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://...)")


def plain_pg_url(url: str) -> str:
    """The libpq form (for asyncpg.connect and COPY), from either form."""
    return "postgresql://" + asyncpg_url(url)[len("postgresql+asyncpg://") :]
