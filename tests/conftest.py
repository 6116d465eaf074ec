"""Shared fixtures. A fake API key is forced so nothing can reach a real service by accident."""

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["GEMINI_API_KEY"] = ""

pytest_plugins = ["tests.emulator_fixture"]


def _shared_thread_release() -> None:
    """Give back the connections of asgiref's one shared thread.

    An async test has no request around it: its `sync_to_async` hops and Django's async ORM calls
    (`aget`, `async for`) run in asgiref's single shared thread, and the test clients never close
    connections at the end of a request (Django disconnects close_old_connections for them). Under
    uvicorn each request has its own thread and request_finished gives its connection back; this is
    that step for the tests. With the psycopg pool a connection left there stays lent out, and keeps
    the test database from being dropped.
    """
    from asgiref.sync import SyncToAsync

    from patients.db import connections_release

    SyncToAsync.single_thread_executor.submit(connections_release).result()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters live in the cache (local memory in tests): each test starts at zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _request_finished() -> Iterator[None]:
    yield
    _shared_thread_release()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, dropped cleanly on PostgreSQL with the connection pool.

    Django closes the pool before it drops the test database, but a pool's close() leaves the
    connections it has lent out open (psycopg_pool closes them only when they come back), so one
    left in another thread makes DROP DATABASE fail ("being accessed by other users"). Before the
    database goes: every thread we know of gives its connection back, then every pool is closed.
    """
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        _shared_thread_release()
        for conn in connections.all():
            conn.close()  # this thread's own, back to its pool first
            if conn.settings_dict.get("OPTIONS", {}).get("pool"):
                conn.close_pool()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop running in the main thread while its session-wide
    # browser lives, which breaks every async test after it: run browser tests last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
