"""A PostgreSQL primary and a streaming replica of it, made on this machine for a test.

The primary is a fresh cluster (``initdb``) in a temporary directory on a free port, and the
replica is made from it with ``pg_basebackup -R`` (streaming replication, ``hot_standby``), on
another free port. Both run as a non-root user (PostgreSQL refuses root): as the current user
when that is not root, else as ``postgres`` through ``runuser``. Both are stopped and removed at
the end.

A fresh primary rather than the machine's server at 127.0.0.1:5432: a base backup copies the
whole cluster (every other database on a shared server) and needs a ``replication`` line in its
``pg_hba.conf``; a cluster of our own has the default ``initdb`` lines (trust for local
replication connections) and holds only the one database. The replica is a real streaming
standby all the same.

``unavailable()`` says why a pair cannot be made here (no PostgreSQL binaries, root with no
``postgres`` user), for a skip with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
max_connections = 60
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 4
hot_standby = on
hot_standby_feedback = on
"""


def bin_dir() -> Path | None:
    """The directory of ``initdb``, ``pg_ctl`` and ``pg_basebackup``: ``PG_BIN`` when set, else
    the newest ``/usr/lib/postgresql/*/bin``, else ``pg_config --bindir`` on the PATH."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    if shutil.which("pg_config"):
        with contextlib.suppress(subprocess.CalledProcessError):
            found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(found.stdout.strip())
    for c in candidates:
        if c and all((Path(c) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            return Path(c)
    return None


def _run_as() -> list[str] | None:
    """The prefix that runs a command as a non-root user ([] when we are not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


def unavailable() -> str | None:
    if bin_dir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) on this machine"
    if _run_as() is None:
        return "running as root with no 'postgres' user (or runuser) to run the clusters as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pair:
    primary: str  # libpq URL of database ``safework`` on the primary
    replica: str  # the same database on the replica

    async def caught_up(self) -> None:
        """Wait (up to a minute) until the replica has replayed everything the primary has
        written so far."""
        p = await asyncpg.connect(self.primary)
        r = await asyncpg.connect(self.replica)
        try:
            # The primary commits asynchronously (``synchronous_commit = off``): a commit's record
            # may still sit in its WAL buffers, neither at ``pg_current_wal_lsn()`` (the write
            # position) nor sent to the replica, for up to ``wal_writer_delay``. A transaction of
            # our own that commits synchronously flushes every record before it; the insert
            # position read inside it lies after all of them (and at or before its own commit).
            async with p.transaction():
                await p.execute("SET LOCAL synchronous_commit = on")
                await p.fetchval("SELECT pg_current_xact_id()")  # an xid: its commit writes a record
                target = await p.fetchval("SELECT pg_current_wal_insert_lsn()")
            async with asyncio.timeout(60):
                while True:
                    if await r.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target):
                        return
                    await asyncio.sleep(0.05)
        finally:
            await p.close()
            await r.close()


@contextlib.contextmanager
def primary_and_replica() -> Iterator[Pair]:
    bindir, prefix = bin_dir(), _run_as()
    assert bindir is not None and prefix is not None, unavailable()
    root = Path(tempfile.mkdtemp(prefix="safework_replica_"))
    if prefix:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    os.chmod(root, 0o700)

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=root)

    primary_dir, replica_dir = root / "primary", root / "replica"
    ports = _free_port(), _free_port()
    started: list[Path] = []
    try:
        run(str(bindir / "initdb"), "-D", str(primary_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with (primary_dir / "postgresql.conf").open("a") as f:
            f.write(SETTINGS.format(port=ports[0], sockets=root))
        run(str(bindir / "pg_ctl"), "-D", str(primary_dir), "-l", str(root / "primary.log"), "-w", "start")
        started.append(primary_dir)
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "postgres", "safework")
        # The standby: a base backup of the primary, with its connection written by -R
        # (standby.signal and primary_conninfo), streaming the WAL it needs while it copies.
        run(
            str(bindir / "pg_basebackup"),
            "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "postgres",
            "-D", str(replica_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        with (replica_dir / "postgresql.conf").open("a") as f:
            f.write(f"port = {ports[1]}\n")
        run(str(bindir / "pg_ctl"), "-D", str(replica_dir), "-l", str(root / "replica.log"), "-w", "start")
        started.append(replica_dir)
        yield Pair(
            primary=f"postgresql://postgres@127.0.0.1:{ports[0]}/safework",
            replica=f"postgresql://postgres@127.0.0.1:{ports[1]}/safework",
        )
    finally:
        for data in reversed(started):
            with contextlib.suppress(subprocess.CalledProcessError):
                run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
