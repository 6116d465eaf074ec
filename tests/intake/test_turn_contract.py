"""The turn contract through the JSON API, the real SDK and the emulator: a stable prefix, the
record_answers round trip, nothing said lost, declines kept as declines, and the review."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from agents.schemas import PatientSummarySchema
from intake import plan, selectors, services
from intake.models import IntakeRecord, IntakeRecordVersion, IntakeSession, IntakeTurn
from intake.record import DECLINED_TEXT, IntakeRecordSchema
from tests.intake.test_intake_flow import _interaction_posts, _start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("use_emulator")]

CHAINED_KEYS = {"model", "system_instruction", "tools", "store", "input", "previous_interaction_id", "stream"}


def _say(api: Any, intake_id: int, text: str) -> dict[str, Any]:
    response = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": text})
    assert response.status_code == 200, response.content
    body = response.json()
    for key in ("reply", "step", "total_steps", "step_title", "status", "urgency"):
        assert key in body, f"every turn answer keeps {key}"
    return body


def _to_review(api: Any, intake_id: int, filler: str = "I'd rather not say.") -> dict[str, Any]:
    for _ in range(2 * plan.TOTAL_STEPS):
        body = _say(api, intake_id, filler)
        if body["status"] == "review":
            return body
    raise AssertionError("the intake never reached review")


def _record(intake_id: int) -> IntakeRecordSchema:
    return IntakeRecordSchema.model_validate(IntakeRecord.objects.get(session_id=intake_id).document)


def test_instruction_and_tools_are_byte_identical_and_chained_turns_carry_only_new_input(
    staff_api, demo_patient, emulator
):
    intake_id, api = _start(staff_api, demo_patient)
    texts = [
        "I'm Kermit Trantow, born June 21, 1993.",
        "555-201-3344 and kermit.t@example.com",
        "Aetna, member W123456789",
        "A headache that won't go away.",
    ]
    for text in texts:
        _say(api, intake_id, text)
    posts = [r for r in _interaction_posts(emulator) if "response_format" not in r["body"]]
    assert len(posts) >= len(texts)
    first = posts[0]["body"]
    assert [t["name"] for t in first["tools"]] == ["ehr_lookup", "record_answers"]
    assert "Next:" not in first["system_instruction"]
    for request in posts:
        body = request["body"]
        assert json.dumps(body["system_instruction"]) == json.dumps(first["system_instruction"])
        assert json.dumps(body["tools"]) == json.dumps(first["tools"]), "tools never vary per step"
    for request in posts[1:]:
        body = request["body"]
        assert set(body) <= CHAINED_KEYS, set(body) - CHAINED_KEYS
        assert body["previous_interaction_id"]
        steps = body["input"] if isinstance(body["input"], list) else [body["input"]]
        # Only this turn's message (with at most a one-line step note) or this hop's tool results.
        texts_sent = [t for t in texts if json.dumps(t)[1:-1] in json.dumps(steps)]
        assert len(texts_sent) <= 1
        assert len(json.dumps(steps)) < 1500 or all(s.get("type") == "function_result" for s in steps)
    # The step instruction reached the model with the turn: in the first input, then in results.
    assert "Next: Ask for the patient's full name" in json.dumps(first["input"])
    results = [
        s["result"]
        for r in posts
        for s in (r["body"]["input"] if isinstance(r["body"]["input"], list) else [])
        if s.get("type") == "function_result" and s.get("name") == "record_answers"
    ]
    assert results, "the model filled record_answers"
    assert all(r["next"].startswith("Ask") and {"accepted", "rejected"} <= set(r) for r in results)


def test_every_patient_turn_adds_one_record_version(staff_api, demo_patient):
    intake_id, api = _start(staff_api, demo_patient)
    for text in ["I'm Kermit Trantow.", "June 21, 1993", "skip"]:
        _say(api, intake_id, text)
    record = IntakeRecord.objects.get(session_id=intake_id)
    versions = list(IntakeRecordVersion.objects.filter(record=record).values_list("version", "turn"))
    assert record.version == 3 and versions == [(1, 1), (2, 2), (3, 3)]
    detail = staff_api.get(f"/api/v1/intakes/{intake_id}").json()
    assert detail["record"]["phone"]["state"] == "declined", "'skip' at contact is a decline"
    assert "told" not in detail["record"]


def test_a_message_saved_before_a_dropped_reply_is_answered_next_time(staff_api, demo_patient, emulator, settings):
    from tests.patients.conftest import closed_port

    intake_id, api = _start(staff_api, demo_patient)
    _say(api, intake_id, "I'm Kermit Trantow, born June 21, 1993.")
    working = settings.GEMINI_BASE_URL
    settings.GEMINI_BASE_URL = f"http://127.0.0.1:{closed_port()}"
    lost = "My phone is 555-201-3344."
    dropped = api.post(f"/api/v1/intakes/{intake_id}/messages", {"text": lost})
    assert dropped.status_code == 503 and "saved" in dropped.json()["detail"]
    settings.GEMINI_BASE_URL = working
    _say(api, intake_id, "And my email is kermit.t@example.com.")
    carrying = [r for r in _interaction_posts(emulator) if lost in json.dumps(r["body"].get("input"))]
    assert len(carrying) == 1, "the unanswered message goes with the next one, once"
    sent = json.dumps(carrying[0]["body"]["input"])
    assert sent.index(lost) < sent.index("kermit.t@example.com"), "in the order the patient wrote them"
    roles = list(IntakeTurn.objects.filter(session_id=intake_id).order_by("index").values_list("role", flat=True))
    assert roles[-1] == "model" and roles.count("patient") == 3
    # Answered now: the next turn does not send it again.
    _say(api, intake_id, "Aetna.")
    assert len([r for r in _interaction_posts(emulator) if lost in json.dumps(r["body"].get("input"))]) == 1


async def test_red_flag_advice_is_the_first_event_before_the_model_is_called(demo_patient, emulator):
    session, _ = await sync_to_async(services.intake_start)(patient=demo_patient)
    before = len(await sync_to_async(emulator.requests)())
    _, events = await services.aintake_turn_stream(
        session_id=session.pk, text="I have crushing chest pain going down my left arm"
    )
    assert events is not None
    first = await anext(events)
    assert first["type"] == "delta" and "911" in first["text"]
    assert len(await sync_to_async(emulator.requests)()) == before, "the advice does not wait for the model"
    rest = [event async for event in events]
    done = rest[-1]
    assert done["type"] == "done" and done["emergency"] and done["urgency"] == "emergent"
    assert len(await sync_to_async(emulator.requests)()) > before, "then the message goes to the model"


def _suite_emergencies() -> list[tuple[str, str]]:
    """One message per emergency category from the red-flag suite's fresh batches T and U."""
    from intake import redflag_eval

    first: dict[str, str] = {}
    for case in redflag_eval.load_suite():
        if case.expect == "emergent" and case.batch in ("T", "U") and not case.history:
            first.setdefault(case.category, case.text)
    return sorted(first.items())


@pytest.mark.parametrize(("category", "text"), _suite_emergencies())
async def test_suite_emergencies_show_the_advice_before_any_model_call(demo_patient, emulator, category, text):
    session, _ = await sync_to_async(services.intake_start)(patient=demo_patient)
    before = len(await sync_to_async(emulator.requests)())
    _, events = await services.aintake_turn_stream(session_id=session.pk, text=text)
    assert events is not None
    first = await anext(events)
    assert first["type"] == "delta" and "911" in first["text"], category
    assert len(await sync_to_async(emulator.requests)()) == before, "the advice does not wait for the model"
    rest = [event async for event in events]
    assert rest[-1]["type"] == "done" and rest[-1]["emergency"] and rest[-1]["urgency"] == "emergent"


def test_red_flag_intake_summary_is_emergent_and_never_routine(staff_api, demo_patient):
    intake_id, api = _start(staff_api, demo_patient)
    _say(api, intake_id, "I'm Kermit Trantow, born June 21, 1993.")
    flagged = _say(api, intake_id, "I have crushing chest pain going down my left arm")
    assert flagged["emergency"] and flagged["urgency"] == "emergent"
    _to_review(api, intake_id)
    done = _say(api, intake_id, "Yes, that's right.")
    assert done["status"] == "completed" and done["urgency"] == "emergent"
    summary = PatientSummarySchema.model_validate(
        staff_api.get(f"/api/v1/summaries/{IntakeSession.objects.get(pk=intake_id).summary_id}").json()["data"]
    )
    assert summary.urgency_level == "emergent"
    assert summary.recommended_follow_up and not any("routine" in f.lower() for f in summary.recommended_follow_up)
    assert summary.red_flags


# The summary's JSON as it was before the live record (issue 9): clients rely on these names.
SUMMARY_FIELDS_BEFORE = {
    "patient_name": None,
    "urgency_level": None,
    "chief_complaint": None,
    "history_of_present_illness": None,
    "insurance": {"payer", "member_id"},
    "medications": {"name", "dose", "frequency", "status"},
    "allergies": {"substance", "reaction", "status"},
    "past_history": None,
    "family_history": None,
    "social_history": {"tobacco", "alcohol", "occupation"},
    "red_flags": None,
    "recommended_follow_up": None,
    "sources": {"field", "turns"},
}


def test_summary_json_keeps_its_field_names_and_adds_contact(staff_api, demo_patient):
    intake_id, api = _start(staff_api, demo_patient)
    _say(api, intake_id, "I'm Kermit Trantow, born June 21, 1993.")
    _say(api, intake_id, "555-201-3344, kermit.t@example.com")
    _say(api, intake_id, "Aetna, member W123456789")
    _say(api, intake_id, "A headache that won't go away.")
    _say(api, intake_id, "I take hydrochlorothiazide 25 mg once a day.")
    _say(api, intake_id, "I'm allergic to peanuts, they give me hives.")
    _to_review(api, intake_id)
    assert _say(api, intake_id, "Yes, that's right.")["status"] == "completed"
    summary_id = IntakeSession.objects.get(pk=intake_id).summary_id
    data = staff_api.get(f"/api/v1/summaries/{summary_id}").json()["data"]
    assert set(data) == set(SUMMARY_FIELDS_BEFORE) | {"contact", "declined"}
    for field, keys in SUMMARY_FIELDS_BEFORE.items():
        if keys is None:
            continue
        rows = data[field] if isinstance(data[field], list) else [data[field]]
        assert rows, f"{field} has a row to check"
        assert all(set(row) == keys for row in rows), (field, rows)
    assert data["contact"] == {"phone": "555-201-3344", "email": "kermit.t@example.com"}


def test_declines_reach_the_summary_as_declined_never_as_none(staff_api, demo_patient):
    intake_id, api = _start(staff_api, demo_patient)
    asked = _say(api, intake_id, "I'm Kermit Trantow, born June 21, 1993.")["step_title"]
    body = _say(api, intake_id, "skip")
    assert body["step_title"] != asked, "a decline closes the step"
    _to_review(api, intake_id)
    record = _record(intake_id)
    assert record.allergies.state == "declined" and record.phone.state == "declined"
    done = api.post(f"/api/v1/intakes/{intake_id}/complete")
    assert done.status_code == 200, done.content
    summary = PatientSummarySchema.model_validate(done.json()["data"])
    assert {"phone", "email", "allergies", "medications"} <= set(summary.declined)
    assert summary.contact.phone == DECLINED_TEXT and summary.allergies == []
    assert summary.social_history.tobacco == DECLINED_TEXT, "shown as declined, never as 'none'"


@pytest.mark.parametrize("text", ["yep all good", "Yes, that's right!", "looks correct", "yes thats all correct"])
def test_ordinary_confirmations_finish_the_review(staff_api, demo_patient, text):
    intake_id, api = _start(staff_api, demo_patient)
    _to_review(api, intake_id)
    done = _say(api, intake_id, text)
    assert done["status"] == "completed"
    session = IntakeSession.objects.get(pk=intake_id)
    assert session.status == "completed" and session.summary_id
    # The patient's link has ended with the intake (issue 11); for staff, finishing again changes
    # nothing: the same summary comes back.
    assert api.post(f"/api/v1/intakes/{intake_id}/complete").status_code == 401
    again = staff_api.post(f"/api/v1/intakes/{intake_id}/complete")
    assert again.status_code == 200 and again.json()["id"] == session.summary_id


def test_anything_else_at_review_is_a_correction_and_the_review_stays_open(staff_api, demo_patient):
    intake_id, api = _start(staff_api, demo_patient)
    _to_review(api, intake_id)
    assert _record(intake_id).phone.state == "declined"
    body = _say(api, intake_id, "Yes but my phone number is 555-201-3344.")
    assert body["status"] == "review"
    assert IntakeSession.objects.get(pk=intake_id).summary_id is None
    record = _record(intake_id)
    assert record.phone.state == "value" and "555-201-3344" in record.phone.value, "the correction is applied"
    review = [line["text"] for group in selectors.intake_review_answers(intake_id) for line in group["lines"]]
    assert any("555-201-3344" in text for text in review), "the review screen shows the corrected record"
    assert _say(api, intake_id, "yes thats all correct")["status"] == "completed"
    assert _summary_of(staff_api, intake_id).contact.phone == record.phone.value


async def test_a_message_whose_reply_was_cut_by_a_reload_is_answered_when_the_patient_comes_back(
    demo_patient, emulator
):
    """The page reloads (or the connection drops) while the reply streams: the message was saved
    first, so it shows on the reloaded page and goes to the model with the patient's next one."""
    session, _ = await sync_to_async(services.intake_start)(patient=demo_patient)
    await services.aintake_turn_submit(session_id=session.pk, text="I'm Kermit Trantow, born June 21, 1993.")
    cut = "My phone is 555-201-3344."
    _, events = await services.aintake_turn_stream(session_id=session.pk, text=cut)
    assert events is not None
    first = await anext(events)
    assert first["type"] == "delta"
    await events.aclose()  # the browser went away mid-reply

    shown = await sync_to_async(selectors.intake_chat_context)(await IntakeSession.objects.aget(pk=session.pk))
    patient_texts = [m["text"] for m in shown["messages"] if m["role"] == "patient"]
    assert patient_texts[-1] == cut, "the reloaded page shows the saved message"
    before = len(await sync_to_async(emulator.requests)())
    outcome = await services.aintake_turn_submit(session_id=session.pk, text="And my email is kermit.t@example.com.")
    assert outcome.reply
    carrying = [
        r
        for r in (await sync_to_async(emulator.requests)())[before:]
        if r["method"] == "POST" and cut in json.dumps(r["body"].get("input"))
    ]
    assert len(carrying) == 1, "the saved message goes to the model once, with the next one"
    record = await sync_to_async(_record)(session.pk)
    assert "555-201-3344" in str(record.phone.value), "the saved message's facts reach the record too"
    assert record.email.value == "kermit.t@example.com"
    roles = [
        r
        async for r in IntakeTurn.objects.filter(session_id=session.pk).order_by("index").values_list("role", flat=True)
    ]
    assert roles[-1] == "model"


def _summary_of(staff_api: Any, intake_id: int) -> PatientSummarySchema:
    summary_id = IntakeSession.objects.get(pk=intake_id).summary_id
    assert summary_id, "the intake finished with a summary"
    return PatientSummarySchema.model_validate(staff_api.get(f"/api/v1/summaries/{summary_id}").json()["data"])


def _asked(emulator: Any) -> list[str]:
    """Every step instruction the app gave the model, in order (tool results and input notes)."""
    out = []
    for request in _interaction_posts(emulator):
        for step in request["body"]["input"] if isinstance(request["body"]["input"], list) else []:
            if step.get("type") == "function_result" and step.get("name") == "record_answers":
                out.append(step["result"]["next"])
            elif step.get("type") == "user_input" and "Next: " in json.dumps(step):
                out.append(json.dumps(step).split("Next: ", 1)[1])
    return out


# These two run on the offline model's general form filling (issue 9 item 7, branch h9emu).
def test_patient_who_answers_early_corrects_declines_and_trips_a_red_flag(staff_api, demo_patient, emulator):
    intake_id, api = _start(staff_api, demo_patient)
    _say(
        api,
        intake_id,
        "Hi, I'm Kermit Trantow, born June 21 1993. I'm here about a bad headache, "
        "and I take hydrochlorothiazide 25 mg once a day.",
    )
    _say(api, intake_id, "555-201-3344, kermit.t@example.com")
    corrected = _say(api, intake_id, "Sorry, my email is actually kermit.trantow@example.com")
    assert corrected["step_title"] == "Insurance", "a correction never moves the intake on"
    _say(api, intake_id, "skip")
    after_hpi = _say(api, intake_id, "It started three days ago, about a 6 out of 10, and getting worse.")
    assert after_hpi["step_title"] == "Allergies", "the reason and medications given early are not asked again"
    assert not any("which medications" in a for a in _asked(emulator))
    _say(api, intake_id, "Peanuts. They give me hives.")
    flagged = _say(api, intake_id, "Now I suddenly have crushing chest pain going down my left arm")
    assert flagged["emergency"] and flagged["urgency"] == "emergent"
    _to_review(api, intake_id)
    record = _record(intake_id)
    assert record.email.value == "kermit.trantow@example.com" and record.email.turns == [2, 3]
    old = IntakeRecordVersion.objects.get(record__session_id=intake_id, version=2).document
    assert old["email"]["value"] == "kermit.t@example.com", "the history of the change is kept"
    assert record.insurance.state == "declined" and record.chief_complaint.turns[0] == 1
    assert _say(api, intake_id, "yep all good")["status"] == "completed"
    summary = _summary_of(staff_api, intake_id)
    complaint = summary.chief_complaint.lower()
    assert "headache" in complaint and "chest pain" in complaint, "a new complaint joins the first, nothing lost"
    assert summary.contact.email == "kermit.trantow@example.com"
    assert summary.insurance.payer == DECLINED_TEXT and "insurance" in summary.declined
    meds = {m.name.lower().split()[0]: m.status for m in summary.medications}
    assert meds.get("hydrochlorothiazide") == "confirmed"
    assert any("peanut" in a.substance.lower() for a in summary.allergies)
    assert summary.urgency_level == "emergent"
    assert not any("routine" in f.lower() for f in summary.recommended_follow_up)


def test_patient_whose_red_flag_is_their_reason_for_coming(staff_api, other_patient, emulator):
    intake_id, api = _start(staff_api, other_patient)
    born = other_patient.birth_date.strftime("%B %d, %Y")
    _say(api, intake_id, f"My name is {other_patient.given_name} {other_patient.family_name}, born {born}.")
    _say(api, intake_id, "I'd rather not give my phone number or my email.")
    _say(api, intake_id, "Blue Cross, ID XJ4471")
    flagged = _say(api, intake_id, "My face is drooping on one side since this morning and my speech is slurred.")
    assert flagged["emergency"] and flagged["step_title"] != "Reason for visit", "the red-flag message was recorded"
    assert "drooping" in _record(intake_id).chief_complaint.value
    _say(api, intake_id, "It began around 7 this morning and it's not getting better.")
    _say(api, intake_id, "I take lisinopril 20 mg once a day and metformin 500 mg twice a day.")
    _say(api, intake_id, "Sorry, the lisinopril dose is 10, not 20.")
    _say(api, intake_id, "skip")
    _to_review(api, intake_id)
    record = _record(intake_id)
    assert record.phone.state == record.email.state == "declined"
    assert record.allergies.state == "declined", "'skip' is a decline, never 'none'"
    lisinopril = next(m for m in record.medications.items if m.name.lower().startswith("lisinopril"))
    assert lisinopril.dose.startswith("10")
    assert _say(api, intake_id, "Yes, that's right.")["status"] == "completed"
    summary = _summary_of(staff_api, intake_id)
    assert "face" in summary.chief_complaint.lower() or "droop" in summary.chief_complaint.lower()
    assert summary.urgency_level == "emergent" and summary.allergies == [] and "allergies" in summary.declined
    assert summary.contact.phone == DECLINED_TEXT


def test_red_flag_advice_stands_when_the_model_is_down_and_the_message_is_answered_later(
    staff_api, demo_patient, emulator, settings
):
    from tests.patients.conftest import closed_port

    intake_id, api = _start(staff_api, demo_patient)
    working = settings.GEMINI_BASE_URL
    settings.GEMINI_BASE_URL = f"http://127.0.0.1:{closed_port()}"
    text = "My face is drooping on one side and my speech is slurred"
    body = _say(api, intake_id, text)
    assert body["emergency"] and body["reply"] == body["emergency"] and body["urgency"] == "emergent"
    record = _record(intake_id)
    assert record.urgency == "emergent" and record.chief_complaint.value == text, "kept even if they never return"
    settings.GEMINI_BASE_URL = working
    _say(api, intake_id, "I'm Kermit Trantow.")
    carrying = [r for r in _interaction_posts(emulator) if text in json.dumps(r["body"].get("input"))]
    assert len(carrying) == 1
    assert IntakeSession.objects.get(pk=intake_id).urgency == "emergent"
