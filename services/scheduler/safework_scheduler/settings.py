from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from safework_common.settings import ServiceSettings


class SchedulerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", extra="ignore", populate_by_name=True)

    port: int = 8002
    # Read-only: point it at a replica when there is one. Falls back to DATABASE_URL.
    database_url: str = Field(validation_alias=AliasChoices("SCHEDULER_DATABASE_URL", "DATABASE_URL"))
    # The primary, for the reads that must not lag (a gate pass's verdict: RELIABILITY.md,
    # "Replicas and lag"); unset: ``database_url`` (then that must be the primary).
    primary_database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SCHEDULER_PRIMARY_DATABASE_URL", "primary_database_url")
    )
    db_pool_size: int = 20
    # A policy version loaded into the database takes effect within this many seconds.
    policy_cache_seconds: float = 30.0
