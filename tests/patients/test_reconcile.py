"""Reconciliation of reported medications and allergies against Synthea-style chart entries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.schemas import AllergySchema, MedicationSchema, PatientSummarySchema
from patients import reconcile

SYNTHEA = Path("/work/shared/fhir/synthea")


@dataclass(frozen=True)
class Med:
    name: str
    dose: str = ""
    frequency: str = ""
    status: str = "active"


@dataclass(frozen=True)
class Allergy:
    substance: str
    status: str = "active"


def reported(name: str, dose: str = "", frequency: str = "", status: str = "new") -> MedicationSchema:
    return MedicationSchema(name=name, dose=dose, frequency=frequency, status=status)  # type: ignore[arg-type]


def said_allergy(substance: str, reaction: str = "", status: str = "new") -> AllergySchema:
    return AllergySchema(substance=substance, reaction=reaction, status=status)  # type: ignore[arg-type]


def synthea_texts(resource_type: str, key: str) -> set[str]:
    texts: set[str] = set()
    for path in SYNTHEA.glob("*.json"):
        for entry in json.loads(path.read_text())["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == resource_type and key in resource:
                texts.add(resource[key].get("text") or resource[key]["coding"][0]["display"])
    return texts


@pytest.mark.skipif(not SYNTHEA.exists(), reason="shared Synthea bundles not present")
def test_every_synthea_medication_and_allergy_has_tokens() -> None:
    meds = synthea_texts("MedicationRequest", "medicationCodeableConcept")
    allergies = synthea_texts("AllergyIntolerance", "code")
    assert "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet" in meds
    for name in meds:
        tokens = reconcile.drug_tokens(name)
        assert tokens, name
        assert not tokens & {"oral", "tablet", "mg", "hydrochloride", "release"}, name
    for substance in allergies:
        assert reconcile.allergy_tokens(substance) - {"allergy"}, substance


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lisinopril 10 MG Oral Tablet", {"lisinopril"}),
        ("Acetaminophen 325 MG Oral Tablet", {"acetaminophen"}),
        ("24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", {"metformin"}),
        ("diphenhydrAMINE Hydrochloride 25 MG Oral Tablet", {"diphenhydramine"}),
        ("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector", {"epinephrine"}),
        ("120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", {"fluticasone"}),
        ("Naproxen sodium 220 MG Oral Tablet", {"naproxen"}),
        ("tylenol", {"acetaminophen"}),
        ("my EpiPen", {"epinephrine"}),
        ("metformin 500 mg twice daily", {"metformin"}),
        ("potassium chloride 10 mEq", {"potassium", "chloride"}),
    ],
)
def test_drug_tokens(name: str, expected: set[str]) -> None:
    assert reconcile.drug_tokens(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10mg", (10.0, "mg")),
        ("10 MG", (10.0, "mg")),
        ("0.5 g", (500.0, "mg")),
        ("44 mcg", (0.044, "mg")),
        ("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector", (1.0, "mg")),
        ("two puffs", None),
        ("", None),
    ],
)
def test_parse_dose(text: str, expected: tuple[float, str] | None) -> None:
    assert reconcile.parse_dose(text) == expected


CHART_MEDS = [
    Med("lisinopril 10 MG Oral Tablet", frequency="once daily"),
    Med("24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    Med("Acetaminophen 325 MG Oral Tablet"),
    Med("diphenhydrAMINE Hydrochloride 25 MG Oral Tablet"),
    Med("Naproxen sodium 220 MG Oral Tablet", status="stopped"),
]


@pytest.mark.parametrize(
    ("med", "status", "chart_name"),
    [
        (reported("lisinopril 10mg"), "confirmed", "lisinopril 10 MG Oral Tablet"),
        (reported("Lisinopril", "10 mg", "daily"), "confirmed", "lisinopril 10 MG Oral Tablet"),
        (reported("lisinopril", "20 mg"), "changed", "lisinopril 10 MG Oral Tablet"),
        (reported("lisinopril", "10 mg", "twice a day"), "changed", "lisinopril 10 MG Oral Tablet"),
        (reported("metformin 500 mg twice daily"), "confirmed", CHART_MEDS[1].name),
        (reported("metformin", "1000 mg"), "changed", CHART_MEDS[1].name),
        (reported("tylenol"), "confirmed", "Acetaminophen 325 MG Oral Tablet"),
        (reported("atorvastatin", "20 mg"), "new", None),
        (reported("naproxen", "220 mg"), "new", None),  # the chart entry is stopped
        (reported("benadryl", status="stopped"), "stopped", CHART_MEDS[3].name),
        (reported("metformin", frequency="stopped last month"), "stopped", CHART_MEDS[1].name),
        (reported("lisinopril", frequency="not taking it"), "not_taking", "lisinopril 10 MG Oral Tablet"),
    ],
)
def test_medication_status(med: MedicationSchema, status: str, chart_name: str | None) -> None:
    result = reconcile.reconcile_medications([med], CHART_MEDS)
    (row,) = result.rows
    assert row.status == status
    assert (row.chart.name if row.chart else None) == chart_name


def test_unmentioned_chart_medications_are_listed_separately_not_added() -> None:
    result = reconcile.reconcile_medications([reported("lisinopril 10 mg")], CHART_MEDS)
    assert [m.name for m in result.medications] == ["lisinopril 10 mg"]
    assert result.medications[0].status == "confirmed"
    assert [c.name for c in result.chart_only] == [m.name for m in CHART_MEDS[1:4]]


def test_matching_prefers_the_chart_entry_with_the_same_strength() -> None:
    chart = [Med("Hydrochlorothiazide 6.25 MG"), Med("Hydrochlorothiazide 25 MG")]
    result = reconcile.reconcile_medications([reported("hydrochlorothiazide 25mg")], chart)
    assert result.rows[0].status == "confirmed"
    assert result.rows[0].chart is chart[1]
    assert result.chart_only == (chart[0],)


def test_units_of_different_kinds_do_not_count_as_a_change() -> None:
    chart = [Med("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector")]
    result = reconcile.reconcile_medications([reported("epi-pen", "0.3 ml")], chart)
    assert result.rows[0].status == "confirmed"


CHART_ALLERGIES = [
    Allergy("Allergy to bee venom"),
    Allergy("Shellfish allergy"),
    Allergy("Allergy to tree pollen"),
    Allergy("Allergy to grass pollen"),
    Allergy("Penicillin V"),
    Allergy("Dander (animal) allergy"),
    Allergy("Latex", status="resolved"),
]


@pytest.mark.parametrize(
    ("allergy", "status", "matched"),
    [
        (said_allergy("penicillin", "rash"), "confirmed", ["Penicillin V"]),
        (said_allergy("bees"), "confirmed", ["Allergy to bee venom"]),
        (said_allergy("shrimp"), "confirmed", ["Shellfish allergy"]),
        (said_allergy("cats"), "confirmed", ["Dander (animal) allergy"]),
        (said_allergy("tree pollen"), "confirmed", ["Allergy to tree pollen"]),
        (said_allergy("pollen"), "confirmed", ["Allergy to tree pollen", "Allergy to grass pollen"]),
        (said_allergy("sulfa drugs", "hives"), "new", []),
        (said_allergy("latex"), "new", []),  # the chart entry is resolved
        (said_allergy("penicillin", status="denied"), "denied", ["Penicillin V"]),
        (said_allergy("shellfish", "outgrew it as a kid"), "resolved", ["Shellfish allergy"]),
    ],
)
def test_allergy_status(allergy: AllergySchema, status: str, matched: list[str]) -> None:
    result = reconcile.reconcile_allergies([allergy], CHART_ALLERGIES)
    (row,) = result.rows
    assert row.status == status
    assert [c.substance for c in row.chart] == matched


def test_unmentioned_chart_allergies_are_listed_separately() -> None:
    result = reconcile.reconcile_allergies([said_allergy("penicillin")], CHART_ALLERGIES)
    assert [a.substance for a in result.allergies] == ["penicillin"]
    assert "Penicillin V" not in [c.substance for c in result.chart_only]
    assert "Shellfish allergy" in [c.substance for c in result.chart_only]
    assert "Latex" not in [c.substance for c in result.chart_only]


@dataclass
class Snapshot:
    medications: list[Med]
    allergies: list[Allergy]


def test_summary_reconcile_overrides_model_statuses() -> None:
    summary = PatientSummarySchema.model_validate(
        {
            "patient_name": "Patria Schimmel",
            "urgency_level": "routine",
            "chief_complaint": "",
            "history_of_present_illness": "",
            "insurance": {"payer": "", "member_id": ""},
            "medications": [
                {"name": "metformin", "dose": "500 mg", "frequency": "", "status": "new"},
                {"name": "aspirin", "dose": "81 mg", "frequency": "daily", "status": "confirmed"},
            ],
            "allergies": [{"substance": "fish", "reaction": "", "status": "new"}],
            "past_history": [],
            "family_history": [],
            "social_history": {"tobacco": "", "alcohol": "", "occupation": ""},
            "red_flags": [],
            "recommended_follow_up": [],
            "sources": [],
        }
    )
    chart = Snapshot(medications=[CHART_MEDS[1]], allergies=[Allergy("Allergy to fish")])
    result = reconcile.summary_reconcile(summary=summary, chart=chart)
    assert [m.status for m in result.medications] == ["confirmed", "new"]
    assert [a.status for a in result.allergies] == ["confirmed"]
    assert summary.medications[0].status == "new"  # the input is not mutated
