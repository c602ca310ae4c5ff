from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from safework_common.settings import DEFAULT_KEYS_DIR, INTERNAL_PRIVATE_KEY_FILE, ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    port: int = 8000
    database_url: str = Field(validation_alias=AliasChoices("GATEWAY_DATABASE_URL", "DATABASE_URL"))
    db_pool_size: int = 10
    registry_url: str = Field(
        default="http://127.0.0.1:8001", validation_alias=AliasChoices("GATEWAY_REGISTRY_URL", "REGISTRY_URL")
    )
    scheduler_url: str = Field(
        default="http://127.0.0.1:8002", validation_alias=AliasChoices("GATEWAY_SCHEDULER_URL", "SCHEDULER_URL")
    )
    upstream_timeout_seconds: float = 30.0
    upstream_max_connections: int = 100
    internal_token_private_key: SecretStr | None = None
    internal_token_private_key_file: Path = DEFAULT_KEYS_DIR / INTERNAL_PRIVATE_KEY_FILE

    def internal_private_key_pem(self) -> bytes:
        if self.internal_token_private_key is not None:
            return self.internal_token_private_key.get_secret_value().encode()
        return self.internal_token_private_key_file.read_bytes()
