"""Out of database connections (or the database is down): a 503 a person can read, never a 500.

The psycopg pool waits DB_POOL_TIMEOUT seconds for a free connection, then raises; so does a refused
connection. Both are `OperationalError`. The chat page keeps the patient's message on a 503 and offers
to send it again, so nothing they typed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

BUSY_ERRORS = (OperationalError, InterfaceError)
BUSY_DETAIL = "We are very busy right now. Your message is kept; please send it again in a moment."
RETRY_AFTER_SECONDS = 5


def busy_response(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.warning("database unavailable (%s): answered 503", type(exc).__name__)
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse({"detail": BUSY_DETAIL}, status=503)
    else:
        response = HttpResponse(BUSY_DETAIL, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseBusyMiddleware:
    """Turns a database-unavailable error escaping a view into a 503. Sync and async capable, so it
    adds no thread hop to the async chat path."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return await self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        return busy_response(request, exc) if isinstance(exc, BUSY_ERRORS) else None


# --- Turns in flight: admission control per web process ---------------------------------------------
# A web process has one event loop on one core. When more chat turns arrive than that core can carry
# (each costs some milliseconds of CPU, docs/benchmarks/stream.md), fair scheduling makes every turn
# late: all of them run past the chat budget together and none is answered. A cap on the turns a
# process carries at once serves the admitted ones on time and tells the rest at once, with a 503 that
# the chat page shows beside the patient's message, still in the box, to send again (never lost).
TURNS_BUSY_DETAIL = "We are very busy right now. Your message is kept; please send it again in a moment."


class TurnSlots:
    """A counter of the chat turns this process is carrying; one event loop, so no lock is needed."""

    def __init__(self) -> None:
        self.in_flight = 0

    def take(self, limit: int) -> Callable[[], None] | None:
        """A slot, as the function that gives it back (safe to call twice); None when all are taken.
        A limit of 0 or less means no cap."""
        if 0 < limit <= self.in_flight:
            return None
        self.in_flight += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self.in_flight -= 1

        return give_back


turn_slots = TurnSlots()


def turn_slot_take(text: str, limit: int) -> Callable[[], None] | None:
    """A slot for a chat turn, or None: answer 503. A message that reads as an emergency on its own
    is never turned away (its fixed emergency advice must not wait for a quieter moment): the red-flag
    rules run on it here, at a few ms of CPU, and it is admitted past the cap."""
    give_back = turn_slots.take(limit)
    if give_back is None:
        from intake import redflags  # spaCy: imported by the chat path anyway, not by every user of busy.py

        if redflags.evaluate(text or "").matched:
            logger.warning("chat turns in flight at the cap (%d): an emergency admitted past it", turn_slots.in_flight)
            give_back = turn_slots.take(0)
    return give_back


def turns_busy_response() -> HttpResponse:
    logger.warning("chat turns in flight at the cap (%d): answered 503", turn_slots.in_flight)
    response = JsonResponse({"detail": TURNS_BUSY_DETAIL}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
