"""The rate limit on Redis (as in production) counts one hit per call in one round trip, with the same
window and the same refunds as the generic cache path."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis
from django.core.cache import DEFAULT_CACHE_ALIAS
from django.core.cache.backends.redis import RedisCache

from intake import ratelimit


@pytest.fixture
def redis_cache(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable")
    backend = RedisCache(settings.REDIS_URL, {})
    monkeypatch.setattr(ratelimit, "caches", {DEFAULT_CACHE_ALIAS: backend})
    return backend


def test_one_round_trip_counts_the_window(redis_cache: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    scope, key = f"test-{uuid.uuid4().hex}", "someone"
    commands: list[str] = []
    client = redis_cache._cache.get_client(write=True)
    original = type(client).execute_command

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        commands.append(str(args[0]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(client), "execute_command", counting)
    hits = [ratelimit.rate_limit_hit(scope=scope, key=key, limit=2, window=30) for _ in range(3)]
    assert hits == [False, False, True], "the third hit in the window is over a limit of 2"
    assert commands == [], "each hit is one pipeline (MULTI/EXEC), not single commands"
    bucket = redis_cache.make_and_validate_key(ratelimit._bucket(scope, key))
    assert 0 < client.ttl(bucket) <= 30, "the window starts at the first hit and is not extended"
    ratelimit.rate_limit_refund(scope=scope, key=key)
    assert ratelimit.rate_limit_hit(scope=scope, key=key, limit=3, window=30) is False
    assert int(client.get(bucket)) == 3
    client.delete(bucket)


def test_other_backends_take_the_generic_path(settings: Any) -> None:
    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    assert ratelimit._redis_count("rl:x", 60) is None
