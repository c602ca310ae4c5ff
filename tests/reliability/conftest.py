"""Reliability checks: real service processes (uvicorn, as ``safework up`` runs them) against a
database of their own, killed, restarted and starved of their database on purpose.

Sizes are small by default so the suite stays fast; ``--crash-rounds N`` / ``--crash-batch N``
(or ``SAFEWORK_CRASH_ROUNDS`` / ``SAFEWORK_CRASH_BATCH``) make the crash run larger::

    pytest tests/reliability --crash-rounds 50 --crash-batch 1000
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path

import httpx
import pytest

from safework_cli import migrate
from safework_cli.supervisor import ServiceSpec, spawn
from tests.support import database

HOST = "127.0.0.1"
# Ports of the real servers these tests start (never 8000-8002, which `safework up` uses).
CRASH_PORTS = range(18170, 18180)
OUTAGE_PORTS = range(18180, 18190)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("safework reliability")
    group.addoption("--crash-rounds", type=int, default=None, help="SIGKILLs of the registry in the crash test")
    group.addoption("--crash-batch", type=int, default=None, help="items per result batch in the crash test")


def _size(config: pytest.Config, option: str, env: str, default: int) -> int:
    value = config.getoption(option, default=None)
    if value is None:
        value = int(os.environ.get(env, default))
    if value < 1:
        raise pytest.UsageError(f"{option} must be at least 1")
    return int(value)


@pytest.fixture
def crash_rounds(pytestconfig: pytest.Config) -> int:
    return _size(pytestconfig, "--crash-rounds", "SAFEWORK_CRASH_ROUNDS", 5)


@pytest.fixture
def crash_batch(pytestconfig: pytest.Config) -> int:
    return _size(pytestconfig, "--crash-batch", "SAFEWORK_CRASH_BATCH", 200)


def free_port(ports: range) -> int:
    """The first port of ``ports`` nothing listens on."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def service_env(keys_dir: Path, **extra: str) -> dict[str, str]:
    """What a service process needs: the internal token's public key and the national-ID key,
    passed as values the way production passes them."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env.update(
        SAFEWORK_ENV="test",
        LOG_LEVEL="WARNING",
        INTERNAL_TOKEN_PUBLIC_KEY=(keys_dir / "internal_ed25519.pub.pem").read_text(),
        REGISTRY_NATIONAL_ID_KEY=(keys_dir / "national_id_hmac.key").read_text().strip(),
    )
    env.update(extra)
    return env


class ServiceProcess:
    """One service under uvicorn, started the way ``safework up`` starts it (own session, dies
    with the test process), with its stderr kept in a file the test can read."""

    def __init__(self, name: str, factory: str, port: int, env: Mapping[str, str], log_dir: Path) -> None:
        self.spec = ServiceSpec(name, factory, HOST, port)
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.base_url = f"http://{HOST}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            # spawn() lets the child inherit stderr; point fd 2 at the log file for the fork only.
            saved = os.dup(2)
            try:
                os.dup2(log.fileno(), 2)
                self.proc = spawn(self.spec, self.env)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        self.starts += 1

    async def wait_ready(self, limit: float = 60.0) -> None:
        """Until ``/readyz`` answers 200 (the process is up and reaches its database)."""

        async def ready(client: httpx.AsyncClient) -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            try:
                async with asyncio.timeout(limit):
                    while True:
                        if await ready(client):
                            return
                        await asyncio.sleep(0.1)
            except TimeoutError:
                raise RuntimeError(f"{self.spec.name} was not ready in {limit} s:\n{self.log()}") from None

    async def sigkill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye; as a power cut or the OOM killer."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait, 30)

    def stop(self) -> None:
        stop_all([self])

    def terminate(self) -> bool:
        """SIGTERM (a graceful shutdown) without waiting; whether the process was running."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        self.proc.terminate()
        return True

    def wait_stopped(self) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def stop_all(processes: Iterable[ServiceProcess]) -> None:
    """Stop the processes side by side: every one is sent SIGTERM before any is waited for, so
    their graceful shutdowns (lifespan, pools, the uvicorn drain) overlap instead of adding up."""
    for p in [p for p in processes if p.terminate()]:
        p.wait_stopped()


async def until(condition: Callable[[], bool], limit: float, what: str) -> None:
    """Wait (polling) until ``condition()`` holds; fail naming ``what`` after ``limit`` seconds."""
    try:
        async with asyncio.timeout(limit):
            while True:
                if condition():
                    return
                await asyncio.sleep(0.002)
    except TimeoutError:
        raise AssertionError(f"not within {limit} s: {what}") from None


@pytest.fixture
async def scratch_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own on the test server (not the session's
    shared one: a killed process must not leave anything behind for other tests)."""
    url = await database.create_database(admin_url, prefix="safework_reliability")
    try:
        await asyncio.to_thread(migrate.upgrade, url, "heads", configure_logger=False)
        yield url
    finally:
        await database.drop_database(admin_url, url)
