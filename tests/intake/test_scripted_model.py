"""Unit-level turn flows with the emulator's scripted model: what a real Gemini does that the offline
rules never would, set per test (parallel calls with one signature, a chained second hop, an answer
with no record_answers call, invalid arguments), through the app's API and the real SDK."""

from __future__ import annotations

from typing import Any

import pytest

from intake.models import IntakeRecord
from tests.intake.test_intake_flow import _interaction_posts, _start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("use_emulator")]


def _text(text: str) -> list[dict[str, Any]]:
    return [{"type": "model_output", "content": [{"type": "text", "text": text}]}]


def _calls(*calls: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "function_call", "id": cid, "name": name, "arguments": args} for cid, name, args in calls]


def _record(intake_id: int) -> dict[str, Any]:
    return IntakeRecord.objects.get(session_id=intake_id).document


@pytest.mark.parametrize("store", [True, False])
def test_parallel_calls_then_a_second_hop_then_the_reply(staff_api, demo_patient, emulator, store):
    intake_id, api = _start(staff_api, demo_patient, store=store)
    emulator.script(
        [
            # one step, two calls (the emulator signs them with one thought, as Gemini 3 does)
            _calls(
                ("c1", "record_answers", {"medications": [{"name": "lisinopril", "dose": "10 mg"}]}),
                ("c2", "ehr_lookup", {"sections": ["medications"]}),
            ),
            # a second hop after the results: another look before answering
            _calls(("c3", "ehr_lookup", {"sections": ["allergies"]})),
            _text("Thanks, I've noted lisinopril 10 mg. Any allergies?"),
        ]
    )
    response = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": "I take lisinopril 10 mg"})
    assert response.status_code == 200, response.content
    assert response.json()["reply"].startswith("Thanks, I've noted lisinopril")
    meds = _record(intake_id)["medications"]
    assert "lisinopril" in str(meds).lower()
    posts = _interaction_posts(emulator)
    assert [p["status"] for p in posts] == [200, 200, 200], "every hop was accepted, signatures included"
    if not store:
        # Stateless: each later hop re-sends the thought step with its signature, as received.
        resent = [s for s in posts[1]["body"]["input"] if s.get("type") == "thought"]
        assert resent and resent[0].get("signature")


def test_a_model_that_skips_record_answers_cannot_stall_the_intake(staff_api, demo_patient, emulator):
    intake_id, api = _start(staff_api, demo_patient)
    emulator.script([_text("Lovely weather today!"), _text("Hmm, tell me more."), _text("I see.")])
    steps = []
    for text in ["Ada Lovelace, born 10 December 1985", "Ada Lovelace, 1985-12-10", "as I said"]:
        response = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": text})
        assert response.status_code == 200, response.content
        steps.append(response.json()["step"])
    # The identity step was asked again and then closed by the two-answers rule: the intake moved on.
    assert steps[-1] > steps[0]


def test_invalid_arguments_are_refused_field_by_field_and_the_rest_kept(staff_api, demo_patient, emulator):
    intake_id, api = _start(staff_api, demo_patient)
    emulator.script(
        [
            _calls(("c1", "record_answers", {"phone": "555-201-3344", "urgency": "apocalyptic"})),
            _text("Thanks. What's your email?"),
        ]
    )
    response = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": "555-201-3344"})
    assert response.status_code == 200, response.content
    record = _record(intake_id)
    assert "555-201-3344" in str(record.get("phone"))
    result = next(
        s["result"]
        for p in _interaction_posts(emulator)
        for s in (p["body"].get("input") or [])
        if isinstance(s, dict) and s.get("type") == "function_result"
    )
    assert "urgency" in str(result) and "rejected" in str(result)


def test_an_emergency_only_the_model_sees_still_gets_the_fixed_advice(staff_api, demo_patient, emulator):
    # Words no rule lists; the model judges them emergent. Any layer raises: the patient gets the
    # fixed advice (after the model's words, which have streamed) and staff see the flag.
    from intake.models import IntakeSession
    from intake.redflags import BASE_EMERGENCY_MESSAGE

    intake_id, api = _start(staff_api, demo_patient)
    emulator.script(
        [
            _calls(
                ("c1", "record_answers", {"urgency": "emergent", "warning_signs": ["feels like the end is near"]})
            ),
            _text("That sounds serious."),
        ]
    )
    response = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": "something is badly wrong with me"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["urgency"] == "emergent"
    assert body["emergency"] and body["emergency"].startswith(BASE_EMERGENCY_MESSAGE)
    assert body["reply"].startswith("That sounds serious.") and body["reply"].endswith(body["emergency"])
    assert IntakeSession.objects.get(pk=intake_id).emergency_flagged


def test_a_model_that_says_routine_never_adds_emergency_advice(staff_api, demo_patient, emulator):
    intake_id, api = _start(staff_api, demo_patient)
    emulator.script([_calls(("c1", "record_answers", {"urgency": "routine"})), _text("Thanks.")])
    response = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": "my knee aches a bit"})
    assert response.status_code == 200, response.content
    assert not response.json().get("emergency")
