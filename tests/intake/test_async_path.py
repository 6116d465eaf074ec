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
