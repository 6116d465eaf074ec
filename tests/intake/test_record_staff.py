"""The live intake record where staff look: the patient page (clinicians only) and its plain-language
view, with declines and "not obtained" named as such, the turns each fact came from, and the
history of corrections."""

from __future__ import annotations

import pytest
from django.test import Client

from intake.record import DECLINED_TEXT, IntakeRecordSchema, record_changes, record_staff_groups
from tests.intake.test_intake_flow import _start
from tests.intake.test_turn_contract import _say
from tests.patients.summary_factory import reviewer, staff


def _lines(rec: IntakeRecordSchema) -> dict[str, dict[str, object]]:
    return {line["topic"]: line for group in record_staff_groups(rec) for line in group["lines"]}


def test_staff_view_names_declines_and_gaps_and_keeps_every_topic() -> None:
    rec = IntakeRecordSchema.model_validate(
        {
            "name": {"state": "value", "value": "Ada Okafor", "turns": [1]},
            "phone": {"state": "declined", "turns": [2]},
            "insurance": {"state": "not_obtained", "turns": [3, 4]},
            "allergies": {"state": "none", "turns": [5]},
            "medications": {
                "state": "value",
                "turns": [1, 6],
                "items": [
                    {"name": "lisinopril", "dose": "10 mg", "turns": [6]},
                    {"name": "loratadine", "taking": False, "turns": [1]},
                ],
            },
        }
    )
    lines = _lines(rec)
    assert [g["title"] for g in record_staff_groups(rec)][:3] == ["About you", "Contact", "Insurance"]
    assert lines["phone"]["text"] == DECLINED_TEXT and lines["phone"]["state"] == "declined"
    assert lines["insurance"]["text"] == "Not obtained" and lines["insurance"]["turns"] == [3, 4]
    assert lines["allergies"]["text"] == "None", "only a patient's own 'none' reads as none"
    assert lines["email"]["state"] == "open" and lines["email"]["text"] == "Not asked yet"
    assert lines["name"]["turns"] == [1] and lines["name"]["text"] == "Ada Okafor"
    meds = lines["medications"]
    assert meds["turns"] == [1, 6]
    assert meds["items"] == [
        {"text": "lisinopril 10 mg", "turns": [6]},
        {"text": "loratadine (stopped / not taking)", "turns": [1]},
    ]
    assert "None" not in {lines[t]["text"] for t in ("phone", "insurance", "email")}


def test_changes_list_corrections_not_first_answers() -> None:
    v1 = {"email": {"state": "value", "value": "a@example.com", "turns": [2]}}
    v2 = {**v1, "phone": {"state": "value", "value": "555-0100", "turns": [3]}}
    v3 = {**v2, "email": {"state": "value", "value": "b@example.com", "turns": [2, 4]}}
    v4 = {**v3, "phone": {"state": "declined", "turns": [3, 5]}}
    changes = record_changes([(2, v1), (3, v2), (4, v3), (5, v4)])
    assert changes == [
        {"turn": 4, "topic": "email", "label": "Email", "before": "a@example.com", "after": "b@example.com"},
        {"turn": 5, "topic": "phone", "label": "Phone", "before": "555-0100", "after": DECLINED_TEXT},
    ]
    assert record_changes([]) == [] and record_changes([(1, v1)]) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("use_emulator")
def test_patient_page_shows_the_live_record_to_clinicians_only(staff_api, demo_patient):
    """Through the API, the real SDK and the emulator: what the patient said, corrected and declined
    is on the staff patient page, grouped, with turns and the correction's history."""
    intake_id, api = _start(staff_api, demo_patient)
    _say(api, intake_id, "I'm Kermit Trantow, born June 21, 1993.")
    _say(api, intake_id, "555-201-3344, kermit.t@example.com")
    _say(api, intake_id, "Sorry, my email is actually kermit.trantow@example.com")
    _say(api, intake_id, "skip")  # insurance
    clinician, desk = Client(), Client()
    clinician.force_login(reviewer("rita"))
    desk.force_login(staff("sam"))
    url = f"/staff/patients/{demo_patient.pk}/"

    html = clinician.get(url).content.decode()
    assert f'id="record-h-{intake_id}"' in html
    section = html.split(f'id="record-h-{intake_id}"', 1)[1].split("<h3>Conversation</h3>", 1)[0]
    assert "kermit.trantow@example.com" in section and "(turns 2, 3)" in section
    assert "<del>kermit.t@example.com</del>" in section and "Turn 3 · Email" in section
    insurance = section.split("<dt>Insurance</dt>", 1)[1].split("</div>", 1)[0]
    assert DECLINED_TEXT in insurance and "None" not in insurance, "a decline is never shown as none"
    assert "Not asked yet" in section, "topics not reached yet say so"

    desk_html = desk.get(url).content.decode()
    assert "kermit.trantow@example.com" not in desk_html and f'id="record-h-{intake_id}"' not in desk_html
