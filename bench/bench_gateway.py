"""Gateway benchmark: reads under load, each through the gateway, straight to the service that
answers it, and against a bare FastAPI + asyncpg app running the same SQL (``bench/bare_app.py``),
all under `wrk` on loopback in the same run, each run bounded in time; the peak resident memory
of every service during the runs; and the cost of verifying a public token per request.

Starts real uvicorn servers (gateway 18151, registry 18152, scheduler 18153, a second gateway
with httpx's transport 18154, the bare app 18155) on a scratch database
(``BENCH_DATABASE_URL``'s server, default ``postgresql://postgres@127.0.0.1:5432/postgres``),
migrated to every head with the policies loaded, seeded through the public API (an enterprise
with a roster of workers, their app installations, and ``--tokens`` workers whose devices are
activated the way the app does it: an activation code from the enterprise, traded by the
sanctioned app for a device token), analysed (``ANALYZE``, as autovacuum soon would), and
dropped at the end. The seeded workers have no results, doses, declarations or travels yet.

The reads:

- the enterprise's compliance poll (``GET /api/v1/enterprises/{id}/compliance``): through the
  gateway (enterprise JWT), straight to the scheduler (internal token), and the bare app;
- the worker's status (``GET /api/v1/me/status``): through the gateway, a wrk Lua script
  rotating over the activated workers' device tokens (so it is not one cached row). The gateway
  builds it from two upstream reads made at once, the registry's ``GET /v1/persons/{id}/summary``
  and the scheduler's ``GET /v1/persons/{id}/due``. wrk cannot make two calls per answer, so
  *straight* runs wrk against each upstream separately (rotating over the same workers, each
  with the internal token the gateway would mint for them) and prints both. One status answer
  costs one read of each, so two figures stand for "straight": the capacity ``1 / (1/a + 1/b)``
  answers per second (the two reads one after the other on the same machine: exact if each
  service alone saturated it, low when the two can overlap on separate cores), and, measured,
  two wrk side by side, half the connections each on one upstream, completing ``min(a', b')``
  pairs per second (low when one service is much faster: its spare completions count for
  nothing). The verdict is taken against the higher of the two. The bare app answers
  ``/status/{id}`` with the two statement sets at once on two connections (as the gateway
  makes its calls), and each half separately;
- a cheap read (``GET vaccine-products``) where the gateway's own cost shows.

Ratios: gateway / straight (target >= 60%) and gateway / bare. Peak RSS: each service process
with its children, sampled every 50 ms by ``bench.support.PeakRss`` during each read's runs.

    .venv/bin/python -m bench.bench_gateway [--quick] [--workers N] [--tokens N] [--connections C] [--seconds S]

Needs `wrk` (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.support import PeakRss, create_scratch, drop_scratch

HOST = "127.0.0.1"
GATEWAY_PORT, REGISTRY_PORT, SCHEDULER_PORT = 18151, 18152, 18153
# A second gateway, the same but with httpx's default transport, to compare the two.
HTTPX_GATEWAY_PORT = 18154
BARE_PORT = 18155
ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.60
SANCTIONED_APP = "vn.gov.bluezone"


def write_keys(directory: Path) -> None:
    from safework_common.internal_auth import generate_keypair

    private, public = generate_keypair()
    (directory / "internal_ed25519.pem").write_bytes(private)
    (directory / "internal_ed25519.pub.pem").write_bytes(public)
    (directory / "national_id_hmac.key").write_text(uuid.uuid4().hex * 2)


async def policy_parameters(db_url: str) -> dict[str, str]:
    """What the bare app passes its statements besides ``as_of`` and the ids: the policy in force
    now, as the scheduler reads it (``PolicyStore``) and turns it into the statements' parameters
    (``DueRules``): the history window, the arrivals instant, the sanctioned app IDs."""
    from safework_common.db import make_engine, make_sessionmaker
    from safework_scheduler.due.rules import DueRules
    from safework_scheduler.policy.repository import PolicyStore

    engine = make_engine(db_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            now = datetime.now(UTC)
            policy = await PolicyStore().at(session, now)
    finally:
        await engine.dispose()
    rules = DueRules(policy, now)
    arrivals = rules.arrivals_after
    return {
        "BARE_HISTORY_SECONDS": str((rules.as_of - rules.horizon).total_seconds()),
        "BARE_ARRIVALS_SECONDS": "" if arrivals is None else str((rules.as_of - arrivals).total_seconds()),
        "BARE_SANCTIONED_APP_IDS": ",".join(policy.single_app.sanctioned_app_ids),
    }


@contextmanager
def servers(db_url: str, keys: Path, log_dir: Path, bare_env: dict[str, str]) -> Iterator[dict[str, int]]:
    """The three services (and a second gateway, and the bare app) as real uvicorn processes,
    stopped (by their own pids) on exit. Yields each one's pid by name."""
    env = {
        **os.environ,
        "SAFEWORK_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": db_url,
        "INTERNAL_TOKEN_PUBLIC_KEY_FILE": str(keys / "internal_ed25519.pub.pem"),
        "GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY_FILE": str(keys / "internal_ed25519.pem"),
        "GATEWAY_KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        "REGISTRY_NATIONAL_ID_KEY_FILE": str(keys / "national_id_hmac.key"),
        "GATEWAY_REGISTRY_URL": f"http://{HOST}:{REGISTRY_PORT}",
        "GATEWAY_SCHEDULER_URL": f"http://{HOST}:{SCHEDULER_PORT}",
        # The benchmark is one client polling as fast as it can: no rate limit in the way.
        "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
        "GATEWAY_RATE_LIMIT_BURST": "1000000",
        "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "1000",
    }
    specs = [
        ("registry", "safework_registry.app:create_app", REGISTRY_PORT, {}),
        ("scheduler", "safework_scheduler.app:create_app", SCHEDULER_PORT, {}),
        ("gateway", "safework_gateway.app:create_app", GATEWAY_PORT, {"GATEWAY_UPSTREAM_TRANSPORT": "lean"}),
        (
            "gateway-httpx",
            "safework_gateway.app:create_app",
            HTTPX_GATEWAY_PORT,
            {"GATEWAY_UPSTREAM_TRANSPORT": "httpx"},
        ),
        ("bare", "bench.bare_app:create_app", BARE_PORT, {"BARE_DATABASE_URL": db_url, **bare_env}),
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, factory, port, own_env in specs:
            log = (log_dir / f"{name}.log").open("wb")
            cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                factory,
                "--factory",
                "--host",
                HOST,
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
            ]
            procs.append(subprocess.Popen(cmd, env={**env, **own_env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        for (name, _, port, _), proc in zip(specs, procs, strict=True):
            wait_healthy(name, port, proc, log_dir)
        yield {name: proc.pid for (name, _, _, _), proc in zip(specs, procs, strict=True)}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(name: str, port: int, proc: subprocess.Popen[bytes], log_dir: Path) -> None:
    deadline = time.monotonic() + 120  # five processes importing at once on a loaded machine: 30 s was too short
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"{name} exited; see {log_dir / (name + '.log')}:\n{(log_dir / (name + '.log')).read_text()}"
            )
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name} did not become healthy on port {port}")


@dataclass
class Worker:
    """A worker whose device was activated: the device token the app holds."""

    person_id: str
    device_id: str
    token: str


@dataclass
class Seeded:
    enterprise_id: str
    enterprise_token: str
    workers: list[Worker]


async def install_apps(keys: Path, enterprise_id: str, people: list[str]) -> None:
    """Workers' app installations, registered in the registry as the gateway does on
    activation (for the workers whose activation is not needed for the benchmark)."""
    from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter

    minter = InternalTokenMinter((keys / "internal_ed25519.pem").read_bytes())
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{REGISTRY_PORT}", timeout=60) as registry:

        async def install(pid: str) -> None:
            device = f"android-bench-{uuid.uuid4().hex}"
            caller = Caller(subject=f"device:{device}", role="worker", person_id=pid, enterprise_id=enterprise_id)
            body = {"device_id": device, "app_id": SANCTIONED_APP, "app_version": "4.2.1", "platform": "android"}
            async with gate:
                r = await registry.post(
                    "/v1/installations/sync", json=body, headers={INTERNAL_HEADER: minter.mint(caller)}
                )
            r.raise_for_status()

        await asyncio.gather(*(install(pid) for pid in people))


async def activate_workers(
    http: httpx.AsyncClient, enterprise_id: str, ent_token: str, people: list[str]
) -> list[Worker]:
    """As the app does: the enterprise issues one-time codes, the sanctioned app trades each for
    a device token (which registers the installation in the registry)."""
    r = await http.post(
        f"/enterprises/{enterprise_id}/activation-codes",
        json={"person_ids": people},
        headers={"Authorization": f"Bearer {ent_token}"},
    )
    r.raise_for_status()
    gate = asyncio.Semaphore(8)

    async def activate(item: dict[str, str]) -> Worker:
        device = f"android-bench-{uuid.uuid4().hex}"
        body = {
            "code": item["code"],
            "device_id": device,
            "app_id": SANCTIONED_APP,
            "app_version": "4.2.1",
            "platform": "android",
        }
        async with gate:
            answer = await http.post("/app/activate", json=body)
        answer.raise_for_status()
        return Worker(item["person_id"], device, answer.json()["access_token"])

    return list(await asyncio.gather(*(activate(item) for item in r.json()["items"])))


async def seed(db_url: str, keys: Path, workers: int, tokens: int) -> Seeded:
    """Through the public API, as the authority, the enterprise and the app would. Nine workers
    in ten have the app: ``tokens`` of them activated through the gateway, the others'
    installations registered straight in the registry."""
    from safework_common.db import make_engine, make_sessionmaker
    from safework_gateway.clients.service import create_client

    engine = make_engine(db_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            client, province_secret = await create_client(session, name="bench", role="authority", created_by="bench")
            province_id = client.client_id
    finally:
        await engine.dispose()
    base = f"http://{HOST}:{GATEWAY_PORT}/api/v1"
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        token = await grant(http, province_id, province_secret)
        province = {"Authorization": f"Bearer {token}"}
        ent = {
            "tax_code": f"{2400000000 + uuid.uuid4().int % 99_999_999:010d}",
            "name": "Công ty TNHH Bench",
            "district": "Việt Yên",
            "zone_type": "KCN",
            "zone_name": "KCN Vân Trung",
            "headcount": workers,
        }
        r = await http.post("/enterprises", json=ent, headers=province)
        r.raise_for_status()
        enterprise_id = r.json()["id"]
        created = await http.post(
            "/clients",
            json={"name": "bench enterprise", "role": "enterprise", "enterprise_id": enterprise_id},
            headers=province,
        )
        created.raise_for_status()
        ent_token = await grant(http, created.json()["client_id"], created.json()["client_secret"])
        items = [
            {
                "employee_code": f"NV-{n:05d}",
                "national_id": f"0241{(n * 7919 + 13) % 100_000_000:08d}",
                "full_name": f"Nguyễn Văn {n}",
                "date_of_birth": "1995-03-14",
                "sex": "male" if n % 2 else "female",
            }
            for n in range(workers)
        ]
        r = await http.put(
            f"/enterprises/{enterprise_id}/roster",
            json={"items": items},
            headers={"Authorization": f"Bearer {ent_token}"},
        )
        r.raise_for_status()
        people = [item["person_id"] for item in r.json()["items"] if item.get("person_id")]
        with_app = people[: len(people) * 9 // 10]
        tokens = min(tokens, len(with_app))
        activated = await activate_workers(http, enterprise_id, ent_token, with_app[:tokens])
        await install_apps(keys, enterprise_id, with_app[tokens:])
        sync = {
            "device_id": f"web-bench-{uuid.uuid4().hex}",
            "app_id": SANCTIONED_APP,
            "app_version": "4.2.1",
            "platform": "web",
        }
        r = await http.post(
            f"/enterprises/{enterprise_id}/app/sync", json=sync, headers={"Authorization": f"Bearer {ent_token}"}
        )
        r.raise_for_status()
    return Seeded(enterprise_id, ent_token, activated)


async def analyze(db_url: str) -> None:
    """Statistics for the freshly seeded tables, as autovacuum would gather them within a minute
    or so, and as a live database has them: measured without, the planner takes the new
    enterprise for one person and the compliance statement for 2,000 workers turns quadratic
    (about 50 times slower)."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def grant(http: httpx.AsyncClient, client_id: str, secret: str) -> str:
    r = await http.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


@dataclass
class Run:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


_ROTATE_LUA = """-- Generated by bench/bench_gateway.py: each request the next of these (path, header).
local specs = SPECS
local requests = {}
function init(args)
  for _, s in ipairs(specs) do
    requests[#requests + 1] = wrk.format("GET", s[1], {[s[2]] = s[3]})
  end
end
local i = 0
function request()
  i = i % #requests + 1
  return requests[i]
end
"""


def rotation(directory: Path, name: str, specs: list[tuple[str, str, str]]) -> Path:
    """A wrk Lua script sending GET requests in turn over ``specs`` (path, header name, value)."""
    table = "{" + ", ".join("{" + ", ".join(json.dumps(x) for x in spec) + "}" for spec in specs) + "}"
    path = directory / f"{name}.lua"
    path.write_text(_ROTATE_LUA.replace("SPECS", table))
    return path


def wrk_command(
    url: str, header: str | None, seconds: int, connections: int, threads: int, script: Path | None = None
) -> list[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if header is not None:
        cmd += ["-H", header]
    if script is not None:
        cmd += ["-s", str(script)]
    return [*cmd, url]


def parse_wrk(label: str, out: str) -> Run:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in errs.groups()) if errs else 0)
    return Run(label, rps, p50, p99, total, errors)


def wrk(
    label: str,
    url: str,
    header: str | None,
    seconds: int,
    connections: int,
    threads: int,
    script: Path | None = None,
) -> Run:
    cmd = wrk_command(url, header, seconds, connections, threads, script)
    return parse_wrk(
        label, subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    )


def wrk_together(runs: list[tuple[str, list[str]]], seconds: int) -> list[Run]:
    """Several wrk processes (label, command) started at once and run side by side."""
    procs = [(label, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)) for label, cmd in runs]
    out = []
    for label, proc in procs:
        stdout, _ = proc.communicate(timeout=seconds + 30)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, proc.args)
        out.append(parse_wrk(label, stdout))
    return out


def verify_cost(rounds: int) -> tuple[float, float, float]:
    """µs per verification: full (signature and claims), cached, and minting the internal token."""
    from datetime import timedelta

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from safework_common.internal_auth import InternalTokenMinter, generate_keypair
    from safework_gateway.auth.tokens import TYP_CLIENT, TokenService
    from safework_gateway.keys.service import KeyRing, RingKey, thumbprint

    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    key = RingKey(thumbprint(raw), private.public_key(), raw, "active", datetime.now(UTC), None, private)
    ring = KeyRing([key], max_token_lifetime=timedelta(hours=1))
    tokens = TokenService(lambda: ring, issuer="safework", audience="safework-api", leeway_seconds=10)
    token, _, _ = tokens.issue(
        subject="client:e",
        role="enterprise",
        typ=TYP_CLIENT,
        ttl_seconds=900,
        claims={"client_id": "e", "enterprise_id": str(uuid.uuid4())},
    )

    def per_op(fn: Any) -> float:
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(rounds):
                fn()
            samples.append((time.perf_counter() - started) / rounds * 1e6)
        return statistics.median(samples)

    full = per_op(lambda: tokens.verify_uncached(token))
    cached = per_op(lambda: tokens.verify(token))
    minter = InternalTokenMinter(generate_keypair()[0])
    principal = tokens.verify(token)
    mint = per_op(lambda: minter.mint(principal.caller()))
    return full, cached, mint


HEADER = f"{'':36}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}"


def row(run: Run) -> str:
    return f"{run.label:<36}{run.rps:>10.0f}{run.p50_ms:>10.2f}{run.p99_ms:>10.2f}{run.requests:>10}{run.errors:>8}"


def verdict(ratio: float) -> str:
    return f"{ratio:.0%} ({'meets' if ratio >= TARGET_RATIO else 'BELOW'} the {TARGET_RATIO:.0%} target)"


def share(a: float, b: float) -> float:
    return a / b if b else 0.0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


@dataclass
class Results:
    compliance: dict[str, Run]
    status: dict[str, Run]
    cheap: dict[str, Run]
    memory: dict[str, PeakRss]
    load_before: str
    load_after: str
    roster_mode: str


def measure(
    seeded: Seeded,
    keys: Path,
    pids: dict[str, int],
    tmp: Path,
    seconds: int,
    connections: int,
    threads: int,
    *,
    warm_up: bool = True,
) -> Results:
    from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter

    private_pem = (keys / "internal_ed25519.pem").read_bytes()

    def internal(caller: Caller) -> str:
        """A fresh internal token (they live 60 s) for each straight run."""
        return InternalTokenMinter(private_pem).mint(caller)

    def run(label: str, url: str, header: str | None = None, script: Path | None = None, warm: bool = False) -> Run:
        return wrk(label, url, header, 1 if warm else seconds, connections, threads, script)

    eid = seeded.enterprise_id
    enterprise = Caller(subject="client:bench", role="enterprise", client_id="bench", enterprise_id=eid)
    bearer = f"Authorization: Bearer {seeded.enterprise_token}"
    gateway, gateway_httpx = f"http://{HOST}:{GATEWAY_PORT}", f"http://{HOST}:{HTTPX_GATEWAY_PORT}"
    registry, scheduler, bare = (f"http://{HOST}:{p}" for p in (REGISTRY_PORT, SCHEDULER_PORT, BARE_PORT))

    # The worker reads: which the scheduler's answer needs a roster for (a rotating sample).
    mode = httpx.get(
        f"{scheduler}/v1/enterprises/{eid}/due", headers={INTERNAL_HEADER: internal(enterprise)}, timeout=60
    ).json()["round"]["mode"]
    roster = "1" if mode == "SAMPLE" else "0"
    workers = seeded.workers

    def worker_caller(w: Worker) -> Caller:
        """What ``Principal.caller()`` gives the upstreams for this worker's device token."""
        return Caller(subject=f"device:{w.device_id}", role="worker", person_id=w.person_id, enterprise_id=eid)

    def straight(part: str) -> Path:
        specs = [(f"/v1/persons/{w.person_id}/{part}", INTERNAL_HEADER, internal(worker_caller(w))) for w in workers]
        return rotation(tmp, f"straight-{part}", specs)

    me = rotation(tmp, "me", [("/api/v1/me/status", "Authorization", f"Bearer {w.token}") for w in workers])
    bare_scripts = {
        part: rotation(
            tmp, f"bare-{part}", [(f"/{part}/{w.person_id}?roster={roster}", "Accept", "*/*") for w in workers]
        )
        for part in ("status", "summary", "due")
    }

    compliance_path = f"/enterprises/{eid}/compliance"
    memory: dict[str, PeakRss] = {}
    load_before = load()
    # Warm every path (pools, caches, prepared statements; not in a smoke run), then measure,
    # straight first.
    if warm_up:
        run("warm", f"{scheduler}/v1{compliance_path}", f"{INTERNAL_HEADER}: {internal(enterprise)}", warm=True)
        run("warm", f"{gateway}/api/v1{compliance_path}", bearer, warm=True)
        run("warm", f"{gateway_httpx}/api/v1{compliance_path}", bearer, warm=True)
        run("warm", f"{bare}/compliance/{eid}", warm=True)
        run("warm", f"{gateway}/", script=me, warm=True)
        run("warm", f"{bare}/", script=bare_scripts["status"], warm=True)

    with PeakRss(pids) as memory["compliance"]:
        compliance = {
            "straight": run(
                "straight to the scheduler", f"{scheduler}/v1{compliance_path}",
                f"{INTERNAL_HEADER}: {internal(enterprise)}",
            ),
            "gateway": run("through the gateway", f"{gateway}/api/v1{compliance_path}", bearer),
            "gateway-httpx": run("through the gateway (httpx)", f"{gateway_httpx}/api/v1{compliance_path}", bearer),
            "bare": run("bare FastAPI + asyncpg, same SQL", f"{bare}/compliance/{eid}"),
        }  # fmt: skip
    with PeakRss(pids) as memory["status"]:
        status = {
            "summary": run("straight: registry summary", f"{registry}/", script=straight("summary")),
            "due": run("straight: scheduler due", f"{scheduler}/", script=straight("due")),
            "gateway": run("through the gateway", f"{gateway}/", script=me),
        }
        # Cross-check of the capacity: both upstreams loaded at once, half the connections each.
        half = max(connections // 2, 1)
        summary_cmd = wrk_command(f"{registry}/", None, seconds, half, threads, straight("summary"))
        due_cmd = wrk_command(f"{scheduler}/", None, seconds, half, threads, straight("due"))
        status["together-summary"], status["together-due"] = wrk_together(
            [(f"  summary, {half} connections", summary_cmd), (f"  due, {half} connections", due_cmd)], seconds
        )
        status |= {
            "bare": run("bare: status (both at once)", f"{bare}/", script=bare_scripts["status"]),
            "bare-summary": run("bare: registry summary's SQL", f"{bare}/", script=bare_scripts["summary"]),
            "bare-due": run("bare: scheduler due's SQL", f"{bare}/", script=bare_scripts["due"]),
        }
    # The gateway's own cost shows best on a cheap read: the reference list of vaccine
    # products, straight to the registry and through the gateway with either transport.
    cheap_path = "/vaccine-products"
    with PeakRss(pids) as memory["cheap"]:
        cheap = {
            "straight": run(
                "straight to the registry", f"{registry}/v1{cheap_path}", f"{INTERNAL_HEADER}: {internal(enterprise)}"
            ),
            "gateway": run("through the gateway", f"{gateway}/api/v1{cheap_path}", bearer),
            "gateway-httpx": run("through the gateway (httpx)", f"{gateway_httpx}/api/v1{cheap_path}", bearer),
        }
    return Results(compliance, status, cheap, memory, load_before, load(), mode)


def check_reads(seeded: Seeded) -> str | None:
    """Each read answers 200 before it is measured (wrk would only count the failures)."""
    checks = [
        (f"/api/v1/enterprises/{seeded.enterprise_id}/compliance", seeded.enterprise_token),
        *(("/api/v1/me/status", w.token) for w in seeded.workers[:3]),
    ]
    for path, token in checks:
        r = httpx.get(f"http://{HOST}:{GATEWAY_PORT}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        if r.status_code != 200:
            return f"{path} answers {r.status_code}: {r.text[:300]}"
    for w in seeded.workers[:3]:
        r = httpx.get(f"http://{HOST}:{BARE_PORT}/status/{w.person_id}", timeout=60)
        if r.status_code != 200:
            return f"the bare status answers {r.status_code}: {r.text[:300]}"
    return None


def report(results: Results, args: argparse.Namespace, workers: int, tokens: int, seconds: int) -> None:
    c, s, k = results.compliance, results.status, results.cheap
    print(
        f"wrk {args.threads} thread(s) x {args.connections} connections, {seconds} s per run, loopback; "
        f"gateway upstream transport: lean (httpx for comparison); load before {results.load_before}"
    )
    print(f"\ncompliance poll (GET /api/v1/enterprises/{{id}}/compliance), {workers} workers on the roster:")
    print(HEADER)
    for run in c.values():
        print(row(run))
    print(
        f"gateway / straight: {verdict(share(c['gateway'].rps, c['straight'].rps))}; "
        f"gateway / bare: {share(c['gateway'].rps, c['bare'].rps):.0%}; "
        f"straight / bare: {share(c['straight'].rps, c['bare'].rps):.0%}"
    )

    a, b = s["summary"].rps, s["due"].rps
    both = 1 / (1 / a + 1 / b) if a and b else 0.0
    print(
        f"\nworker status (GET /api/v1/me/status), rotating over {tokens} workers' device tokens "
        f"(the enterprise's rounds: {results.roster_mode}):"
    )
    print(HEADER)
    print(row(s["gateway"]))
    print(row(s["summary"]))
    print(row(s["due"]))
    print(f"{'straight: both, capacity 1/(1/a+1/b)':<36}{both:>10.0f}{'-':>10}{'-':>10}{'-':>10}{'-':>8}")
    ts, td = s["together-summary"], s["together-due"]
    pairs = min(ts.rps, td.rps)
    print(f"{'straight: both at once, pairs/s':<36}{pairs:>10.0f}{'-':>10}{'-':>10}{'-':>10}{'-':>8}")
    print(row(ts))
    print(row(td))
    for key in ("bare", "bare-summary", "bare-due"):
        print(row(s[key]))
    print(
        f"gateway / straight: {verdict(share(s['gateway'].rps, max(both, pairs)))} against the higher straight "
        f"figure ({share(s['gateway'].rps, both):.0%} of the capacity, {share(s['gateway'].rps, pairs):.0%} "
        f"of the pairs); gateway / bare: {share(s['gateway'].rps, s['bare'].rps):.0%}"
    )
    print(
        f"straight / bare, each half: registry summary {share(a, s['bare-summary'].rps):.0%}, "
        f"scheduler due {share(b, s['bare-due'].rps):.0%}"
    )
    print("  (one status answer is one summary and one due read. wrk cannot make both per request: straight, it")
    print("   loads one service at a time (a, b), which together serve 1/(1/a+1/b) answers/s one after the other;")
    print("   and two wrk side by side, half the connections each, complete min(a', b') pairs/s. The verdict takes")
    print("   the higher. The gateway and the bare app make both reads at once for each answer.)")

    print("\ncheap read (GET vaccine-products), where the gateway's own cost shows:")
    print(HEADER)
    for run in k.values():
        print(row(run))
    straight = k["straight"].rps
    print(
        f"gateway / straight: {share(k['gateway'].rps, straight):.0%} lean, "
        f"{share(k['gateway-httpx'].rps, straight):.0%} httpx (no target: the upstream does almost nothing here)"
    )

    print("\npeak resident memory (MiB, each process with its children, sampled every 50 ms during the runs):")
    names = list(results.memory["compliance"].pids)
    print(f"{'':16}{'at start':>10}{'compliance':>12}{'status':>10}{'cheap':>10}{'peak':>10}")
    for name in names:
        first = results.memory["compliance"].first.get(name, 0) / 2**20
        peaks = [results.memory[phase].peak_mib(name) for phase in ("compliance", "status", "cheap")]
        print(f"{name:<16}{first:>10.1f}{peaks[0]:>12.1f}{peaks[1]:>10.1f}{peaks[2]:>10.1f}{max(peaks):>10.1f}")
    print(f"load average after the runs: {results.load_after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_gateway", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2-second runs, no warm-up, a small roster")
    parser.add_argument("--workers", type=int, default=None, help="roster size (default 2000; quick 300)")
    parser.add_argument("--tokens", type=int, default=None, help="workers whose status is read (default 50; quick 8)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the machine has few cores)")
    parser.add_argument("--seconds", type=int, default=None, help="per wrk run (default 15; quick 2)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_gateway: `wrk` is not installed; install it with `apt-get install -y wrk` and rerun.")
        return 2
    seconds = args.seconds or (2 if args.quick else 15)
    workers = args.workers or (300 if args.quick else 2000)
    tokens = args.tokens or (8 if args.quick else 50)
    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    from safework_cli import migrate
    from safework_cli.policy import load_policies

    url = asyncio.run(create_scratch(admin, "gw"))
    tmp = Path(tempfile.mkdtemp(prefix="safework-bench-gw-"))
    try:
        migrate.upgrade(url, "heads", configure_logger=False)
        asyncio.run(load_policies(url))
        write_keys(tmp)
        bare_env = asyncio.run(policy_parameters(url))
        with servers(url, tmp, tmp, bare_env) as pids:
            seeded = asyncio.run(seed(url, tmp, workers, tokens))
            asyncio.run(analyze(url))
            problem = check_reads(seeded)
            if problem is not None:
                print(f"bench_gateway: {problem}")
                for log in sorted(tmp.glob("*.log")):
                    print(f"--- {log.name} (last lines)\n" + "\n".join(log.read_text().splitlines()[-30:]))
                return 1
            results = measure(seeded, tmp, pids, tmp, seconds, args.connections, args.threads, warm_up=not args.quick)
        full, cached, mint = verify_cost(2000 if args.quick else 20000)
    finally:
        asyncio.run(drop_scratch(admin, url))
        shutil.rmtree(tmp, ignore_errors=True)

    report(results, args, workers, len(seeded.workers), seconds)
    print(f"token verification per request: {full:.1f} us full (EdDSA signature and claims)")
    print(f"  {cached:.2f} us for a token already verified (cache hit); internal token {mint:.2f} us (cached mint)")
    runs = [*results.compliance.values(), *results.status.values(), *results.cheap.values()]
    if any(run.errors for run in runs):
        print("bench_gateway: some requests failed (see the errors column)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
