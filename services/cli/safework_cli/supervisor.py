"""Runs the three services as child processes and stops all of them together.

Children are started in their own session and die with the supervisor (PR_SET_PDEATHSIG), so
neither Ctrl-C, SIGTERM nor a killed supervisor leaves one behind."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    factory: str
    host: str
    port: int


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def spawn(spec: ServiceSpec, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        spec.factory,
        "--factory",
        "--host",
        spec.host,
        "--port",
        str(spec.port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
    ]
    return subprocess.Popen(cmd, env=dict(env), start_new_session=True, preexec_fn=_die_with_parent)  # noqa: S603


def wait_ready(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(f"http://{host}:{port}/healthz", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def stop_all(procs: list[subprocess.Popen[bytes]], grace: float = 12.0) -> None:
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            p.wait(remaining)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


class Stop(Exception):
    pass


def run_until_signal(procs: list[subprocess.Popen[bytes]], names: list[str]) -> int:
    """Block until Ctrl-C, SIGTERM or a child exits; return an exit code."""

    def handler(signum: int, _frame: object) -> None:
        raise Stop(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    try:
        while True:
            for p, name in zip(procs, names, strict=True):
                if p.poll() is not None:
                    print(f"safework: {name} exited with code {p.returncode}; stopping the rest", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except Stop:
        return 0
    finally:
        # A second Ctrl-C must not cut the orderly shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
