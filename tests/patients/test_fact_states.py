"""A section the intake left empty reads the same everywhere a field renders (`patients.fact_states`):
"Not obtained" after two answers that left it empty, "None" when the patient has none, "Declined to
answer" for a decline; never a blank."""

from __future__ import annotations

import pytest
from django.test import Client

from intake.models import IntakeRecord
from intake.record import IntakeRecordSchema, record_review_groups, record_staff_groups, summary_from_record
from patients.fact_states import DECLINED_TEXT, NONE_TEXT, NOT_OBTAINED_TEXT
from patients.selectors import summary_field_states, summary_topics
from tests.patients.summary_factory import add_transcript, make_summary, reviewer, summary_data

RECORD = {
    "allergies": {"state": "none", "turns": [5]},
    "family_history": {"state": "not_obtained", "turns": [7, 8]},
    "tobacco": {"state": "not_obtained", "turns": [9, 10]},
    "email": {"state": "declined", "turns": [2]},
}


def test_the_record_and_review_views_use_one_wording() -> None:
    rec = IntakeRecordSchema.model_validate(RECORD)
    staff = {line["topic"]: line["text"] for g in record_staff_groups(rec) for line in g["lines"]}
    patient = {line["label"]: line["text"] for g in record_review_groups(rec) for line in g["lines"]}
    assert staff["family_history"] == NOT_OBTAINED_TEXT and patient["Family history"] == NOT_OBTAINED_TEXT
    assert staff["allergies"] == NONE_TEXT and staff["email"] == DECLINED_TEXT


def test_the_summary_text_fields_say_not_obtained_where_the_model_had_nothing() -> None:
    from agents.schemas import PatientSummarySchema

    empty_social = summary_data(social_history={"tobacco": "", "alcohol": "a glass of wine", "occupation": ""})
    rec = IntakeRecordSchema.model_validate({**RECORD, "alcohol": {"state": "not_obtained", "turns": [9, 10]}})
    merged, _ = summary_from_record(PatientSummarySchema.model_validate(empty_social), rec)
    assert merged.social_history.tobacco == NOT_OBTAINED_TEXT
    assert merged.social_history.alcohol == "a glass of wine", "what the model did read stays"
    assert merged.contact.email == DECLINED_TEXT


@pytest.mark.django_db
def test_the_staff_summary_names_empty_sections_by_their_state() -> None:
    summary = make_summary(allergies=[], family_history=[], past_history=[])
    session = add_transcript(summary, [("patient", "hello")])
    IntakeRecord.objects.create(session=session, document=RECORD, version=3)
    summary.refresh_from_db()

    said = summary_topics(summary)
    assert "family_history" in said["not_obtained"] and "allergies" in said["none"]
    states = summary_field_states(summary)
    assert states["allergies"] == NONE_TEXT and states["family_history"] == NOT_OBTAINED_TEXT
    assert states["medications"] == "", "a section with a value shows the value"

    client = Client()
    client.force_login(reviewer())
    html = client.get(f"/staff/patients/{summary.patient_id}/").content.decode()
    shown = html.split('<dl class="summary">', 1)[1].split("</dl>", 1)[0]
    family = shown.split("<dt>Family history</dt>", 1)[1].split("</dd>", 1)[0]
    allergies = shown.split("<dt>Allergies</dt>", 1)[1].split("</dd>", 1)[0]
    assert NOT_OBTAINED_TEXT in family and NONE_TEXT in allergies
    past = shown.split("<dt>Past history</dt>", 1)[1].split("</dd>", 1)[0]
    assert NOT_OBTAINED_TEXT in past, "an empty section the record says nothing about is not obtained either"
