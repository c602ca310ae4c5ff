"""More than one gateway process: with ``REDIS_URL`` every process spends from the same rate-limit
buckets, so two processes enforce one limit (without it, each keeps its own and the limit
doubles). Real uvicorn processes, a real Redis (127.0.0.1:6379, a key prefix per test), and each
process's metrics scraped and parsed with prometheus-client's parser."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from safework_gateway.auth.ratelimit import RateLimited, RedisTokenBuckets
from tests.gateway.conftest import TEST_KEK
from tests.reliability.conftest import HOST, ServiceProcess, free_port, service_env, stop_all

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
GATEWAY_PORTS = range(18300, 18320)
BURST = 5


async def _redis_or_skip() -> object:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1.0)
    try:
        await client.ping()
    except Exception:  # any failure: no Redis here
        await client.aclose()
        pytest.skip("no Redis at " + REDIS_URL)
    return client


@pytest.fixture
async def redis_client() -> AsyncIterator[object]:
    client = await _redis_or_skip()
    yield client
    await client.aclose()  # type: ignore[attr-defined]


async def _healthy(proc: ServiceProcess, limit: float = 60.0) -> None:
    """Until ``/healthz`` answers (its upstreams are absent on purpose: /readyz would not)."""
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=2.0) as client:
        async with asyncio.timeout(limit):
            while True:
                assert proc.proc is not None
                if proc.proc.poll() is not None:
                    raise RuntimeError(f"{proc.spec.name} exited:\n{proc.log()}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)


@pytest.fixture
async def gateways(db: str, keys_dir: Path, tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    started: list[ServiceProcess] = []

    async def start(count: int, redis_prefix: str | None) -> list[tuple[ServiceProcess, int]]:
        out = []
        for _ in range(count):
            port = free_port(GATEWAY_PORTS)
            metrics_port = free_port(range(port + 1, GATEWAY_PORTS.stop))
            extra = {
                "DATABASE_URL": db,
                "GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY": (keys_dir / "internal_ed25519.pem").read_text(),
                "GATEWAY_KEY_ENCRYPTION_KEY": TEST_KEK,
                "GATEWAY_REGISTRY_URL": "http://127.0.0.1:18159",
                "GATEWAY_SCHEDULER_URL": "http://127.0.0.1:18159",
                "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": str(BURST),
                "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "0.001",
                "GATEWAY_METRICS_PORT": str(metrics_port),
            }
            env = service_env(keys_dir, **extra)
            env.pop("REDIS_URL", None)
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            if redis_prefix is not None:
                env["REDIS_URL"] = REDIS_URL
                env["REDIS_KEY_PREFIX"] = redis_prefix
            proc = ServiceProcess(f"gateway-{len(started)}", "safework_gateway.app:create_app", port, env, tmp_path)
            proc.start()
            started.append(proc)
            # One at a time: the first makes the signing keys, the second reads them.
            await _healthy(proc)
            out.append((proc, metrics_port))
        return out

    yield start
    stop_all(started)


def _refusals(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "safework_gateway_rate_limited_total" and sample.labels.get("limiter") == "anonymous":
                return sample.value
    return 0.0


@pytest.mark.parametrize(
    ("shared", "allowed"),
    [
        (True, BURST),  # REDIS_URL: one bucket for both processes
        (False, 2 * BURST),  # in memory: each process its own, so the limit doubles
    ],
)
async def test_two_gateway_processes_share_one_limit(
    gateways: Callable[..., object], redis_client: object, shared: bool, allowed: int
) -> None:
    prefix = f"test-{uuid.uuid4().hex}:" if shared else None
    procs = await gateways(2, prefix)  # type: ignore[misc]
    statuses = []
    async with httpx.AsyncClient(timeout=5.0) as client:
        for i in range(4 * BURST):
            proc, _ = procs[i % 2]
            r = await client.post(
                f"{proc.base_url}/api/v1/auth/token",
                data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "wrong"},
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["RateLimit-Limit"] == str(BURST)
                assert r.headers["RateLimit-Remaining"] == "0"
                assert int(r.headers["Retry-After"]) >= 1
        assert sum(1 for s in statuses if s != 429) == allowed, statuses
        assert all(s in (401, 429) for s in statuses)
        # Each process's metrics: its own refusals; together, every 429 answered.
        refused = 0.0
        for _, metrics_port in procs:
            scrape = await client.get(f"http://{HOST}:{metrics_port}/metrics")
            assert scrape.status_code == 200
            refused += _refusals(scrape.text)
        assert refused == statuses.count(429)


async def test_redis_bucket_refills_and_answers_like_the_memory_one(redis_client: object) -> None:
    """The Redis bucket: burst, refusal with the same headers, and separate callers."""
    prefix = f"test-{uuid.uuid4().hex}:"
    buckets = RedisTokenBuckets(redis_client, prefix, "client", rate_per_second=0.01, burst=2)
    await buckets.acquire("a")
    await buckets.acquire("a")
    with pytest.raises(RateLimited) as refused:
        await buckets.acquire("a")
    assert refused.value.headers is not None
    assert refused.value.headers["RateLimit-Limit"] == "2"
    assert int(refused.value.headers["Retry-After"]) == 100  # one token at 0.01/s
    await buckets.acquire("b")  # another caller, its own bucket


async def test_redis_down_falls_back_to_the_process_bucket() -> None:
    """Redis unreachable: the process's own bucket still limits (never a 500, never unlimited)."""
    from redis.asyncio import Redis

    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        buckets = RedisTokenBuckets(dead, "x:", "client", rate_per_second=0.01, burst=1)
        await buckets.acquire("a")
        with pytest.raises(RateLimited):
            await buckets.acquire("a")
    finally:
        await dead.aclose()


class _Scheduler:
    """The scheduler's active policy as the gateway reads it, counting the reads."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.reads = 0

    async def json(self, method: str, path: str, caller: object) -> object:
        self.reads += 1
        return {"document": {"single_app": {"sanctioned_app_ids": list(self.ids)}}}


async def test_two_processes_share_one_policy_cache(redis_client: object) -> None:
    """The sanctioned app list cached in Redis: the second process reads the first's entry (one
    policy read for both), and when it expires both take the new list together."""
    from safework_gateway.devices.sanctioned import SanctionedApps

    prefix = f"test-{uuid.uuid4().hex}:"
    scheduler = _Scheduler(["vn.gov.bluezone"])
    first = SanctionedApps(scheduler, 60.0, redis_client, prefix)  # type: ignore[arg-type]
    second = SanctionedApps(scheduler, 60.0, redis_client, prefix)  # type: ignore[arg-type]
    assert await first.ids() == frozenset({"vn.gov.bluezone"})
    assert await second.ids() == frozenset({"vn.gov.bluezone"})
    assert scheduler.reads == 1
    scheduler.ids = ["vn.gov.pccovid"]  # a new policy; the shared entry expires
    await redis_client.delete(f"{prefix}cache:sanctioned_apps")  # type: ignore[attr-defined]
    assert await second.ids() == frozenset({"vn.gov.pccovid"})
    assert await first.ids() == frozenset({"vn.gov.pccovid"})
    assert scheduler.reads == 2


@pytest.mark.parametrize("shared", [True, False])
async def test_a_client_disabled_in_one_process_is_refused_by_the_other(
    db: str, keys_dir: Path, redis_client: object, shared: bool
) -> None:
    """Two gateway apps (two processes' worth of state) on one database: a client disabled
    through the first is refused by the second at once with Redis (the announcement), and only at
    its next refresh without (here an hour away: still served)."""
    from safework_gateway.app import create_app
    from tests.conftest import running
    from tests.gateway.conftest import DOWN_URL, Stack, bearer, gateway_settings_for

    extra = {"redis_url": REDIS_URL, "redis_key_prefix": f"test-{uuid.uuid4().hex}:"} if shared else {}
    settings = gateway_settings_for(db, keys_dir, registry_url=DOWN_URL, scheduler_url=DOWN_URL, **extra)
    first_app = create_app(settings, configure_logs=False)
    second_app = create_app(settings, configure_logs=False)
    async with running(first_app) as first_http, running(second_app) as second_http:
        first = Stack(app=first_app, http=first_http)
        victim, _ = await first.new_client("authority")
        token = bearer(first.token("authority", client_id=victim))
        assert (await second_http.get("/api/v1/clients", headers=token)).status_code == 200
        disabled = await first_http.post(f"/api/v1/clients/{victim}/disable", headers=first.province())
        assert disabled.status_code == 200, disabled.text
        assert (await first_http.get("/api/v1/clients", headers=token)).status_code == 401
        if shared:
            # The announcement crosses Redis to the second app's listener.
            async with asyncio.timeout(10):
                while victim not in second_app.state.auth.disabled_clients:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            r = await second_http.get("/api/v1/clients", headers=token)
            assert (r.status_code, r.json()["error"]["code"]) == (401, "client_disabled")
        else:
            assert (await second_http.get("/api/v1/clients", headers=token)).status_code == 200
