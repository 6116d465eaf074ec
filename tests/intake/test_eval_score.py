"""The evaluation's scoring math on constructed summaries (no model, no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from intake.eval_score import Card, Counts, card_score, decline_outcome, overall, reasks, terms_found

CARDS = Path(__file__).resolve().parents[2] / "evals" / "cards"

CARD = Card.model_validate(
    {
        "id": "test-card",
        "about": "constructed for the scoring tests",
        "patient": {"chart": "Patria Schimmel"},
        "messages": ["Patria Schimmel, 5/21/74", {"text": "metforman 500, quit the Aleve", "topics": ["medications"]}],
        "truth": {
            "chief_complaint": ["sugar|diabet"],
            "history_of_present_illness": [["month"], ["tired"]],
            "medications": [
                {"name": "metformin", "status": "confirmed", "dose": "500 mg"},
                {"name": "naproxen", "status": "stopped"},
                {"name": "diphenhydramine", "status": "confirmed"},
            ],
            "allergies": [
                {"substance": "nuts", "reaction": ["hives"]},
                {"substance": "mould"},
            ],
            "past_history": [["diabet"]],
            "family_history": [["mother|mom", "diabet"]],
            "social_history": {"tobacco": ["never"], "occupation": ["hairdresser"]},
            "contact": {"phone": "555-246-1499", "email": "patria.s@example.com"},
            "insurance": {"payer": ["humana"], "member_id": "H 5512 7730 91"},
            "declined": ["alcohol", "family_history"],
        },
    }
)


def summary(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "patient_name": "Patria Schimmel",
        "urgency_level": "routine",
        "chief_complaint": "Diabetes check-up",
        "history_of_present_illness": "Sugars up and down for a month; feels tired.",
        "insurance": {"payer": "Humana", "member_id": "H551277309 1"},
        "contact": {"phone": "(555) 246-1499", "email": "Patria.S@example.com"},
        "medications": [
            {"name": "Metformin ER", "dose": "500mg", "frequency": "every morning", "status": "confirmed"},
            {"name": "Aleve", "dose": "", "frequency": "", "status": "confirmed"},  # wrong: she quit it
            {"name": "Lipitor", "dose": "", "frequency": "", "status": "new"},  # never said
        ],
        "allergies": [
            {"substance": "tree nuts", "reaction": "hives", "status": "confirmed"},
            {"substance": "Allergy to mould", "reaction": "", "status": "confirmed"},
            {"substance": "fish", "reaction": "", "status": "confirmed"},  # never said
        ],
        "past_history": ["Type 2 diabetes"],
        "family_history": [],
        "social_history": {"tobacco": "Never smoked", "alcohol": "declined", "occupation": "Hair salon"},
        "red_flags": [],
        "recommended_follow_up": [],
        "sources": [],
    }
    data.update(changes)
    return data


def test_medication_f1_needs_the_right_status_and_matches_by_ingredient() -> None:
    score = card_score(CARD, summary())
    meds = score.medications
    # metformin (ER, "500mg") and naproxen (as "Aleve") match by ingredient; diphenhydramine is
    # missed; Lipitor is extra.
    assert (meds.by_name.tp, meds.by_name.fp, meds.by_name.fn) == (2, 1, 1)
    assert meds.by_name.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # Aleve is "confirmed" though she stopped it: only metformin counts.
    assert (meds.strict.tp, meds.strict.fp, meds.strict.fn) == (1, 2, 2)
    assert meds.strict.f1 == pytest.approx(2 / (2 + 2 + 2))
    assert (meds.dose_checked, meds.dose_right) == (1, 1)
    assert "naproxen: status 'confirmed', expected 'stopped'" in score.problems


def test_not_taking_counts_as_stopped() -> None:
    meds = summary()["medications"]
    meds[1] = {**meds[1], "status": "not_taking"}
    assert card_score(CARD, summary(medications=meds)).medications.strict.tp == 2


def test_allergy_f1_needs_the_reaction_the_card_gives() -> None:
    score = card_score(CARD, summary())
    assert (score.allergies.by_substance.tp, score.allergies.by_substance.fp) == (2, 1)
    assert score.allergies.strict.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 0))
    no_reaction = [{**a, "reaction": ""} for a in summary()["allergies"]]
    assert card_score(CARD, summary(allergies=no_reaction)).allergies.strict.tp == 1  # only mould


def test_history_completeness_counts_each_fact() -> None:
    score = card_score(CARD, summary())
    found = dict(score.history)
    # Found: both HPI terms, diabetes, tobacco, phone (punctuation aside), email (case aside),
    # payer, member id (spaces aside). Missing: family history (empty), occupation ("Hair salon").
    assert found["phone"] and found["email"] and found["member id"]
    assert not found["occupation ['hairdresser']"]
    assert not found["family history ['mother|mom', 'diabet']"]
    assert score.completeness == pytest.approx(8 / 10)
    assert score.chief_complaint


def test_contact_may_be_one_text_field() -> None:
    found = dict(card_score(CARD, summary(contact="Phone 555.246.1499, email patria.s@example.com")).history)
    assert found["phone"] and found["email"]
    found = dict(card_score(CARD, summary(contact={"phone": "555-246-1498", "email": "patria@example.com"})).history)
    assert not found["phone"] and not found["email"]


def test_a_decline_shown_as_empty_is_the_error_not_a_decline() -> None:
    score = card_score(CARD, summary())
    assert score.declines == {"alcohol": "recorded", "family_history": "shown_as_none"}
    listed = card_score(CARD, summary(declined=["family_history"]))
    assert listed.declines["family_history"] == "recorded"
    assert decline_outcome("allergies", summary(allergies=[])) == "shown_as_none"
    assert decline_outcome("tobacco", summary()) == "shown_as_none"  # "Never smoked" reads as none
    assert decline_outcome("occupation", summary()) == "missing"  # an answer, just not a decline


def test_no_summary_scores_zero_but_is_not_an_error() -> None:
    score = card_score(CARD, None)
    assert not score.completed
    assert score.medications.strict.f1 == 0.0
    assert score.chief_complaint is False
    assert score.problems[0] == "no summary"


def test_reasks_are_steps_asked_after_their_topics_were_answered() -> None:
    # Message 0 gives identity and medications early; message 2 answers allergies.
    asked = ["Contact", "Medications", "Allergies", "Allergies", "Medications"]
    covered = [
        set(),
        {"name", "date_of_birth", "medications"},
        {"name", "date_of_birth", "medications"},
        {"name", "date_of_birth", "medications", "allergies"},
        {"name", "date_of_birth", "medications", "allergies"},
    ]
    # "Allergies" right after message 2 would be a follow-up (not covered before it); asked again
    # after message 3 it is a re-ask; medications are re-asked twice.
    assert reasks(asked, covered) == ["Medications", "Allergies", "Medications"]
    assert reasks(["Lifestyle"], [{"tobacco", "alcohol"}]) == []  # occupation still open


def test_overall_is_micro_averaged() -> None:
    a = card_score(CARD, summary())
    b = card_score(CARD, None)
    figures = overall([a, b])
    strict = a.medications.strict + b.medications.strict
    assert figures["medication_f1"] == pytest.approx(strict.f1)
    assert figures["chief_complaint_captured"] == 0.5
    assert figures["declines"] == 4 and figures["declines_recorded"] == 1
    assert figures["declines_shown_as_none"] == 1  # the empty summary has no fields at all: missing


def test_counts_f1_edge_cases() -> None:
    assert Counts().f1 == 1.0  # nothing expected, nothing produced
    assert Counts(fp=1).f1 == 0.0
    assert Counts(tp=1, fn=1).f1 == pytest.approx(2 / 3)


def test_terms() -> None:
    assert terms_found(["mother|mom", "diabet"], ["Mom: type 2 diabetes"])
    assert not terms_found(["mother|mom", "diabet"], ["Father: diabetes"])
    assert terms_found([], "")


def test_every_shipped_card_is_valid() -> None:
    files = sorted(CARDS.glob("*.json"))
    assert len(files) >= 30
    cards = [Card.model_validate(json.loads(f.read_text())) for f in files]
    assert len({c.id for c in cards}) == len(cards)
    assert {c.id + ".json" for c in cards} == {f.name for f in files}
    charted = {c.patient.chart for c in cards if c.patient.chart}
    assert len(charted) == 6 and any(not c.patient.chart for c in cards)
