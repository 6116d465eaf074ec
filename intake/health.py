"""Reachability of the parts the app needs: the database, Redis and the Gemini endpoint."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not reachable"
        return type(exc).__name__
    return None


def _check_redis() -> str | None:
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:
        return type(exc).__name__
    return None


def _check_gemini() -> str | None:
    from agents.client import endpoint_reachable

    return endpoint_reachable()


def health_check() -> dict[str, Any]:
    parts = {"database": _check_database(), "redis": _check_redis(), "gemini": _check_gemini()}
    report: dict[str, Any] = {name: ("ok" if err is None else f"unreachable: {err}") for name, err in parts.items()}
    report["ok"] = all(err is None for err in parts.values())
    report["failing"] = [name for name, err in parts.items() if err is not None]
    return report
