"""What the metrics and the shared rate limit cost a request (issue 18).

1. Per request, in process: a FastAPI app with the services' common middleware (request ID,
   access log off as in production at WARNING, body limit) answering ``GET /persons/{person_id}``,
   driven as ASGI calls in a loop, with the request histogram (route template lookup and one
   ``observe``: ours) against the same app with the observation replaced by a no-op (the
   reference). Short runs alternate, many of them, and the median and the best of each are
   printed (the machine is shared: one long run of each would measure the neighbours).
2. Per observation: the histogram's ``observe`` on a cached series against the dict look-up
   that finds it (the part of 1. that is the metric itself, measurable on a busy machine).
3. Per rate-limit check: the Redis token bucket (one Lua script round trip to 127.0.0.1:6379,
   what every gateway process pays with ``REDIS_URL``) against the in-memory bucket. Skipped
   when no Redis answers.

    .venv/bin/python -m bench.bench_metrics [--quick] [--requests N] [--rounds R]

The gateway's throughput under wrk, with all of it in place, is bench_gateway's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI

import safework_common.middleware as middleware
from safework_common.app import setup_common
from safework_common.metrics import HTTP_REQUESTS
from safework_common.settings import ServiceSettings


class _NoMetric:
    def labels(self, *args: str) -> _NoMetric:
        return self

    def observe(self, value: float) -> None:
        pass


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/persons/{person_id}")
    async def person(person_id: uuid.UUID) -> dict[str, Any]:
        return {"id": str(person_id), "name": "N*** V** A"}

    async def ready(_: FastAPI) -> dict[str, bool]:
        return {}

    setup_common(app, ServiceSettings(), ready)
    return app


async def drive(app: FastAPI, n: int) -> float:
    """Seconds per request for ``n`` GETs with a different ID each."""
    ids = [str(uuid.uuid4()) for _ in range(256)]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    started = time.perf_counter()
    for i in range(n):
        path = f"/persons/{ids[i & 255]}"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)
        sent.clear()
    return (time.perf_counter() - started) / n


def _request_id_layer(app: FastAPI) -> Any:
    """The app's RequestIdMiddleware instance (its cache of histogram series is emptied at each
    swap, so each run uses the metric it is meant to)."""
    layer: Any = app.middleware_stack
    while layer is not None and not isinstance(layer, middleware.RequestIdMiddleware):
        layer = getattr(layer, "app", None)
    assert layer is not None
    return layer


def _use(app: FastAPI, metric: Any) -> None:
    setattr(middleware, "HTTP_REQUESTS", metric)  # noqa: B010 (swapping the module's metric)
    _request_id_layer(app)._series.clear()


async def per_request(n: int, rounds: int) -> tuple[float, float, float, float]:
    app = make_app()
    real = HTTP_REQUESTS
    ours, reference = [], []
    async with app.router.lifespan_context(app):
        await drive(app, min(n, 500))  # warm-up
        for _ in range(rounds):
            _use(app, real)
            ours.append(await drive(app, n))
            _use(app, _NoMetric())
            reference.append(await drive(app, n))
    _use(app, real)
    return statistics.median(ours), statistics.median(reference), min(ours), min(reference)


async def per_check(n: int, rounds: int) -> tuple[float, float] | None:
    from redis.asyncio import Redis

    from safework_gateway.auth.ratelimit import RedisTokenBuckets, TokenBuckets

    client = Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1.0)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        return None
    prefix = f"bench-{uuid.uuid4().hex}:"
    shared = RedisTokenBuckets(client, prefix, "client", 1e9, 10**9)
    local = TokenBuckets(1e9, 10**9)
    keys = [f"client:{i}" for i in range(64)]
    ours, reference = [], []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            for i in range(n):
                await shared.acquire(keys[i & 63])
            ours.append((time.perf_counter() - started) / n)
            started = time.perf_counter()
            for i in range(n):
                await local.acquire(keys[i & 63])
            reference.append((time.perf_counter() - started) / n)
    finally:
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)
        await client.aclose()
    return min(ours), min(reference)


def per_observation(n: int, rounds: int) -> tuple[float, float]:
    """The histogram's own cost: one cached series' ``observe`` against a dict look-up (what the
    middleware does to find the series), best of ``rounds`` runs of ``n``."""
    series = HTTP_REQUESTS.labels("/bench/{id}", "GET", "200")
    cache = {(1, "GET", 200): series}
    ours, reference = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            cache[(1, "GET", 200)].observe(0.0012)
        ours.append((time.perf_counter() - started) / n)
        started = time.perf_counter()
        for _ in range(n):
            cache.get((1, "GET", 200))
        reference.append((time.perf_counter() - started) / n)
    return min(ours), min(reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, default=None, help="requests per run (default 500; quick 200)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating runs of each (default 60; quick 10)")
    args = parser.parse_args()
    n = args.requests or (200 if args.quick else 500)
    rounds = args.rounds or (10 if args.quick else 60)
    logging.getLogger("safework.access").setLevel(logging.WARNING)  # production logs at WARNING+

    ours, reference, ours_best, reference_best = asyncio.run(per_request(n, rounds))
    print(f"per request, {rounds} alternating runs of {n} (in-process ASGI, common middleware): median (best)")
    print(f"  with the request histogram (ours)   {ours * 1e6:8.1f} us  ({ours_best * 1e6:.1f})")
    print(f"  without it (reference)              {reference * 1e6:8.1f} us  ({reference_best * 1e6:.1f})")
    added = (ours - reference) * 1e6
    print(f"  added: {added:.1f} us per request (median); ratio ours/reference {ours / reference:.3f}")

    observe, lookup = per_observation(100 * n, 5)
    print(f"per observation, 5 runs of {100 * n}, best run:")
    print(f"  series look-up and observe (ours)   {observe * 1e6:8.2f} us")
    print(f"  series look-up alone (reference)    {lookup * 1e6:8.2f} us")
    print(f"  the histogram's own cost: {(observe - lookup) * 1e6:.2f} us per request")

    checks = asyncio.run(per_check(n, rounds))
    if checks is None:
        print("per rate-limit check: skipped (no Redis at 127.0.0.1:6379)")
        return
    shared, local = checks
    print(f"per rate-limit check, {rounds} alternating runs of {n}, best run:")
    print(f"  Redis bucket, one Lua script (ours) {shared * 1e6:8.1f} us")
    print(f"  in-memory bucket (reference)        {local * 1e6:8.1f} us")
    print(f"  ratio ours/reference {shared / local:.1f}")


if __name__ == "__main__":
    main()
