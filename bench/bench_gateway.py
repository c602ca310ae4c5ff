"""Gateway benchmark: an authenticated compliance poll through the gateway against the same read
made straight to the scheduler, both under `wrk` on loopback in the same run; plus the cost of
verifying a public token per request.

Starts real uvicorn servers (gateway 18151, registry 18152, scheduler 18153) on a scratch
database (``BENCH_DATABASE_URL``'s server, default ``postgresql://postgres@127.0.0.1:5432/postgres``),
migrated to every head with the policies loaded, seeded through the public API (an enterprise
with a roster of workers and app installations), and dropped at the end.

    .venv/bin/python -m bench.bench_gateway [--quick] [--workers N] [--connections C]

Target (the issue): gateway throughput >= 60% of the straight read's. Needs `wrk`
(``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

HOST = "127.0.0.1"
GATEWAY_PORT, REGISTRY_PORT, SCHEDULER_PORT = 18151, 18152, 18153
# A second gateway, the same but with httpx's default transport, to compare the two.
HTTPX_GATEWAY_PORT = 18154
ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.60
SANCTIONED_APP = "vn.gov.bluezone"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    return urlunsplit(parts._replace(path="/" + name))


async def create_database(admin_url: str) -> str:
    name = f"safework_bench_gw_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await conn.close()


def write_keys(directory: Path) -> None:
    from safework_common.internal_auth import generate_keypair

    private, public = generate_keypair()
    (directory / "internal_ed25519.pem").write_bytes(private)
    (directory / "internal_ed25519.pub.pem").write_bytes(public)
    (directory / "national_id_hmac.key").write_text(uuid.uuid4().hex * 2)


@contextmanager
def servers(db_url: str, keys: Path, log_dir: Path) -> Iterator[None]:
    """The three services as real uvicorn processes, stopped (by their own pids) on exit."""
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
        yield
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
    deadline = time.monotonic() + 30
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
class Seeded:
    enterprise_id: str
    enterprise_token: str


async def install_apps(keys: Path, enterprise_id: str, people: list[str]) -> None:
    """Nine workers in ten have the app: their installations, registered in the registry as the
    gateway does on activation (the activation itself is not what is measured)."""
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


async def seed(db_url: str, keys: Path, workers: int) -> Seeded:
    """Through the public API, as the authority and the enterprise would."""
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
        await install_apps(keys, enterprise_id, people[: len(people) * 9 // 10])
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
    return Seeded(enterprise_id, ent_token)


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


def wrk(label: str, url: str, header: str, seconds: int, connections: int, threads: int) -> Run:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        "-H",
        header,
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in errs.groups()) if errs else 0)
    return Run(label, rps, p50, p99, total, errors)


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
    from datetime import UTC, datetime

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_gateway", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3-second runs, a small roster")
    parser.add_argument("--workers", type=int, default=None, help="roster size (default 2000; quick 300)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the machine has few cores)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_gateway: `wrk` is not installed; install it with `apt-get install -y wrk` and rerun.")
        return 2
    seconds = 3 if args.quick else 15
    workers = args.workers or (300 if args.quick else 2000)
    threads, connections = args.threads, args.connections
    admin = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    from safework_cli import migrate
    from safework_cli.policy import load_policies
    from safework_common.internal_auth import INTERNAL_HEADER, Caller, InternalTokenMinter

    url = asyncio.run(create_database(admin))
    tmp = Path(tempfile.mkdtemp(prefix="safework-bench-gw-"))
    try:
        migrate.upgrade(url, "heads", configure_logger=False)
        asyncio.run(load_policies(url))
        write_keys(tmp)
        with servers(url, tmp, tmp):
            seeded = asyncio.run(seed(url, tmp, workers))
            path = f"/enterprises/{seeded.enterprise_id}/compliance"
            gateway_url = f"http://{HOST}:{GATEWAY_PORT}/api/v1{path}"
            direct_url = f"http://{HOST}:{SCHEDULER_PORT}/v1{path}"
            bearer = f"Authorization: Bearer {seeded.enterprise_token}"
            check = httpx.get(gateway_url, headers={"Authorization": f"Bearer {seeded.enterprise_token}"}, timeout=30)
            if check.status_code != 200:
                print(f"bench_gateway: the compliance read answers {check.status_code}: {check.text[:300]}")
                return 1
            caller = Caller(
                subject="client:bench", role="enterprise", client_id="bench", enterprise_id=seeded.enterprise_id
            )
            private_pem = (tmp / "internal_ed25519.pem").read_bytes()

            def internal() -> str:
                """A fresh internal token (they live 60 s) for each straight run."""
                return f"{INTERNAL_HEADER}: {InternalTokenMinter(private_pem).mint(caller)}"

            # Warm both paths (pools, caches, plans), then measure, straight first, in the same run.
            wrk("warm", direct_url, internal(), 1, connections, threads)
            wrk("warm", gateway_url, bearer, 1, connections, threads)
            direct = wrk("straight to the scheduler", direct_url, internal(), seconds, connections, threads)
            through = wrk("through the gateway", gateway_url, bearer, seconds, connections, threads)
            through_httpx = wrk(
                "through the gateway (httpx)", gateway_url.replace(str(GATEWAY_PORT), str(HTTPX_GATEWAY_PORT)),
                bearer, seconds, connections, threads,
            )  # fmt: skip
            # The gateway's own cost shows best on a cheap read: the reference list of vaccine
            # products, straight to the registry and through the gateway with either transport.
            cheap = "/vaccine-products"
            cheap_runs = [
                wrk("straight to the registry", f"http://{HOST}:{REGISTRY_PORT}/v1{cheap}", internal(),
                    seconds, connections, threads),
                wrk("through the gateway", f"http://{HOST}:{GATEWAY_PORT}/api/v1{cheap}", bearer,
                    seconds, connections, threads),
                wrk("through the gateway (httpx)", f"http://{HOST}:{HTTPX_GATEWAY_PORT}/api/v1{cheap}", bearer,
                    seconds, connections, threads),
            ]  # fmt: skip
        full, cached, mint = verify_cost(2000 if args.quick else 20000)
    finally:
        asyncio.run(drop_database(admin, url))
        shutil.rmtree(tmp, ignore_errors=True)

    ratio = through.rps / direct.rps if direct.rps else 0.0
    print(
        f"compliance poll, {workers} workers on the roster, wrk {threads} thread(s) x {connections} connections, "
        f"{seconds} s each, loopback; gateway upstream transport: lean (httpx for comparison)"
    )
    header = f"{'':30}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}"
    print(header)
    for run in (direct, through, through_httpx):
        print(f"{run.label:<30}{run.rps:>10.0f}{run.p50_ms:>10.2f}{run.p99_ms:>10.2f}{run.requests:>10}{run.errors:>8}")
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"gateway / straight: {ratio:.0%} ({verdict} the {TARGET_RATIO:.0%} target)")
    print("cheap read (GET vaccine-products), where the gateway's own cost shows:")
    print(header)
    for run in cheap_runs:
        print(f"{run.label:<30}{run.rps:>10.0f}{run.p50_ms:>10.2f}{run.p99_ms:>10.2f}{run.requests:>10}{run.errors:>8}")
    straight = cheap_runs[0].rps or 1.0
    print(
        f"gateway / straight: {cheap_runs[1].rps / straight:.0%} lean, {cheap_runs[2].rps / straight:.0%} httpx"
        " (no target: the upstream does almost nothing here)"
    )
    print(f"token verification per request: {full:.1f} us full (EdDSA signature and claims)")
    print(f"  {cached:.2f} us for a token already verified (cache hit); internal token {mint:.2f} us (cached mint)")
    if any(run.errors for run in (direct, through, through_httpx, *cheap_runs)):
        print("bench_gateway: some requests failed (see the errors column)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
