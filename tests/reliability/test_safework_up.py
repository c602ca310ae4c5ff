"""``safework up`` as an operator runs it (issue 12, items 2 and 3): a crashed service is
restarted with backoff while the others keep serving, a crash loop is given up and reported,
and whatever is killed (a service, the runner itself) leaves no process behind once the next
``safework up`` has started and stopped.

The real-process tests start the ``safework`` command in a subprocess on ports 18230-18259:
against a scratch database on the test server, and against the embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from safework_cli.supervisor import RestartPolicy, ServiceSpec, Stop, Supervisor, reap_leftovers, spawn
from tests.reliability.conftest import HOST

UP_PORTS = range(18230, 18260)
SAFEWORK = str(Path(sys.executable).with_name("safework"))


# --- the restart policy and the runner, with stand-in services -------------------------------


def test_the_delay_doubles_from_the_first_and_stops_at_the_cap() -> None:
    policy = RestartPolicy(backoff=0.5, max_backoff=5.0)
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert RestartPolicy().delay(10_000) == 30.0  # no overflow however long the loop


def test_the_policy_is_read_from_the_environment_and_refuses_nonsense() -> None:
    assert RestartPolicy.from_env({}) == RestartPolicy()
    policy = RestartPolicy.from_env(
        {
            "SAFEWORK_RESTART_BACKOFF_SECONDS": "2",
            "SAFEWORK_RESTART_BACKOFF_MAX_SECONDS": "8",
            "SAFEWORK_RESTART_LIMIT": "3",
        }
    )
    assert (policy.backoff, policy.max_backoff, policy.limit) == (2.0, 8.0, 3)
    for name, value in (
        ("SAFEWORK_RESTART_BACKOFF_SECONDS", "soon"),
        ("SAFEWORK_RESTART_BACKOFF_SECONDS", "0"),
        ("SAFEWORK_RESTART_BACKOFF_MAX_SECONDS", "-1"),
        ("SAFEWORK_RESTART_LIMIT", "many"),
        ("SAFEWORK_RESTART_LIMIT", "-1"),
    ):
        with pytest.raises(ValueError, match=name):
            RestartPolicy.from_env({name: value})


def stand_in(name: str, code: str) -> ServiceSpec:
    """A service that is only a Python process (no HTTP): ``code`` is what it runs."""
    return ServiceSpec(name, "-", HOST, 0, command=(sys.executable, "-c", code))


def test_a_crash_loop_is_given_up_and_reported_while_the_others_keep_running() -> None:
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if "giving up" in line:
            raise Stop(signal.SIGTERM)  # as the stop signal's handler does

    steady = stand_in("steady", "import time; time.sleep(120)")
    flaky = stand_in("flaky", "raise SystemExit(3)")
    policy = RestartPolicy(backoff=0.05, max_backoff=0.1, limit=3)
    supervisor = Supervisor([steady, flaky], os.environ, policy=policy, say=say)
    safety = threading.Timer(60, supervisor.request_stop)  # a generous bound, should it never give up
    safety.start()
    try:
        assert supervisor.start(timeout=10)
        steady_pid = supervisor.pid("steady")
        code = supervisor.run()
        # The steady service was never touched: the same process, still running.
        assert steady_pid is not None and supervisor.pid("steady") == steady_pid and psutil.pid_exists(steady_pid)
    finally:
        safety.cancel()
        supervisor.stop()
    assert code == 1  # stopped by a signal, and a service had been given up: exit 1
    flaky_lines = [line for line in lines if line.startswith("flaky")]
    assert [line.split("; ", 1)[1] for line in flaky_lines if "restarting" in line] == [
        "restarting in 0.05 s (restart 1 of at most 3 in a row)",
        "restarting in 0.1 s (restart 2 of at most 3 in a row)",
        "restarting in 0.1 s (restart 3 of at most 3 in a row)",
    ], lines
    assert "exited with code 3" in flaky_lines[-1] and "giving up on it (crash loop)" in flaky_lines[-1]
    assert not any(line.startswith("steady") for line in lines), lines
    assert not psutil.pid_exists(steady_pid)


def test_when_every_service_is_given_up_the_runner_ends() -> None:
    lines: list[str] = []
    supervisor = Supervisor(
        [stand_in("flaky", "raise SystemExit(1)")], os.environ, policy=RestartPolicy(backoff=0.05, limit=1),
        say=lines.append,
    )  # fmt: skip
    try:
        assert supervisor.start(timeout=10)
        assert supervisor.run() == 1
    finally:
        supervisor.stop()
    assert lines[-1] == "no service is left running; stopping"


def test_the_next_start_stops_what_a_dead_runner_left_behind(tmp_path: Path) -> None:
    """Without PR_SET_PDEATHSIG (or a service stuck in its shutdown), a killed runner's services
    would survive it; its record names them, and the next start stops them. A live runner's
    services are left alone."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sleeper = stand_in("registry", "import time; time.sleep(120)")
    left = spawn(sleeper, os.environ)
    mine = spawn(sleeper, os.environ)
    dead_runner = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    try:

        def record(runner_pid: int, runner_started: float, child: subprocess.Popen[bytes]) -> dict[str, object]:
            started = round(psutil.Process(child.pid).create_time(), 2)
            return {"pid": runner_pid, "started": runner_started,
                    "services": [{"name": "registry", "pid": child.pid, "started": started}]}  # fmt: skip

        me = psutil.Process()
        (run_dir / "up-1.json").write_text(json.dumps(record(int(dead_runner.stdout), 1.0, left)))
        (run_dir / "up-2.json").write_text(json.dumps(record(me.pid, round(me.create_time(), 2), mine)))
        said: list[str] = []
        assert reap_leftovers(run_dir, said.append) == 1
        assert left.wait(10) is not None  # stopped (SIGTERM to its group)
        assert mine.poll() is None  # a live runner's service keeps running
        assert [p.name for p in run_dir.iterdir()] == ["up-2.json"]
        assert said and "left running by a safework up that died" in said[0]
    finally:
        for proc in (left, mine):
            proc.kill()
            proc.wait()


# --- the real command ------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    for port in UP_PORTS:
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError("no free ports in 18230-18259")


class Up:
    """One ``safework up`` in a subprocess, its output in a file."""

    def __init__(self, tmp_path: Path, env: dict[str, str], label: str) -> None:
        self.log_path = tmp_path / f"{label}.log"
        self.env = env
        self.gateway = f"http://{HOST}:{env['GATEWAY_PORT']}"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [SAFEWORK, "up"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, limit: float = 120.0) -> None:
        until(lambda: self.proc.poll() is None and ready(self.gateway), limit, "the gateway is ready", self)

    def services(self) -> dict[str, psutil.Process]:
        """The running services by name, read from the process table."""
        out = {}
        for child in psutil.Process(self.proc.pid).children():
            for name in ("registry", "scheduler", "gateway"):
                if any(f"safework_{name}.app" in part for part in child.cmdline()):
                    out[name] = child
        return out

    def finish(self, sig: signal.Signals = signal.SIGTERM, limit: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"safework up did not stop within {limit} s:\n{self.log()}") from None


def ready(base: str) -> bool:
    try:
        return httpx.get(base + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def until(condition: Callable[[], bool], limit: float, what: str, up: Up | None = None) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {limit} s: {what}" + (f"\n{up.log()}" if up else ""))


def gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def up_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and not k.startswith("SAFEWORK_")}
    gateway, registry, scheduler = free_ports(3)
    env.update(
        SAFEWORK_DATA_DIR=str(tmp_path / "data"),
        SAFEWORK_ENV="development",
        LOG_LEVEL="WARNING",
        GATEWAY_PORT=str(gateway),
        REGISTRY_PORT=str(registry),
        SCHEDULER_PORT=str(scheduler),
    )
    env.update(extra)
    return env


@pytest.fixture
def ups() -> Iterator[list[Up]]:
    """Every ``safework up`` a test started is stopped (its whole session killed) at the end."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.proc.poll() is None:
            os.killpg(up.proc.pid, signal.SIGKILL)
            up.proc.wait()


def test_a_killed_service_is_restarted_while_the_others_keep_serving(
    tmp_path: Path, scratch_database: str, ups: list[Up]
) -> None:
    """Issue 12 item 2: SIGKILL the registry under ``safework up``. The runner restarts it after
    its backoff and says so; meanwhile the scheduler and the gateway keep running (the same
    processes) and the gateway's /readyz names the registry as down; then all is ready again.
    Only SIGTERM stops everything (exit 0, no service left)."""
    env = up_env(tmp_path, DATABASE_URL=scratch_database, SAFEWORK_RESTART_BACKOFF_SECONDS="1")
    up = Up(tmp_path, env, "up")
    ups.append(up)
    up.wait_ready()
    before = up.services()
    assert set(before) == {"registry", "scheduler", "gateway"}, up.log()
    before["registry"].kill()

    def registry_down() -> bool:
        r = httpx.get(up.gateway + "/readyz", timeout=2)
        return r.status_code == 503 and [d["field"] for d in r.json()["error"]["details"]] == ["registry"]

    until(registry_down, 10, "the gateway's /readyz names the registry as down", up)
    until(lambda: ready(up.gateway), 60, "ready again after the restart", up)
    after = up.services()
    assert after["registry"].pid != before["registry"].pid
    assert after["scheduler"].pid == before["scheduler"].pid and after["gateway"].pid == before["gateway"].pid
    assert up.proc.poll() is None
    log = up.log()
    assert "registry was killed by SIGKILL" in log and "restarting in 1 s (restart 1 of at most 5 in a row)" in log
    until(lambda: "registry is serving again" in up.log(), 10, "the runner reports the registry back", up)

    # The server's own 400 (a DEL byte in a header) comes in the error envelope (item 4).
    with socket.create_connection((HOST, int(env["GATEWAY_PORT"])), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nAccept: a\x7fb\r\n\r\n")
        answer = s.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in head
    assert json.loads(body)["error"]["details"][0]["field"] == "header.Accept"

    assert up.finish() == 0
    for proc in (*before.values(), *after.values()):
        assert gone(proc), proc
    assert not list((tmp_path / "data" / "run").glob("up-*.json"))


def postmaster(pgdata: Path) -> psutil.Process | None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        proc = psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.NoSuchProcess):
        return None
    return None if gone(proc) else proc


@pytest.fixture
def outside_pytest_tmp() -> Iterator[Path]:
    """A directory the embedded server's own user can reach: not under pytest's ``tmp_path``,
    whose ``/tmp/pytest-of-<user>`` any pytest session starting on the machine sets back to 0700
    (as ``tests/support/database.py`` does for the same reason)."""
    path = Path(tempfile.mkdtemp(prefix="safework-up-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_killed_runner_leaves_nothing_once_the_next_has_started_and_stopped(
    outside_pytest_tmp: Path, ups: list[Up]
) -> None:
    """Issue 12 item 3: SIGKILL ``safework up`` itself (embedded PostgreSQL). Its services die
    with it (PR_SET_PDEATHSIG); the database server it started outlives it, and the next
    ``safework up`` takes it over and stops it when stopped: no process is left."""
    tmp_path = outside_pytest_tmp
    env = up_env(tmp_path)
    pgdata = tmp_path / "data" / "pg"
    first = Up(tmp_path, env, "first")
    ups.append(first)
    first.wait_ready()
    services = first.services()
    server = postmaster(pgdata)
    assert server is not None and set(services) == {"registry", "scheduler", "gateway"}, first.log()
    first.proc.kill()
    first.proc.wait()
    until(lambda: all(gone(p) for p in services.values()), 30, "the killed runner's services are gone", first)

    second = Up(tmp_path, env, "second")
    ups.append(second)
    second.wait_ready()
    taken_over = postmaster(pgdata)
    assert taken_over is not None and taken_over.pid == server.pid  # the same server, not a second one
    assert second.finish() == 0, second.log()
    until(lambda: gone(server), 30, "the database server is stopped", second)
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert not leftovers, leftovers
    assert not (tmp_path / "data" / "pg.holders.json").exists()
    assert "took over the embedded PostgreSQL left running by a safework process that died" in second.log()


def test_several_workers_a_shared_metrics_port_and_the_jobs_runner(
    tmp_path: Path, scratch_database: str, ups: list[Up]
) -> None:
    """Issue 18: ``safework up --workers 2`` runs two gateway processes on the one port (uvicorn's
    manager), their metrics summed on one metrics port (prometheus-client's multiprocess mode),
    and the periodic jobs runner beside them, which runs retention on its schedule and logs it."""
    from prometheus_client.parser import text_string_to_metric_families

    env = up_env(
        tmp_path,
        DATABASE_URL=scratch_database,
        LOG_LEVEL="INFO",
        GATEWAY_WORKERS="2",
        REGISTRY_WORKERS="1",
        SCHEDULER_WORKERS="1",
        JOBS_RETENTION_EVERY_SECONDS="1",
    )
    env.pop("REDIS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    up = Up(tmp_path, env, "up")
    ups.append(up)
    up.wait_ready()
    gateway = next(
        c for c in psutil.Process(up.proc.pid).children() if any("safework_gateway.app" in p for p in c.cmdline())
    )
    until(lambda: len(gateway.children()) >= 2, 60, "two gateway workers", up)
    for _ in range(20):
        assert httpx.get(up.gateway + "/healthz", timeout=5).status_code == 200
    metrics_url = f"http://{HOST}:{int(env['GATEWAY_PORT']) + 1000}/metrics"

    def healthz_count() -> float:
        text = httpx.get(metrics_url, timeout=5).text
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "safework_http_request_duration_seconds_count" and s.labels.get("route") == "/healthz"
        )

    # Whichever worker answers the scrape, it counts every worker's requests.
    assert all(healthz_count() >= 20 for _ in range(4))
    until(lambda: "job retention: done" in up.log(), 60, "the jobs runner ran retention", up)
    assert up.finish() == 0
