"""What the benchmark scripts share: starting a service as it runs in production and waiting
until it answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx


def start_service(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """uvicorn with a service's app factory (e.g. ``safework_registry.app:create_app``), one
    worker, quiet, on 127.0.0.1:``port``."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", factory, "--factory",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ],
        env=env,
    )  # fmt: skip


READY_WITHIN_SECONDS = 30.0


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    """Poll ``/readyz`` until 200; fail if the process exits or 30 s pass."""
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the service did not become ready in {READY_WITHIN_SECONDS:.0f} s")
