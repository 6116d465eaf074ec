"""`eval_intake` end to end on one card: the real API, the real SDK, the emulator. No score thresholds:
the assertions are on what the driver did and what it measured."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from intake.evaluation import DEFAULT_CARDS, DEFAULT_CHARTS, EvalError, eval_cards_drive, eval_cards_load
from intake.models import IntakeSession
from patients.models import Patient


@pytest.fixture
def louis_charts(tmp_path: Path) -> Path:
    # One bundle is enough for this card, and loads in a fraction of the time of six.
    (bundle,) = DEFAULT_CHARTS.glob("Louis_Erdman_*.json")
    shutil.copy(bundle, tmp_path / bundle.name)
    return tmp_path


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("use_emulator")
def test_one_card_is_played_through_the_api_and_scored(louis_charts: Path, emulator: Any) -> None:
    (card,) = eval_cards_load(DEFAULT_CARDS / "louis-lips-swelling-now.json")
    report = eval_cards_drive(cards=[card], charts_dir=louis_charts)

    assert report.errors == []
    (run,) = report.runs
    said = [text for who, text in run.transcript if who == "patient"]
    assert said[: len(card.messages)] == [m.text for m in card.messages]  # the card's words, in order
    assert run.score.turns == len(said) >= len(card.messages)
    # The patient was registered through the API and linked to the chart; one intake was played.
    patient = Patient.objects.get()
    assert patient.fhir_patient_id and patient.family_name == "Erdman"
    session = IntakeSession.objects.get()
    assert session.patient == patient
    # Tokens come from the intake's own turn records, summed, and are priced.
    assert run.score.tokens["input_tokens"] > 0
    assert run.score.tokens["cost_usd"] > 0
    interactions = [r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/interactions")]
    assert len(interactions) >= run.score.turns

    # A second run on the same database (`--in-place`) reuses the registered patient.
    again = eval_cards_drive(cards=[card], charts_dir=louis_charts)
    assert again.errors == [] and len(again.runs) == 1
    assert Patient.objects.count() == 1
    assert IntakeSession.objects.filter(patient=patient).count() == 2


def test_a_bad_card_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text(json.dumps({"id": "x", "messages": []}))
    with pytest.raises(EvalError, match=r"broken\.json"):
        eval_cards_load(tmp_path)


def test_the_command_fails_cleanly_without_cards(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No card files"):
        call_command("eval_intake", "--cards", str(tmp_path / "missing"))
