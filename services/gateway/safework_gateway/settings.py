"""Gateway settings: ``GATEWAY_*`` environment variables (the shared ones have no prefix)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import argon2
from argon2 import PasswordHasher
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from safework_common.settings import DEFAULT_KEYS_DIR, INTERNAL_PRIVATE_KEY_FILE, ServiceSettings

KEY_ENCRYPTION_KEY_FILE = "gateway_kek.key"


def _default_kek_file() -> Path:
    """Beside the other install secrets: ``$SAFEWORK_DATA_DIR/keys/gateway_kek.key``."""
    return Path(os.environ.get("SAFEWORK_DATA_DIR", ".data")) / "keys" / KEY_ENCRYPTION_KEY_FILE


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    port: int = 8000
    database_url: str = Field(validation_alias=AliasChoices("GATEWAY_DATABASE_URL", "DATABASE_URL"))
    db_pool_size: int = 20
    registry_url: str = Field(
        default="http://127.0.0.1:8001", validation_alias=AliasChoices("GATEWAY_REGISTRY_URL", "REGISTRY_URL")
    )
    scheduler_url: str = Field(
        default="http://127.0.0.1:8002", validation_alias=AliasChoices("GATEWAY_SCHEDULER_URL", "SCHEDULER_URL")
    )
    upstream_timeout_seconds: float = 30.0
    upstream_max_connections: int = 100
    # Exports (CSV, XLSX, FHIR NDJSON) relayed as streams: the longest quiet spell allowed
    # (an XLSX is only sent once the workbook is written).
    export_timeout_seconds: float = 600.0
    # "lean": the gateway's own pooled HTTP/1.1 transport (httptools); "httpx": httpx's default.
    upstream_transport: Literal["lean", "httpx"] = "lean"
    internal_token_private_key: SecretStr | None = None
    internal_token_private_key_file: Path = DEFAULT_KEYS_DIR / INTERNAL_PRIVATE_KEY_FILE

    # Public tokens (RFC 7519 claims; RFC 8725 practices).
    token_issuer: str = "safework"  # noqa: S105 (a name, not a secret)
    token_audience: str = "safework-api"  # noqa: S105
    client_token_ttl_seconds: int = Field(default=15 * 60, gt=0, le=3600)
    device_token_ttl_seconds: int = Field(default=60 * 60, gt=0, le=24 * 3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)
    token_leeway_seconds: int = Field(default=10, ge=0, le=120)
    # How often each process re-reads signing keys, disabled clients and revoked devices.
    key_refresh_seconds: float = Field(default=15.0, gt=0)
    # Key-encryption key for the signing keys at rest (32 bytes, base64url). The variable wins
    # over the file; outside production a missing file is generated on first start.
    key_encryption_key: SecretStr | None = None
    key_encryption_key_file: Path = Field(default_factory=_default_kek_file)

    # Gate passes: valid until the end of the person's next due window, at most this long.
    pass_max_ttl_seconds: int = Field(default=24 * 3600, gt=60, le=7 * 24 * 3600)
    # A signed revocation list is good for this long; gate devices refresh well before.
    pass_revocation_list_ttl_seconds: int = Field(default=24 * 3600, gt=0, le=7 * 24 * 3600)
    # Every live pass's verdict is re-checked this often (catches what no gateway route saw).
    pass_sweep_seconds: float = Field(default=300.0, gt=0)
    # The registry's revoking facts (cases, traced contacts, suspensions) are read after every
    # write that makes them and, besides, this often (one call; ``passes/facts.py``).
    pass_fact_poll_seconds: float = Field(default=5.0, gt=0)
    # SMART Health Cards: the issuer URL (https in production, no trailing slash); its keys are
    # published at ``<issuer>/.well-known/jwks.json``, which this gateway serves under /health-cards.
    health_card_issuer: str = "http://127.0.0.1:8000/health-cards"

    # Activation codes for workers' devices.
    activation_code_ttl_hours: int = Field(default=72, gt=0, le=24 * 30)

    # Per-client (or per-device) token bucket; per-IP bucket for the unauthenticated routes.
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=60, gt=0)
    anonymous_rate_limit_per_second: float = Field(default=2.0, gt=0)
    anonymous_rate_limit_burst: int = Field(default=20, gt=0)

    # Sanctioned app IDs come from the scheduler's active policy, cached this long.
    policy_cache_seconds: float = Field(default=60.0, gt=0)
    # Cache-Control max-age on compliance answers.
    compliance_max_age_seconds: int = Field(default=60, ge=0)
    # Browser origins allowed to call the API (CORS), e.g. '["https://dashboard.bacgiang.gov.vn"]';
    # empty: no cross-origin browser access (a preflight is then 405, as for any unknown method).
    cors_allow_origins: list[str] = []

    # Client secrets' argon2id costs: passes, memory (KiB) and lanes. Production refuses less than
    # argon2-cffi's defaults (t=3, m=65536, p=4: ~0.2 s of CPU a hash or a check); tests use small
    # ones. A stored hash of other costs is still checked, and rehashed on its next use.
    client_secret_time_cost: int = Field(default=argon2.DEFAULT_TIME_COST, ge=1)
    client_secret_memory_cost: int = Field(default=argon2.DEFAULT_MEMORY_COST, ge=8)
    client_secret_parallelism: int = Field(default=argon2.DEFAULT_PARALLELISM, ge=1)

    def client_secret_hasher(self) -> PasswordHasher:
        from safework_gateway.clients.service import hasher_for

        return hasher_for(self.client_secret_time_cost, self.client_secret_memory_cost, self.client_secret_parallelism)

    def internal_private_key_pem(self) -> bytes:
        if self.internal_token_private_key is not None:
            return self.internal_token_private_key.get_secret_value().encode()
        return self.internal_token_private_key_file.read_bytes()

    @property
    def max_token_lifetime_seconds(self) -> int:
        """The longest an access token this gateway signs can live."""
        return max(self.client_token_ttl_seconds, self.device_token_ttl_seconds)

    @model_validator(mode="after")
    def _kek_in_production(self) -> GatewaySettings:
        if (
            self.environment == "production"
            and self.key_encryption_key is None
            and not self.key_encryption_key_file.exists()
        ):
            raise ValueError("production needs GATEWAY_KEY_ENCRYPTION_KEY or an existing key file")
        return self

    @model_validator(mode="after")
    def _client_secret_costs_in_production(self) -> GatewaySettings:
        if self.environment == "production":
            floors = {
                "GATEWAY_CLIENT_SECRET_TIME_COST": (self.client_secret_time_cost, argon2.DEFAULT_TIME_COST),
                "GATEWAY_CLIENT_SECRET_MEMORY_COST": (self.client_secret_memory_cost, argon2.DEFAULT_MEMORY_COST),
                "GATEWAY_CLIENT_SECRET_PARALLELISM": (self.client_secret_parallelism, argon2.DEFAULT_PARALLELISM),
            }
            low = [f"{name} >= {floor} (got {value})" for name, (value, floor) in floors.items() if value < floor]
            if low:
                raise ValueError("production needs argon2 costs of at least the library's defaults: " + ", ".join(low))
        return self
