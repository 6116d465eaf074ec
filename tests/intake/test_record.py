"""The live intake record and the plan that reads it: pure code, no database, no model."""

from __future__ import annotations

import json

import pytest

from agents.schemas import PatientSummarySchema, RecordAnswersArgs, record_tool_declaration
from intake import plan
from intake.record import (
    DECLINED_TEXT,
    IntakeRecordSchema,
    record_apply,
    record_args_parse,
    record_changed_topics,
    record_red_flag,
    record_review_groups,
    summary_from_record,
)


def apply(rec: IntakeRecordSchema, turn: int, **args: object) -> IntakeRecordSchema:
    return record_apply(rec, RecordAnswersArgs.model_validate(args), turn=turn).record


def close(
    rec: IntakeRecordSchema, turn: int, text: str, before: IntakeRecordSchema | None = None
) -> IntakeRecordSchema:
    asked = plan.current_index(before or rec)
    changed = record_changed_topics(before or rec, rec)
    return plan.turn_close(rec, asked_index=asked, turn=turn, text=text, changed=changed)


def test_declaration_is_small_flat_and_all_optional() -> None:
    decl = record_tool_declaration()
    text = json.dumps(decl)
    assert decl["name"] == "record_answers" and decl["type"] == "function"
    params = decl["parameters"]
    assert "required" not in params, "the model sends only what the patient said"
    assert "$ref" not in text and "anyOf" not in text and '"title"' not in text
    # A description only where the name does not say it all: a format, whose words, when true.
    props = params["properties"]
    for name in ("date_of_birth", "chief_complaint", "none", "declined", "review_confirmed", "warning_signs"):
        assert props[name].get("description"), name
    assert props["medications"]["items"]["properties"]["taking"]["description"]
    assert params["properties"]["medications"]["items"]["properties"]["taking"]["type"] == "boolean"
    assert len(text) < 2600, "re-sent with every request: keep it small"
    assert text == json.dumps(record_tool_declaration()), "byte-identical every time"


def test_bad_fields_are_rejected_one_by_one_and_the_rest_kept() -> None:
    args, rejected = record_args_parse(
        {"phone": "555-0100", "urgency": "very", "patient_id": "42", "medications": [{"dose": "10 mg"}]}
    )
    assert args.phone == "555-0100"
    assert set(rejected) == {"urgency", "patient_id", "medications"}
    assert rejected["patient_id"] == "unknown field"


def test_facts_given_early_fill_later_steps_which_are_not_asked_again() -> None:
    rec = IntakeRecordSchema()
    # Asked for the name, the patient also says why they came and what they take.
    rec = apply(
        rec,
        1,
        name="Ana Ruiz",
        date_of_birth="1980-02-03",
        chief_complaint="cough for a week",
        medications=[{"name": "lisinopril", "dose": "10 mg"}],
    )
    rec = close(rec, 1, "Ana Ruiz, 3 Feb 1980, here for a cough, I take lisinopril 10 mg", IntakeRecordSchema())
    assert plan.current_index(rec) == 1  # contact
    rec = apply(rec, 2, phone="555-0101", email="ana@example.com")
    rec = apply(rec, 3, insurance={"payer": "Aetna", "member_id": "W1"})
    rec = apply(rec, 4, history_of_present_illness="a week, getting worse")
    # Reason for visit (3) and medications (5) were answered early: the plan goes to allergies.
    assert plan.current_index(rec) == 6
    assert plan.progress(plan.current_index(rec)).title == "Allergies"
    assert rec.chief_complaint.turns == [1] and rec.medications.items[0].turns == [1]


def test_a_correction_replaces_the_value_and_never_moves_the_intake_on() -> None:
    rec = apply(IntakeRecordSchema(), 1, name="Jon Smiht", date_of_birth="1970-01-01")
    before = rec
    rec = apply(rec, 2, name="Jon Smith")
    rec = close(rec, 2, "sorry, Smith with th", before)
    assert rec.name.value == "Jon Smith" and rec.name.turns == [1, 2]
    assert plan.current_index(rec) == 1, "still asking for contact details, nothing filed under Contact"
    assert rec.phone.state == ""


def test_stopping_a_medicine_and_changing_a_dose_update_the_same_item() -> None:
    rec = apply(IntakeRecordSchema(), 5, medications=[{"name": "Loratadine", "dose": "10 mg"}, {"name": "ibuprofen"}])
    rec = apply(rec, 6, medications=[{"name": "loratadine", "taking": False}, {"name": "Ibuprofen", "dose": "200 mg"}])
    meds = {m.name.lower(): m for m in rec.medications.items}
    assert len(meds) == 2
    assert meds["loratadine"].taking is False and meds["loratadine"].dose == "10 mg"
    assert meds["ibuprofen"].dose == "200 mg" and meds["ibuprofen"].turns == [5, 6]
    # A salt name is the same drug, not a new medicine called "maleate".
    rec = apply(rec, 7, medications=[{"name": "Chlorpheniramine"}])
    rec = apply(rec, 8, medications=[{"name": "Chlorpheniramine Maleate", "dose": "4 mg"}])
    assert [m.name for m in rec.medications.items].count("Chlorpheniramine Maleate") == 1
    assert len(rec.medications.items) == 3


@pytest.mark.parametrize("text", ["skip", "I'd rather not say", "pass on that one"])
def test_a_decline_is_recorded_as_declined_never_as_none(text: str) -> None:
    rec = apply(IntakeRecordSchema(), 6, none=["medications"])
    rec = apply(
        rec,
        1,
        name="A B",
        date_of_birth="1990-01-01",
        phone="1",
        email="a@b.c",
        insurance={"payer": "X", "member_id": "Y"},
        chief_complaint="rash",
        history_of_present_illness="2 days",
    )
    assert plan.current_index(rec) == 6  # allergies
    # The model did not record anything: the app's own reading of a plain decline applies.
    rec = close(rec, 7, text)
    assert rec.allergies.state == "declined" and rec.allergies.turns == [7]
    assert plan.current_index(rec) == 7
    summary, _ = summary_from_record(_summary(), rec)
    assert summary.allergies == [] and "allergies" in summary.declined
    groups = {g["title"]: g["lines"] for g in record_review_groups(rec)}
    assert groups["Allergies"][0]["text"] == "You chose not to answer"
    assert groups["Medications"][0]["text"] == "None"


def test_the_model_can_decline_for_the_patient_and_a_value_in_the_same_call_wins() -> None:
    result = record_apply(
        IntakeRecordSchema(),
        RecordAnswersArgs(phone="555", declined=["email", "phone"], none=["tobacco"]),
        turn=2,
    )
    assert result.record.email.state == "declined" and result.record.phone.state == "value"
    assert "declined.phone" in result.rejected and result.record.tobacco.state == "none"
    # A stray decline later never erases an answer.
    later = record_apply(result.record, RecordAnswersArgs(declined=["phone"]), turn=5)
    assert later.record.phone.value == "555" and "declined.phone" in later.rejected
    both = record_apply(IntakeRecordSchema(), RecordAnswersArgs(none=["alcohol"], declined=["alcohol"]), turn=3)
    assert both.record.alcohol.state == "" and "none.alcohol" in both.rejected


def test_two_answers_that_leave_a_step_empty_make_it_not_obtained() -> None:
    rec = IntakeRecordSchema()
    rec = close(rec, 1, "hello?")
    assert plan.current_index(rec) == 0 and rec.attempts == {"identity": 1}
    assert (
        plan.next_instruction(rec)
        == "Ask for the patient's full name and date of birth again, briefly (they may skip it)."
    )
    rec = close(rec, 2, "what is this for")
    assert rec.name.state == rec.date_of_birth.state == "not_obtained"
    assert plan.current_index(rec) == 1
    # A half answer asks for exactly what is missing.
    rec = apply(rec, 3, phone="555-0100")
    assert "email address" in plan.next_instruction(rec) and "phone" not in plan.next_instruction(rec)


def test_a_new_complaint_joins_the_first_and_a_red_flag_always_leaves_a_chief_complaint() -> None:
    rec = apply(IntakeRecordSchema(), 4, chief_complaint="a bad headache")
    rec = apply(rec, 9, chief_complaint="crushing chest pain")
    assert rec.chief_complaint.value == "a bad headache; crushing chest pain" and rec.chief_complaint.turns == [4, 9]
    assert apply(rec, 10, chief_complaint="crushing chest pain").chief_complaint.value == rec.chief_complaint.value
    flagged = record_red_flag(IntakeRecordSchema(), text="my face is drooping", turn=3)
    assert flagged.chief_complaint.value == "my face is drooping" and flagged.urgency == "emergent"
    assert record_red_flag(rec, text="other words", turn=11).chief_complaint == rec.chief_complaint


def test_urgency_only_goes_up_and_warning_signs_accumulate() -> None:
    rec = apply(IntakeRecordSchema(), 1, urgency="emergent", warning_signs=["worst headache of my life"])
    lowered = record_apply(rec, RecordAnswersArgs(urgency="routine", warning_signs=["stiff neck"]), turn=2)
    assert lowered.record.urgency == "emergent" and "urgency" in lowered.rejected
    assert lowered.record.warning_signs == ["worst headache of my life", "stiff neck"]


def _reviewable() -> IntakeRecordSchema:
    rec = IntakeRecordSchema()
    for step in plan.STEPS:
        rec = apply(rec, 1, declined=list(step.facts))
    return rec


@pytest.mark.parametrize("text", ["yes that's right", "yep all good", "looks correct", "Yes, thats all correct"])
def test_plain_confirmations_finish_the_review(text: str) -> None:
    rec = _reviewable()
    assert plan.current_index(rec) == plan.REVIEW_INDEX
    assert plan.next_instruction(rec) == plan.REVIEW_INSTRUCTION
    assert plan.current_index(close(rec, 12, text)) == plan.DONE_INDEX


def test_a_review_reply_with_a_change_is_a_correction_not_a_confirmation() -> None:
    rec = _reviewable()
    changed = apply(rec, 12, allergies=[{"substance": "latex"}])
    closed = plan.turn_close(
        changed, asked_index=plan.REVIEW_INDEX, turn=12, text="looks good", changed=record_changed_topics(rec, changed)
    )
    assert plan.current_index(closed) == plan.REVIEW_INDEX, "a change keeps the review open"
    assert plan.current_index(close(rec, 12, "yes but I'm also allergic to latex")) == plan.REVIEW_INDEX
    # The model's own judgement is the main signal, unless the same message changed something.
    assert plan.current_index(apply(rec, 12, review_confirmed=True)) == plan.DONE_INDEX
    both = apply(rec, 12, review_confirmed=True, phone="555-0199")
    closed = plan.turn_close(
        both, asked_index=plan.REVIEW_INDEX, turn=12, text="yes, new phone", changed=record_changed_topics(rec, both)
    )
    assert plan.current_index(closed) == plan.REVIEW_INDEX


def _summary(**extra: object) -> PatientSummarySchema:
    data = {
        "patient_name": "A Model Guess",
        "urgency_level": "routine",
        "chief_complaint": "",
        "history_of_present_illness": "",
        "insurance": {"payer": "", "member_id": ""},
        "medications": [{"name": "aspirin", "dose": "", "frequency": "", "status": "new"}],
        "allergies": [],
        "past_history": [],
        "family_history": [],
        "social_history": {"tobacco": "", "alcohol": "", "occupation": ""},
        "red_flags": [],
        "recommended_follow_up": ["Routine follow-up"],
        "sources": [],
    }
    return PatientSummarySchema.model_validate({**data, **extra})


def test_the_record_wins_over_the_summary_and_differences_are_named() -> None:
    rec = apply(
        IntakeRecordSchema(),
        1,
        name="Ana Ruiz",
        phone="555-0101",
        chief_complaint="chest pain since this morning",
        medications=[{"name": "metoprolol", "dose": "25 mg"}, {"name": "loratadine", "taking": False}],
        urgency="emergent",
    )
    rec = apply(rec, 2, declined=["email"], none=["allergies"])
    merged, differing = summary_from_record(_summary(), rec)
    assert merged.patient_name == "Ana Ruiz" and merged.chief_complaint == "chest pain since this morning"
    assert [(m.name, m.status) for m in merged.medications] == [("metoprolol", "new"), ("loratadine", "stopped")]
    assert merged.contact.phone == "555-0101" and merged.contact.email == DECLINED_TEXT
    assert merged.declined == ["email"] and merged.urgency_level == "emergent"
    assert set(differing) == {"patient_name", "chief_complaint", "medications", "urgency_level"}
    sources = {s.field: s.turns for s in merged.sources}
    assert sources["contact"] == [1, 2] and sources["medications"] == [1] and sources["allergies"] == [2]
    # Not obtained leaves the model's reading alone.
    untouched, nothing = summary_from_record(_summary(), IntakeRecordSchema())
    assert untouched.medications[0].name == "aspirin" and nothing == []


def test_one_medicine_named_two_ways_is_one_item() -> None:
    # A brand and its ingredient, said in different turns, are one medicine in the record.
    rec = apply(IntakeRecordSchema(), 3, medications=[{"name": "Zyrtec", "dose": "10 mg"}])
    rec = apply(rec, 4, medications=[{"name": "cetirizine", "taking": False}])
    assert [(m.name, m.dose, m.taking) for m in rec.medications.items] == [("cetirizine", "10 mg", False)]
    # Different medicines of one class stay apart.
    rec = apply(rec, 5, medications=[{"name": "Claritin"}])
    assert len(rec.medications.items) == 2


def test_the_record_wins_on_status_and_dose_even_when_the_names_agree() -> None:
    rec = apply(IntakeRecordSchema(), 1, medications=[{"name": "aspirin", "dose": "81 mg", "taking": False}])
    merged, differing = summary_from_record(_summary(), rec)
    assert [(m.name, m.dose, m.status) for m in merged.medications] == [("aspirin", "81 mg", "stopped")]
    assert "medications" in differing
    same = apply(IntakeRecordSchema(), 1, medications=[{"name": "aspirin"}])
    _, nothing = summary_from_record(_summary(), same)
    assert "medications" not in nothing


def test_a_medicine_first_named_by_its_class_takes_the_drugs_name() -> None:
    rec = apply(IntakeRecordSchema(), 5, medications=[{"name": "inhaler", "frequency": "at night"}])
    rec = apply(rec, 6, medications=[{"name": "albuterol", "dose": "2 puffs"}])
    assert [(m.name, m.dose, m.frequency, m.turns) for m in rec.medications.items] == [
        ("albuterol", "2 puffs", "at night", [5, 6])
    ]
    rec = apply(rec, 7, medications=[{"name": "water pill"}])  # another class is another medicine
    assert [m.name for m in rec.medications.items] == ["albuterol", "water pill"]


def test_one_allergen_named_again_is_one_allergy() -> None:
    rec = apply(IntakeRecordSchema(), 7, allergies=[{"substance": "bees", "reaction": "swelling"}])
    rec = apply(rec, 8, allergies=[{"substance": "bee stings"}])
    rec = apply(rec, 8, allergies=[{"substance": "latex"}])
    assert [(a.substance, a.reaction, a.turns) for a in rec.allergies.items] == [
        ("bee stings", "swelling", [7, 8]),
        ("latex", "", [8]),
    ]


def test_two_allergens_sharing_a_word_stay_two() -> None:
    rec = apply(IntakeRecordSchema(), 8, allergies=[{"substance": "tree nuts"}, {"substance": "tree pollen"}])
    rec = apply(rec, 9, allergies=[{"substance": "fish"}, {"substance": "shellfish"}])
    assert [a.substance for a in rec.allergies.items] == ["tree nuts", "tree pollen", "fish", "shellfish"]
