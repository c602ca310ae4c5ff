"""Alembic environment: async, one history for the three services' tables.

Each service owns its tables (its own MetaData); Alembic sees all of them here. The database
URL comes from ``config.attributes["url"]`` (set by ``safework db``) or ``DATABASE_URL``."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from safework_common.settings import asyncpg_url
from safework_gateway.models import metadata as gateway_metadata
from safework_registry.models import metadata as registry_metadata
from safework_registry.partitions import is_partition
from safework_scheduler.models import metadata as scheduler_metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = [registry_metadata, scheduler_metadata, gateway_metadata]


def _url() -> str:
    url = config.attributes.get("url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set DATABASE_URL (or run through `safework db`, which starts the embedded server)")
    return asyncpg_url(str(url))


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """The partitions of a partitioned table (``safework_registry.partitions``: made by the
    partition job, not by a model) and what PostgreSQL clones onto them are not compared."""
    if type_ == "table":
        return not (reflected and is_partition(name or ""))
    if type_ in ("index", "unique_constraint"):
        return not is_partition(obj.table.name)
    if type_ == "foreign_key_constraint":
        return not (is_partition(obj.parent.name) or is_partition(obj.referred_table.name))
    return True


def _configure(connection: Connection | None = None, **kw: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        include_object=_include_object,
        **kw,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _do_run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_do_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
