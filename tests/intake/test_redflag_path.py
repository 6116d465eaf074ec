"""The red-flag path through the API: signs over two messages, staff see the sign and the words,
suicidal thoughts stop the questions, an urgent sign raises without the emergency path."""

from __future__ import annotations

from typing import Any

import pytest

from intake.models import IntakeSession
from tests.intake.test_intake_flow import _start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("use_emulator")]


def _say(api: Any, intake_id: int, text: str) -> dict[str, Any]:
    response = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": text})
    assert response.status_code == 200, response.content
    return response.json()


def test_signs_spread_over_two_messages_raise_and_staff_see_sign_and_words(staff_api, demo_patient):
    intake_id, patient_api = _start(staff_api, demo_patient)
    first = _say(patient_api, intake_id, "My lips are puffing up since I ate the shrimp.")
    second = _say(patient_api, intake_id, "and now my throat feels thick and it's hard to breathe")
    assert "emergent" in (first["urgency"], second["urgency"])
    flagged = first if first["urgency"] == "emergent" else second
    assert flagged["emergency"] and "auto-injector" in flagged["emergency"]
    session = IntakeSession.objects.get(pk=intake_id)
    assert session.emergency_flagged
    shown = " ".join(session.answers["red_flags"])
    assert "throat" in shown.lower() or "lips" in shown.lower(), "staff see the patient's own words"


def test_suicidal_thoughts_get_988_and_no_more_intake_questions(staff_api, demo_patient, emulator):
    intake_id, patient_api = _start(staff_api, demo_patient)
    _say(patient_api, intake_id, "I'm here about my back.")
    body = _say(
        patient_api, intake_id, "honestly everyone would be better off without me, I've been saving up my pills"
    )
    assert body["urgency"] == "emergent" and "988" in body["emergency"]
    assert "?" not in body["reply"].split(body["emergency"])[-1], "no question after the emergency message"
    later = _say(patient_api, intake_id, "I take ibuprofen sometimes.")
    assert "?" not in later["reply"] and "988" in later["reply"], "no unrelated questions afterwards either"
    session = IntakeSession.objects.get(pk=intake_id)
    assert session.answers.get("stop_intake") is True and session.urgency == "emergent"
    # Nothing said is lost: the later message reached the model (and so the record).
    sent = [
        str(r.get("body", {}).get("input"))
        for r in emulator.requests()
        if r["method"] == "POST" and r["path"].endswith("/interactions")
    ]
    assert any("ibuprofen" in s for s in sent)


def test_a_faint_years_ago_does_not_raise(staff_api, demo_patient):
    intake_id, patient_api = _start(staff_api, demo_patient)
    body = _say(patient_api, intake_id, "I passed out once at a concert when I was 19, but I'm here for a rash.")
    assert body["urgency"] == "routine" and not body.get("emergency")
