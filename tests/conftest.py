"""Shared fixtures. A fake API key is forced so nothing can reach a real service by accident."""

import os

import pytest

os.environ["GEMINI_API_KEY"] = ""

pytest_plugins = ["tests.emulator_fixture"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters live in the cache (local memory in tests): each test starts at zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop running in the main thread while its session-wide
    # browser lives, which breaks every async test after it: run browser tests last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
