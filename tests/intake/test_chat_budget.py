"""Through the real app: a hung model call ends in a reply or a friendly error within the chat budget."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_budget(use_emulator: Any, settings: Any) -> Any:
    settings.GEMINI_CHAT_BUDGET_SECONDS = 6  # 15 s in production; scaled down to keep the test quick
    settings.GEMINI_CHAT_ATTEMPT_SECONDS = 2
    return use_emulator


async def _stream(seconds_hung: list[float], emulator: Any) -> tuple[float, bytes]:
    from intake.services import intake_start
    from tests.intake.conftest import DEMO_FILE, patient_from_bundle

    patient = await sync_to_async(patient_from_bundle)(DEMO_FILE)
    session, token = await sync_to_async(intake_start)(patient=patient)
    httpx.post(f"{emulator.base_url}/_emulator/faults", json={"hang": seconds_hung}).raise_for_status()
    started = time.monotonic()
    response = await AsyncClient().post(
        f"/api/v1/intakes/{session.pk}/messages/stream",
        data=json.dumps({"text": "Hello, I have a cough."}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    body = b"".join([chunk async for chunk in response.streaming_content])
    return time.monotonic() - started, body


async def test_a_hung_model_call_is_retried_and_the_patient_gets_the_reply(short_budget: Any) -> None:
    elapsed, body = await _stream([30], short_budget)
    assert b"event: delta" in body and b"event: done" in body
    assert elapsed < 6 + 1, f"{elapsed:.1f} s"


async def test_a_model_that_keeps_hanging_ends_in_a_friendly_error_within_the_budget(short_budget: Any) -> None:
    elapsed, body = await _stream([30] * 6, short_budget)
    assert b"event: error" in body and b"Your message was saved" in body
    assert b"event: done" not in body
    assert elapsed < 6 + 1, f"the patient waited {elapsed:.1f} s"
