"""What the benchmark scripts share: a scratch database, starting a service as it runs in
production, waiting until it answers, and measuring its peak resident memory while it works."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
import uuid
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil

from safework_common.settings import plain_pg_url


def with_database(url: str, name: str) -> str:
    """``url`` (any PostgreSQL URL form) pointing at database ``name``, as libpq takes it."""
    return urlunsplit(urlsplit(plain_pg_url(url))._replace(path="/" + name))


async def create_scratch(admin_url: str, kind: str) -> str:
    """A new empty database ``safework_bench_<kind>_<random>`` on ``admin_url``'s server; its URL."""
    name = f"safework_bench_{kind}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(plain_pg_url(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_scratch(admin_url: str, url: str) -> None:
    """Drop the database of ``url`` (made by ``create_scratch``), closing its sessions."""
    conn = await asyncpg.connect(plain_pg_url(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await conn.close()


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


MIB = 1024 * 1024


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants now (0 once it is gone)."""
    return tree_memory(pid)[0]


def tree_memory(pid: int, *, pss: bool = False) -> tuple[int, int]:
    """Resident bytes of a process and all its descendants now, and (``pss``) their
    proportional set size: each page shared by n of them counted 1/n in each, so a page the
    forked workers share with their parent is counted once in the sum (0s once it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    rss = proportional = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):  # a child that ended since the listing
            if pss:
                full = proc.memory_full_info()  # /proc/<pid>/smaps_rollup
                rss += full.rss
                proportional += full.pss
            else:
                rss += proc.memory_info().rss
    return rss, proportional


class PeakRss:
    """Samples the resident memory of some processes (each with its children: worker processes
    count against the service that started them) in a background thread, every ``interval``
    seconds, and keeps each one's first and peak sample.

        with PeakRss({"registry": proc.pid}) as rss:
            ...  # the load
        print(rss.report())

    Sampling is cheap (a few /proc reads per process) and runs outside the measured processes.
    A spike shorter than the interval can be missed; 50 ms catches what a request allocates."""

    def __init__(self, pids: dict[str, int], interval: float = 0.05, *, pss_interval: float | None = None) -> None:
        self.pids = dict(pids)
        self.interval = interval
        # Also the peak of the tree's summed proportional set size (``tree_memory``), every
        # ``pss_interval`` seconds: the kernel walks a process's page tables for it (about 3 ms
        # for one of 140 MiB), too dear to sample as often as the resident size.
        self.pss_interval = pss_interval
        self._pss_at = 0.0
        self.first: dict[str, int] = {}
        self.peak: dict[str, int] = dict.fromkeys(self.pids, 0)
        self.peak_pss: dict[str, int] = dict.fromkeys(self.pids, 0)
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        now = time.monotonic()
        pss_due = self.pss_interval is not None and now - self._pss_at >= self.pss_interval
        if pss_due:
            self._pss_at = now
        for name, pid in self.pids.items():
            rss, pss = tree_memory(pid, pss=pss_due)
            self.first.setdefault(name, rss)
            self.peak[name] = max(self.peak[name], rss)
            self.peak_pss[name] = max(self.peak_pss[name], pss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> PeakRss:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.sample()

    def __enter__(self) -> PeakRss:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def peak_mib(self, name: str) -> float:
        return self.peak[name] / MIB

    def report(self) -> str:
        """One line per process: peak and first resident memory, in MiB."""
        width = max(len(n) for n in self.pids)
        return "\n".join(
            f"{name:<{width}}  peak {self.peak[name] / MIB:7.1f} MiB"
            f"  (at start {self.first.get(name, 0) / MIB:6.1f} MiB)"
            for name in self.pids
        )
