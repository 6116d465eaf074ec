"""Request budgets per key (a chat link, an API principal, a login address) in the cache.

Redis in production, so every web process shares one count; local memory in tests and on a
laptop. Each budget is a counter that lives for one window from its first hit, so a test never
straddles a clock boundary and the count cannot be reset by waiting for the next minute mark.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache


class RateLimitedError(Exception):
    """Over budget: the message is for the person, `retry_after` (seconds) for the client."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _bucket(scope: str, key: str) -> str:
    # Keys are hashed so no token or address is ever stored in the cache in clear.
    return f"rl:{scope}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def _cache() -> Any:
    return caches[DEFAULT_CACHE_ALIAS]


def _redis_count(bucket: str, window: int) -> int | None:
    """On Redis, start the window and count the hit in one round trip (a MULTI/EXEC pipeline), where
    `add` then `incr` took two; every chat turn pays this twice. None on any other cache backend."""
    backend = _cache()
    if not isinstance(backend, RedisCache):
        return None
    key = backend.make_and_validate_key(bucket)
    client = backend._cache.get_client(key, write=True)
    with client.pipeline(transaction=True) as pipe:
        # Django's Redis serializer stores integers as plain integers, so `incr` and `decr` keep working.
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        return int(pipe.execute()[1])


def rate_limit_hit(*, scope: str, key: str, limit: int, window: int = 60) -> bool:
    """Count one hit; True if this hit is over `limit` within the window. A limit of 0 disables it."""
    if limit <= 0:
        return False
    bucket = _bucket(scope, key)
    count = _redis_count(bucket, window)
    if count is not None:
        return count > limit
    cache = _cache()
    cache.add(bucket, 0, timeout=window)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.set(bucket, 1, timeout=window)
        count = 1
    return count > limit


def rate_limit_check(*, scope: str, key: str, limit: int, message: str, window: int = 60) -> None:
    if rate_limit_hit(scope=scope, key=key, limit=limit, window=window):
        raise RateLimitedError(message=message, retry_after=window)


def rate_limit_refund(*, scope: str, key: str) -> None:
    """Give back one hit that turned out to cost nothing."""
    with contextlib.suppress(ValueError):  # the window already ended
        _cache().decr(_bucket(scope, key))
