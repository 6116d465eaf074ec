"""The chat's streaming route runs on a fully async path: no sync-only middleware, an async view.

Django logs "... handler adapted for middleware X" at debug level (with DEBUG on) whenever it must
wrap a middleware to run it in the other mode, which costs a thread hop on every request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from django.test import AsyncClient
from django.urls import resolve

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_stream_endpoint_meets_no_adapted_middleware(
    settings: Any, caplog: pytest.LogCaptureFixture, use_emulator: Any
) -> None:
    from asgiref.sync import sync_to_async

    from intake.services import intake_start
    from tests.intake.conftest import DEMO_FILE, patient_from_bundle

    patient = await sync_to_async(patient_from_bundle)(DEMO_FILE)
    session, token = await sync_to_async(intake_start)(patient=patient)
    settings.DEBUG = True  # Django reports adaptations only in DEBUG
    client = AsyncClient()  # loads the middleware chain in async mode on its first request
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        response = await client.post(
            f"/api/v1/intakes/{session.pk}/messages/stream",
            data=json.dumps({"text": "Hello, I have a cough."}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        body = b"".join([chunk async for chunk in response.streaming_content])
    assert response.status_code == 200 and b"event: done" in body
    loaded = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    adapted = [line for line in loaded if "adapted" in line]
    assert adapted == [], f"sync-only middleware on the async path: {adapted}"


def test_the_stream_view_is_a_coroutine(db: Any) -> None:
    assert iscoroutinefunction(resolve("/api/v1/intakes/1/messages/stream").func)


class SyncOnlyMiddleware:
    """Like WhiteNoise 6: sync only."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)


def test_the_check_would_catch_a_sync_only_middleware(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    from django.core.handlers.asgi import ASGIHandler

    settings.DEBUG = True
    settings.MIDDLEWARE = [f"{__name__}.SyncOnlyMiddleware", *settings.MIDDLEWARE]
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        ASGIHandler()
    assert any("adapted for middleware tests.intake.test_async_path.SyncOnly" in r.getMessage() for r in caplog.records)


async def test_a_streamed_turn_hops_no_thread_for_middleware(
    use_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Django's MiddlewareMixin runs each process_request/process_response in a thread (two hops per
    middleware); intake.middleware.inline_hooks_install() runs Django's own in the event loop. The hops
    left are the turn's own database batches, the bearer token lookup, the audit row, the signals."""
    from asgiref import sync
    from asgiref.sync import sync_to_async

    from intake.services import intake_start
    from tests.intake.conftest import DEMO_FILE, patient_from_bundle

    patient = await sync_to_async(patient_from_bundle)(DEMO_FILE)
    session, token = await sync_to_async(intake_start)(patient=patient)
    hops: list[str] = []
    original = sync.SyncToAsync.__call__

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counting)
    response = await AsyncClient().post(
        f"/api/v1/intakes/{session.pk}/messages/stream",
        data=json.dumps({"text": "Hello, I have a cough."}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"},
    )
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert response.status_code == 200 and b"event: done" in body
    middleware_hops = [h for h in hops if ".process_request" in h or ".process_response" in h]
    assert middleware_hops == [], f"middleware hooks hopped to a thread: {middleware_hops}"


def test_the_inlined_middlewares_are_djangos_own_and_in_the_settings(settings: Any) -> None:
    from django.utils.module_loading import import_string

    from intake.middleware import INLINE_MIDDLEWARE

    for cls in INLINE_MIDDLEWARE:
        assert getattr(cls.__dict__["__acall__"], "inline_hooks", False), cls
    # Django's deploy checks look for these names, so they stay Django's classes in MIDDLEWARE.
    in_settings = {import_string(path) for path in settings.MIDDLEWARE}
    assert set(INLINE_MIDDLEWARE) <= in_settings


def test_a_modified_session_is_still_saved_in_a_thread(db: Any) -> None:
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    from intake.middleware import INLINE_MIDDLEWARE

    hop_request, hop_response = INLINE_MIDDLEWARE[SessionMiddleware]
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    assert hop_request is None and not hop_response(request, HttpResponse())
    request.session["seen"] = 1
    assert hop_response(request, HttpResponse()), "a write must not run in the event loop"
