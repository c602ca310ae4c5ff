"""Per-caller token buckets, in memory, per process: a client, a device or (before
authentication) an address may burst, then is held to a steady rate (429 with Retry-After)."""

from __future__ import annotations

import math
import time

from safework_common.errors import SafeworkError


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


class TokenBuckets:
    def __init__(self, rate_per_second: float, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

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
