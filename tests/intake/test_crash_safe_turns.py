"""Crash-safe turns: a dead worker's lease runs out within seconds, the retry takes over, and a
message sent again with its idempotency key is stored once. Through the API, the real SDK and the
emulator."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from intake import redflags, services
from intake.models import IntakeSession, IntakeTurn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("use_emulator")]

MEMBER_ID_TEXT = "I'm covered by Aetna, member ID W123456789."


def _start(staff_api: Any, patient: Any) -> tuple[int, Any]:
    from tests.intake.conftest import ApiClient

    body = staff_api.post("/api/v1/intakes", {"patient_id": patient.pk}).json()
    return body["id"], ApiClient(token=body["patient_token"])


def _send(patient_api: Any, intake_id: int, text: str, key: str = "") -> Any:
    headers = {"Authorization": f"Bearer {patient_api.token}"}
    if key:
        headers["Idempotency-Key"] = key
    return patient_api.client.post(
        f"/api/v1/intakes/{intake_id}/messages",
        data=json.dumps({"text": text}),
        content_type="application/json",
        headers=headers,
    )


def _crashed_worker(intake_id: int, text: str, key: str = "") -> None:
    """What a web process that died mid-turn leaves behind: the message stored, the lease held,
    no model call made and nothing released."""
    # As a web process does at start (intake/asgi.py): a first load of the red-flag pipeline inside
    # the short lease can outlast it on a loaded machine, and the lease would run out before the test looks.
    redflags.warm_up()
    services._prepare_turn(intake_id, text, [], key)


def _let_lease_run_out(intake_id: int) -> None:
    # The clock moving past the (short) lease, without sleeping in a test.
    IntakeSession.objects.filter(pk=intake_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def _posts(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/interactions")]


def test_a_dead_workers_lease_runs_out_in_seconds_and_the_retry_is_stored_once(
    staff_api, demo_patient, emulator
) -> None:
    intake_id, patient_api = _start(staff_api, demo_patient)
    _crashed_worker(intake_id, MEMBER_ID_TEXT, key="retry-key-0001")
    held = IntakeSession.objects.get(pk=intake_id)
    assert held.lease_token
    assert held.lease_expires_at <= timezone.now() + timedelta(seconds=15), "a dead worker holds it for seconds"

    # Inside the lease the retry is told to wait (409), and nothing is stored again.
    assert _send(patient_api, intake_id, MEMBER_ID_TEXT, key="retry-key-0001").status_code == 409

    _let_lease_run_out(intake_id)
    response = _send(patient_api, intake_id, MEMBER_ID_TEXT, key="retry-key-0001")
    assert response.status_code == 200, response.content
    reply = response.json()["reply"]
    stored = IntakeTurn.objects.filter(session_id=intake_id, role=IntakeTurn.Role.PATIENT, text=MEMBER_ID_TEXT)
    assert stored.count() == 1
    sent = [r for r in _posts(emulator) if "W123456789" in json.dumps(r["body"].get("input"))]
    assert len(sent) >= 1, "the saved message reached the model"

    # The answer got lost on the way back and the page retries again: the stored reply is replayed.
    calls = len(_posts(emulator))
    again = _send(patient_api, intake_id, MEMBER_ID_TEXT, key="retry-key-0001")
    assert again.status_code == 200
    assert again.json()["reply"] == reply
    assert len(_posts(emulator)) == calls, "an answered message is not sent to the model twice"
    assert stored.count() == 1


def test_a_saved_message_that_was_never_answered_goes_to_the_model_with_the_next_one(
    staff_api, demo_patient, emulator
) -> None:
    intake_id, patient_api = _start(staff_api, demo_patient)
    _crashed_worker(intake_id, MEMBER_ID_TEXT)
    _let_lease_run_out(intake_id)
    response = _send(patient_api, intake_id, "I've had a bad headache.", key="next-key-00001")
    assert response.status_code == 200, response.content
    last_input = json.dumps(_posts(emulator)[0]["body"].get("input"))
    assert "W123456789" in last_input and "bad headache" in last_input
    texts = list(
        IntakeTurn.objects.filter(session_id=intake_id, role=IntakeTurn.Role.PATIENT).values_list("text", flat=True)
    )
    assert texts == [MEMBER_ID_TEXT, "I've had a bad headache."]


def test_a_key_sent_again_with_other_text_or_malformed_is_refused(staff_api, demo_patient) -> None:
    intake_id, patient_api = _start(staff_api, demo_patient)
    _crashed_worker(intake_id, MEMBER_ID_TEXT, key="same-key-00001")
    _let_lease_run_out(intake_id)
    reused = _send(patient_api, intake_id, "Something else entirely.", key="same-key-00001")
    assert reused.status_code == 422
    assert "already used" in reused.json()["detail"]
    bad = _send(patient_api, intake_id, "Hello", key="no spaces allowed!")
    assert bad.status_code == 400
    assert "Idempotency-Key" in bad.json()["detail"]
    assert IntakeTurn.objects.filter(session_id=intake_id, role=IntakeTurn.Role.PATIENT).count() == 1


def test_the_heartbeat_renews_only_its_own_lease(demo_patient) -> None:
    session, _token = services.intake_start(patient=demo_patient)
    ctx = services._lease_acquire(session.pk, allowed=(IntakeSession.Status.ACTIVE,))
    IntakeSession.objects.filter(pk=session.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=1))
    assert services._lease_renew(ctx)
    renewed = IntakeSession.objects.get(pk=session.pk).lease_expires_at
    assert renewed > timezone.now() + timedelta(seconds=10)
    services._lease_release(ctx)
    assert not services._lease_renew(ctx), "a released lease is not brought back by a late heartbeat"
    assert IntakeSession.objects.get(pk=session.pk).lease_expires_at is None
