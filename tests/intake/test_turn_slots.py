"""Admission control: a web process carries at most CHAT_MAX_TURNS_IN_FLIGHT chat turns at once.
Beyond it a new message is answered 503 at once, with a friendly message and Retry-After, and nothing
is stored: the page keeps the message and it is stored once when it is sent again (intake/busy.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from intake.busy import TURNS_BUSY_DETAIL, TurnSlots, turn_slots
from intake.models import IntakeTurn

MESSAGE = "I have had a sore throat since Sunday."


def test_slots_are_counted_and_given_back_once() -> None:
    slots = TurnSlots()
    first = slots.take(2)
    second = slots.take(2)
    assert first is not None and second is not None
    assert slots.take(2) is None, "the cap is reached"
    first()
    first()  # a second give-back (the body's finally, then the response's close) changes nothing
    assert slots.in_flight == 1
    assert slots.take(2) is not None
    assert slots.take(0) is not None and slots.take(-1) is not None, "0 or less: no cap"


def _new_intake() -> tuple[int, str]:
    from intake.services import intake_start
    from patients.demo import demo_files
    from tests.intake.conftest import patient_from_bundle

    session, token = intake_start(patient=patient_from_bundle(demo_files()[0]))
    return session.pk, token


def _patient_texts(intake_id: int) -> list[str]:
    return list(
        IntakeTurn.objects.filter(session_id=intake_id, role=IntakeTurn.Role.PATIENT).values_list("text", flat=True)
    )


async def _post(intake_id: int, token: str, path: str = "messages/stream") -> Any:
    return await AsyncClient().post(
        f"/api/v1/intakes/{intake_id}/{path}",
        data=json.dumps({"text": MESSAGE}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["messages/stream", "messages"])
async def test_past_the_cap_a_message_is_answered_503_and_stored_once_when_sent_again(
    use_emulator: Any, settings: Any, path: str
) -> None:
    settings.CHAT_MAX_TURNS_IN_FLIGHT = 1
    intake_id, token = await sync_to_async(_new_intake)()
    other_turn = turn_slots.take(1)  # another patient's turn is in flight in this process
    assert other_turn is not None
    try:
        refused = await _post(intake_id, token, path)
    finally:
        other_turn()
    assert refused.status_code == 503
    assert json.loads(refused.content) == {"detail": TURNS_BUSY_DETAIL}
    assert int(refused["Retry-After"]) > 0
    assert await sync_to_async(_patient_texts)(intake_id) == [], "nothing half-stored: the page keeps it"

    again = await _post(intake_id, token, path)
    assert again.status_code == 200
    if path == "messages/stream":
        body = b"".join([chunk async for chunk in again.streaming_content])
        assert b"event: done" in body
    assert await sync_to_async(_patient_texts)(intake_id) == [MESSAGE]
    assert turn_slots.in_flight == 0, "the finished turn gave its slot back"


@pytest.mark.django_db(transaction=True)
async def test_a_refused_turn_gives_its_slot_back(use_emulator: Any, settings: Any) -> None:
    settings.CHAT_MAX_TURNS_IN_FLIGHT = 1
    intake_id, token = await sync_to_async(_new_intake)()
    wrong = await AsyncClient().post(
        f"/api/v1/intakes/{intake_id}/messages/stream",
        data=json.dumps({"text": MESSAGE}),
        content_type="application/json",
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert wrong.status_code in {401, 403, 404}
    assert turn_slots.in_flight == 0
    answered = await _post(intake_id, token)
    assert answered.status_code == 200
    assert b"event: done" in b"".join([chunk async for chunk in answered.streaming_content])
    assert turn_slots.in_flight == 0


@pytest.mark.django_db(transaction=True)
async def test_an_emergency_is_never_turned_away_by_the_cap(use_emulator: Any, settings: Any) -> None:
    settings.CHAT_MAX_TURNS_IN_FLIGHT = 1
    intake_id, token = await sync_to_async(_new_intake)()
    other_turn = turn_slots.take(1)  # the process is at its cap
    assert other_turn is not None
    try:
        response = await AsyncClient().post(
            f"/api/v1/intakes/{intake_id}/messages/stream",
            data=json.dumps({"text": "My face is drooping on one side and my words come out slurred."}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    finally:
        other_turn()
    first = body.split("\n\n")[0]
    assert first.startswith("event: delta") and "911" in first, "the emergency advice comes first, at once"
    assert turn_slots.in_flight == 0
