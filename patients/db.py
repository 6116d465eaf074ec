"""Short database leases for async code: borrow a connection per batch, give it back at once.

An async view waits seconds on the model between its short batches of ORM work. Django keeps a
thread's connection until the request ends, so every waiting patient would hold one (and PostgreSQL
allows about a hundred). `sync_to_async` here is asgiref's, plus: when the batch is not inside a
transaction, its connection is closed afterwards, which with the psycopg pool (settings.DATABASES)
returns it to the pool. Waiting patients then hold no connection at all.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async as _asgiref_sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def connections_release() -> None:
    """Give back this thread's connections, unless a transaction is open on one (e.g. a test's)."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.in_atomic_block:
            conn.close()


def sync_to_async(func: Callable[P, R], *, thread_sensitive: bool = True) -> Callable[P, Awaitable[R]]:
    """asgiref's `sync_to_async`, giving the connection back after each call (see the module doc)."""

    @functools.wraps(func)
    def batch(*args: Any, **kwargs: Any) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            connections_release()

    return _asgiref_sync_to_async(batch, thread_sensitive=thread_sensitive)
