"""Rate limits (token buckets per caller), and what the gateway says when an upstream is down."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from safework_gateway.app import create_app
from safework_gateway.auth.ratelimit import RateLimited, TokenBuckets
from tests.conftest import running
from tests.gateway.conftest import DOWN_URL, Stack, bearer, gateway_settings_for


def test_bucket_allows_a_burst_then_the_steady_rate() -> None:
    buckets = TokenBuckets(rate_per_second=2.0, burst=3)
    for _ in range(3):
        buckets.take("a", now=100.0)
    with pytest.raises(RateLimited) as exc:
        buckets.take("a", now=100.0)
    assert exc.value.status_code == 429
    assert exc.value.headers == {
        "Retry-After": "1",
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "1",
    }
    buckets.take("b", now=100.0)  # another caller has its own bucket
    buckets.take("a", now=100.5)  # half a second refills one token at 2/s
    with pytest.raises(RateLimited):
        buckets.take("a", now=100.5)


def test_retry_after_says_when_a_token_will_be_there() -> None:
    buckets = TokenBuckets(rate_per_second=0.1, burst=1)
    buckets.take("a", now=0.0)
    with pytest.raises(RateLimited) as exc:
        buckets.take("a", now=1.0)
    assert exc.value.headers is not None and exc.value.headers["Retry-After"] == "9"
    assert exc.value.headers["RateLimit-Reset"] == "9" and exc.value.headers["RateLimit-Limit"] == "1"


def test_pruning_forgets_only_refilled_buckets() -> None:
    buckets = TokenBuckets(rate_per_second=1.0, burst=2, max_keys=2)
    buckets.take("old", now=0.0)
    buckets.take("busy", now=10.0)
    buckets.take("busy", now=10.0)
    buckets.take("new", now=10.0)  # table full: "old" has refilled and is forgotten
    with pytest.raises(RateLimited):
        buckets.take("busy", now=10.0)


async def test_a_client_over_its_rate_gets_429_in_the_envelope(db: str, keys_dir: Path) -> None:
    settings = gateway_settings_for(
        db, keys_dir, registry_url=DOWN_URL, scheduler_url=DOWN_URL, rate_limit_burst=3, rate_limit_per_second=0.01
    )
    app = create_app(settings, configure_logs=False)
    async with running(app) as http:
        stack = Stack(app=app, http=http)
        token = bearer(stack.token("authority"))
        for _ in range(3):
            assert (await http.get("/api/v1/clients", headers=token)).status_code == 200
        r = await http.get("/api/v1/clients", headers=token)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        # The IETF RateLimit fields too (draft-ietf-httpapi-ratelimit-headers).
        assert r.headers["ratelimit-limit"] == "3" and r.headers["ratelimit-remaining"] == "0"
        assert r.headers["ratelimit-reset"] == r.headers["retry-after"]
        other = bearer(stack.token("authority"))
        assert (await http.get("/api/v1/clients", headers=other)).status_code == 200


async def test_unauthenticated_routes_are_limited_per_address(db: str, keys_dir: Path) -> None:
    """Guessing secrets or activation codes is slowed per address."""
    settings = gateway_settings_for(
        db, keys_dir, registry_url=DOWN_URL, scheduler_url=DOWN_URL, anonymous_rate_limit_burst=2,
        anonymous_rate_limit_per_second=0.01,
    )  # fmt: skip
    app = create_app(settings, configure_logs=False)
    async with running(app) as http:
        form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
        for _ in range(2):
            assert (await http.post("/api/v1/auth/token", data=form)).status_code == 401
        r = await http.post("/api/v1/auth/token", data=form)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        r = await http.post("/api/v1/app/refresh", json={"refresh_token": "x" * 43})
        assert r.status_code == 429 and "retry-after" in r.headers


async def test_an_upstream_that_is_down_gives_503_with_retry_after(gateway: Stack) -> None:
    enterprise_id = str(uuid.uuid4())
    token = bearer(gateway.token("enterprise", enterprise_id=enterprise_id))
    for path in (f"/api/v1/enterprises/{enterprise_id}/roster", f"/api/v1/enterprises/{enterprise_id}/compliance"):
        r = await gateway.http.get(path, headers=token)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "upstream_unavailable"
        assert int(r.headers["retry-after"]) > 0
        assert r.headers["x-request-id"]


async def test_readiness_reports_the_upstreams(gateway: Stack) -> None:
    r = await gateway.http.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "not_ready"
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert fields == {"registry", "scheduler"}


async def test_request_bodies_over_the_limit_get_413(db: str, keys_dir: Path) -> None:
    settings = gateway_settings_for(db, keys_dir, registry_url=DOWN_URL, scheduler_url=DOWN_URL, max_body_bytes=1024)
    app = create_app(settings, configure_logs=False)
    async with running(app) as http:
        stack = Stack(app=app, http=http)
        lab_id = str(uuid.uuid4())
        r = await http.post(
            f"/api/v1/labs/{lab_id}/results",
            content=b"{" + b" " * 4096 + b"}",
            headers={**bearer(stack.token("lab", lab_id=lab_id)), "content-type": "application/json"},
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
