from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from safework_common.settings import DEFAULT_KEYS_DIR, ServiceSettings

NATIONAL_ID_KEY_FILE = "national_id_hmac.key"


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", populate_by_name=True)

    port: int = 8001
    database_url: str = Field(validation_alias=AliasChoices("REGISTRY_DATABASE_URL", "DATABASE_URL"))
    db_pool_size: int = 20
    # Keyed hash (HMAC-SHA256) of national ID numbers: exact look-up without the number being
    # readable from a dump. Losing the key makes look-ups impossible; rotate by re-hashing.
    national_id_key: SecretStr | None = None
    national_id_key_file: Path = DEFAULT_KEYS_DIR / NATIONAL_ID_KEY_FILE
    max_batch_items: int = 10_000

    def national_id_key_bytes(self) -> bytes:
        if self.national_id_key is not None:
            return self.national_id_key.get_secret_value().encode()
        return self.national_id_key_file.read_bytes().strip()
