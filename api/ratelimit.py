"""Rate limits per principal and for login attempts (``limits``).

With Redis configured the counters live there, shared by every API instance; otherwise in
this process's memory. A limiter that cannot reach Redis lets the request through and logs
it: an outage of the counter store must not take the API down with it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from tenants.settings import Settings

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        redis_url = settings.rate_limit_redis_url
        self.storage: Storage = (
            RedisStorage(
                redis_url.replace("redis://", "async+redis://", 1).replace(
                    "rediss://", "async+rediss://", 1
                ),
                implementation="redispy",
                key_prefix="renshi-limits",
            )
            if redis_url
            else MemoryStorage()
        )
        self.backend = "redis" if redis_url else "memory"
        # Per-principal limits use fixed windows (one counter per request, cheapest on the
        # hot path); login limits use a moving window, exact over any 60 seconds, so a burst
        # across a window boundary cannot add password guesses (a sliding-window counter only
        # estimates the previous window's share, and let a fourth of three attempts through
        # at a boundary). A login limit is a handful of hits per key: storing each is cheap.
        self._fixed = FixedWindowRateLimiter(self.storage)
        self._moving = MovingWindowRateLimiter(self.storage)
        self.per_principal: RateLimitItem = parse(settings.rate_limit)
        self.per_login: RateLimitItem = parse(settings.login_rate_limit)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> Verdict:
        limiter = self._fixed if item is self.per_principal else self._moving
        try:
            if await limiter.hit(item, *identifiers):
                return Verdict(True)
            stats = await limiter.get_window_stats(item, *identifiers)
        except Exception:
            _log.exception("rate_limit_unavailable", backend=self.backend)
            return Verdict(True)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))

    async def reset(self) -> None:
        await self.storage.reset()
