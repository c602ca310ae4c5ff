"""Runs the three services under ``safework up``: restarts one that dies, keeps the others
serving meanwhile, and stops them all only on a stop signal (Ctrl-C, SIGTERM, SIGHUP).

A service that exits is started again after a delay that doubles with each crash in a row
(``RestartPolicy``: 0.5 s, 1 s, 2 s, ... capped at 30 s). A run longer than ``stable_after``
starts the count over. After ``limit`` restarts in a row that each died within ``stable_after``,
the service is left down and the runner says so (a crash loop is a fault to fix, not to hide);
the others keep serving, and the runner exits 1 when it is stopped (or at once, when nothing is
left running).

Nothing outlives the runner. Each service runs in its own session with PR_SET_PDEATHSIG
(Linux): when the runner dies, even by SIGKILL, the kernel sends each service SIGTERM. Each
runner also records itself and its services in ``<data dir>/run/up-<pid>.json``; the next
``safework up`` stops any service a dead runner left behind (a platform without PDEATHSIG, a
service stuck in its shutdown) before it starts its own.

Why not a process manager from PyPI (evaluated: supervisor 4.3.0, circus 0.19.0, honcho 2.0.0):
honcho stops everything when one process exits (the fault being fixed here); supervisord restarts
a process that crashes after ``startsecs`` at once and forever (no backoff, no crash-loop limit),
and supervisord and circusd killed with SIGKILL both leave their children running (tried: the
children of each survived). Either would still need this module's orphan handling around it, a
generated config, and a second daemon between ``safework up`` and the services, while ``up`` has
to keep the database, migrations and secrets itself."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc Linux: no parent-death signal; the next start reaps leftovers instead
    _LIBC = None

# uvicorn's HTTP protocol with the 400 it answers to bytes that are not HTTP in the error envelope.
HTTP_PROTOCOL = "safework_common.server:HttpToolsProtocol"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    factory: str
    host: str
    port: int
    # Run this instead of uvicorn (tests, the jobs runner); such a service has no health URL.
    command: tuple[str, ...] | None = None
    # uvicorn worker processes (``--workers``): more than one, uvicorn's own manager runs them
    # on the one port and replaces one that dies.
    workers: int = 1
    # Variables for this service only, over the shared environment.
    env: tuple[tuple[str, str], ...] = ()

    def argv(self) -> list[str]:
        if self.command is not None:
            return list(self.command)
        workers = ["--workers", str(self.workers)] if self.workers > 1 else []
        return [
            sys.executable,
            "-m",
            "uvicorn",
            self.factory,
            "--factory",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--http",
            HTTP_PROTOCOL,
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "10",
            *workers,
        ]

    @property
    def health_url(self) -> str | None:
        return None if self.command is not None else f"http://{self.host}:{self.port}/healthz"


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec


def spawn(spec: ServiceSpec, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start one service in its own session; it gets SIGTERM when the calling *thread* ends
    (PR_SET_PDEATHSIG follows the thread that forked), so call this from the main thread."""
    return subprocess.Popen(  # noqa: S603
        spec.argv(), env={**env, **dict(spec.env)}, start_new_session=True, preexec_fn=_die_with(os.getpid())
    )


@dataclass(frozen=True)
class RestartPolicy:
    backoff: float = 0.5  # seconds before the first restart
    max_backoff: float = 30.0  # the delay doubles per crash in a row, up to this
    limit: int = 5  # restarts in a row (each run shorter than stable_after) before giving up
    stable_after: float = 60.0  # a run this long starts the count over

    def delay(self, crashes: int) -> float:
        """The wait before restarting after the ``crashes``-th crash in a row (1-based)."""
        return float(min(self.max_backoff, self.backoff * 2 ** min(crashes - 1, 62)))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RestartPolicy:
        """``SAFEWORK_RESTART_BACKOFF_SECONDS``, ``SAFEWORK_RESTART_BACKOFF_MAX_SECONDS`` and
        ``SAFEWORK_RESTART_LIMIT``; ValueError names a bad one."""
        d = cls()

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
            if not 0 < value < 86_400:
                raise ValueError(f"{name} must be more than 0 and less than a day, not {raw!r}")
            return value

        backoff = number("SAFEWORK_RESTART_BACKOFF_SECONDS", d.backoff)
        max_backoff = max(backoff, number("SAFEWORK_RESTART_BACKOFF_MAX_SECONDS", d.max_backoff))
        raw_limit = env.get("SAFEWORK_RESTART_LIMIT", "").strip()
        try:
            limit = int(raw_limit) if raw_limit else d.limit
        except ValueError:
            raise ValueError(f"SAFEWORK_RESTART_LIMIT must be a whole number, not {raw_limit!r}") from None
        if limit < 0:
            raise ValueError("SAFEWORK_RESTART_LIMIT must be 0 or more")
        return cls(backoff=backoff, max_backoff=max_backoff, limit=limit)


def _say(line: str) -> None:
    print(f"safework: {line}", file=sys.stderr, flush=True)


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


# --- run records: which runner started which processes --------------------------------------


def _started(pid: int) -> float | None:
    """The process's start time (with its pid, an identity that survives pid reuse), or None."""
    try:
        return round(float(psutil.Process(pid).create_time()), 2)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _is(pid: int, started: float | None) -> bool:
    return started is not None and _started(pid) == started


def reap_leftovers(run_dir: Path, say: Callable[[str], None] = _say, grace: float = 10.0) -> int:
    """Stop the services of runners that died (their record is left and they are gone); leave
    live runners' alone. Returns how many processes were stopped."""
    stopped = 0
    for record in sorted(run_dir.glob("up-*.json")):
        try:
            data = json.loads(record.read_text())
            runner = (int(data["pid"]), data.get("started"))
            children = [(str(c["name"]), int(c["pid"]), c.get("started")) for c in data.get("services", [])]
        except (OSError, ValueError, KeyError, TypeError):
            record.unlink(missing_ok=True)
            continue
        if _is(*runner):
            continue
        leftovers = [(name, pid) for name, pid, started in children if _is(pid, started)]
        for name, pid in leftovers:
            say(f"stopping the {name} (pid {pid}) left running by a safework up that died (pid {runner[0]})")
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, pid in leftovers:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except psutil.TimeoutExpired:
                    say(f"the {name} (pid {pid}) did not stop in {grace:g} s; killing it")
                    _signal_group(pid, signal.SIGKILL)
                    proc.wait(5)
            stopped += 1
        record.unlink(missing_ok=True)
    return stopped


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Each service leads its own session (and process group): signal the group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# --- the runner -------------------------------------------------------------------------------


@dataclass
class _Child:
    spec: ServiceSpec
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: int = 0  # in a row, each within stable_after of starting
    restart_at: float | None = None
    given_up: bool = False
    serving: bool = True  # False from a restart until its health URL answers


class Supervisor:
    """``start()`` the services and wait until each answers, ``run()`` until a stop is
    requested (``request_stop()``, or a stop signal raising :class:`Stop`), then ``stop()``."""

    def __init__(
        self,
        specs: list[ServiceSpec],
        env: Mapping[str, str],
        *,
        policy: RestartPolicy | None = None,
        run_dir: Path | None = None,
        say: Callable[[str], None] = _say,
        poll: float = 0.2,
    ) -> None:
        self.children = [_Child(spec) for spec in specs]
        self.env = dict(env)
        self.policy = policy or RestartPolicy()
        self.run_dir = run_dir
        self.say = say
        self.poll = poll
        self.stopping = threading.Event()
        self._record_path = run_dir / f"up-{os.getpid()}.json" if run_dir is not None else None

    def request_stop(self) -> None:
        self.stopping.set()

    def pid(self, name: str) -> int | None:
        for child in self.children:
            if child.spec.name == name and child.proc is not None:
                return child.proc.pid
        return None

    def start(self, timeout: float = 60.0) -> bool:
        """Start every service and wait until each answers its health URL. False: one did not
        (it exited, or never answered within ``timeout``); its own log says why."""
        for child in self.children:
            self._spawn(child)
        return all(self._wait_ready(child, timeout) for child in self.children)

    def run(self) -> int:
        """Restart what dies until a stop is requested (or a stop signal raises :class:`Stop`):
        0 then, or 1 if a service was given up (at once if every service was)."""
        try:
            while not self.stopping.wait(self.poll):
                now = time.monotonic()
                for child in self.children:
                    self._tend(child, now)
                if all(child.given_up for child in self.children):
                    self.say("no service is left running; stopping")
                    return 1
        except Stop:
            pass
        return 1 if any(child.given_up for child in self.children) else 0

    def stop(self, grace: float = 12.0) -> None:
        """SIGTERM every service (its whole group), SIGKILL what is left after ``grace``."""
        procs = [c.proc for c in self.children if c.proc is not None]
        stop_all(procs, grace)
        if self._record_path is not None:
            self._record_path.unlink(missing_ok=True)

    def _spawn(self, child: _Child) -> None:
        child.proc = spawn(child.spec, self.env)
        child.started_at = time.monotonic()
        child.restart_at = None
        self._record()

    def _tend(self, child: _Child, now: float) -> None:
        if child.given_up:
            return
        if child.proc is None:
            if child.restart_at is not None and now >= child.restart_at:
                self._spawn(child)
                assert child.proc is not None
                self.say(f"{child.spec.name} restarted (pid {child.proc.pid})")
            return
        code = child.proc.poll()
        if code is None:
            if not child.serving and self._answers(child):
                child.serving = True
                self.say(f"{child.spec.name} is serving again")
            return
        ran = now - child.started_at
        child.proc = None
        child.serving = False
        child.crashes = 1 if ran >= self.policy.stable_after else child.crashes + 1
        name = child.spec.name
        if child.crashes > self.policy.limit:
            child.given_up = True
            self.say(
                f"{name} {_how(code)} after {ran:.1f} s; it crashed {child.crashes} times in a row, each within "
                f"{self.policy.stable_after:g} s of starting: giving up on it (crash loop). The other services "
                "keep running; fix the cause (see its log above) and restart safework up."
            )
            return
        delay = self.policy.delay(child.crashes)
        child.restart_at = now + delay
        self.say(
            f"{name} {_how(code)} after {ran:.1f} s; restarting in {delay:g} s "
            f"(restart {child.crashes} of at most {self.policy.limit} in a row)"
        )

    def _answers(self, child: _Child) -> bool:
        url = child.spec.health_url
        if url is None:
            return True
        import httpx

        try:
            return httpx.get(url, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait_ready(self, child: _Child, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc is None or child.proc.poll() is not None:
                return False
            if self._answers(child):
                return True
            if self.stopping.wait(0.2):
                return False
        return False

    def _record(self) -> None:
        """Write this runner's record (itself and its live services) for the next start."""
        if self._record_path is None:
            return
        services = [
            {"name": c.spec.name, "pid": c.proc.pid, "started": _started(c.proc.pid)}
            for c in self.children
            if c.proc is not None
        ]
        data = {"pid": os.getpid(), "started": _started(os.getpid()), "services": services}
        self._record_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._record_path)


def stop_all(procs: list[subprocess.Popen[bytes]], grace: float = 12.0) -> None:
    for p in procs:
        if p.poll() is None:
            _signal_group(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            p.wait(remaining)
        except subprocess.TimeoutExpired:
            _signal_group(p.pid, signal.SIGKILL)
            p.wait()


class Stop(BaseException):
    """A stop signal arrived (a BaseException, as KeyboardInterrupt: nothing may swallow it)."""


def install_stop_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP raise :class:`Stop`; the first one also makes the process
    ignore the next, so a second Ctrl-C cannot cut the orderly shutdown short."""

    def handler(signum: int, _frame: object) -> None:
        ignore_stop_signals()
        raise Stop(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def ignore_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
