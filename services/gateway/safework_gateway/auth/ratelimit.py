"""Per-caller token buckets: a client, a device or (before authentication) an address may
burst, then is held to a steady rate (429 with Retry-After and the RateLimit fields).

In memory, per process (:class:`TokenBuckets`), unless ``REDIS_URL`` is set: then every gateway
process spends from the same buckets in Redis (:class:`RedisTokenBuckets`, one atomic Lua script
per request, the clock being Redis's own), so two processes enforce one limit, not two. When Redis
cannot answer, the process's own bucket decides (a limit per process beats no limit or a refusal of
everyone) and ``safework_gateway_rate_limit_backend_errors_total`` counts it."""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Protocol

from safework_common.errors import SafeworkError
from safework_common.metrics import RATE_LIMIT_BACKEND_ERRORS, RATE_LIMITED

log = logging.getLogger("safework.gateway.ratelimit")


class RateLimited(SafeworkError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests; slow down."

    def __init__(self, retry_after: int, limit: int) -> None:
        # Besides Retry-After, the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-07
        # §3): the bucket's size, what is left of it (nothing) and the seconds until a request
        # is allowed again.
        super().__init__(
            headers={
                "Retry-After": str(retry_after),
                "RateLimit-Limit": str(limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
            }
        )


class Limiter(Protocol):
    async def acquire(self, key: str) -> None:
        """Spend one token of ``key``'s bucket, or raise :class:`RateLimited`."""


class TokenBuckets:
    def __init__(self, rate_per_second: float, burst: int, *, max_keys: int = 100_000, name: str = "client") -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys
        self._refused = RATE_LIMITED.labels(name)

    async def acquire(self, key: str) -> None:
        try:
            self.take(key)
        except RateLimited:
            self._refused.inc()
            raise

    def take(self, key: str, now: float | None = None) -> None:
        """Spend one token of ``key``'s bucket, or raise :class:`RateLimited`."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.rate)), int(self.burst))
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (tokens - 1.0, now)

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled (they hold no state worth keeping)."""
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()


# KEYS[1]: the bucket; ARGV: rate per second, burst. The bucket is a hash of tokens and the
# time they were counted, refilled at the rate up to the burst, as TokenBuckets.take does; the
# time is Redis's (TIME), one clock for every gateway process. The key expires once it would have
# refilled. Answers {1, tokens left} or {0, tokens} (as strings: Lua numbers become integers).
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {ok, tostring(tokens)}
"""


class RedisTokenBuckets:
    """The same buckets as :class:`TokenBuckets`, kept in Redis under ``<prefix>rl:<name>:<key>``
    for every gateway process; ``fallback`` decides when Redis cannot answer."""

    def __init__(self, client: Any, prefix: str, name: str, rate_per_second: float, burst: int) -> None:
        self.rate = rate_per_second
        self.burst = int(burst)
        self._prefix = f"{prefix}rl:{name}:"
        self._script = client.register_script(_TAKE)
        self._args = (repr(float(rate_per_second)), str(int(burst)))
        self.fallback = TokenBuckets(rate_per_second, burst, name=name)
        self._refused = RATE_LIMITED.labels(name)

    async def acquire(self, key: str) -> None:
        from redis.exceptions import RedisError

        try:
            ok, tokens = await self._script(keys=[self._prefix + key], args=self._args)
        except (RedisError, OSError) as exc:
            RATE_LIMIT_BACKEND_ERRORS.inc()
            log.warning("rate limit: Redis unavailable (%s); this process's own bucket decides", type(exc).__name__)
            await self.fallback.acquire(key)
            return
        if int(ok) == 1:
            return
        self._refused.inc()
        left = float(tokens)
        raise RateLimited(max(1, math.ceil((1.0 - left) / self.rate)), self.burst)


def make_limiter(redis_client: Any | None, prefix: str, name: str, rate_per_second: float, burst: int) -> Limiter:
    """Redis buckets when the gateway has a Redis client, else the process's own."""
    if redis_client is None:
        return TokenBuckets(rate_per_second, burst, name=name)
    return RedisTokenBuckets(redis_client, prefix, name, rate_per_second, burst)
