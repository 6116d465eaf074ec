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
        ("potassium chloride 10 mEq", {"potassium chloride"}),  # the salt is the drug here
    ],
)
def test_drug_tokens(name: str, expected: set[str]) -> None:
    assert reconcile.drug_tokens(name) == expected


def test_a_salt_names_its_base() -> None:
    # "potassium 20 mEq" (what patients say) is the chart's "potassium chloride"; other salts of
    # other bases, and two different drugs of one class, are not the same.
    assert reconcile.same_drug("potassium 20 mEq", "Potassium Chloride 20 MEQ Extended Release Oral Tablet")
    assert not reconcile.same_drug("sodium chloride", "potassium chloride")
    assert not reconcile.same_drug("omeprazole", "esomeprazole")


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


# --- Ingredients, not strings (issue 9, item 6) -------------------------------------------------


@pytest.mark.parametrize(
    ("patient_says", "chart_name"),
    [
        ("Advil", "Ibuprofen 200 MG Oral Tablet"),
        ("Zyrtec", "cetirizine hydrochloride 10 MG Oral Tablet"),
        ("Claritin", "Loratadine 10 MG Oral Tablet"),
        ("Tylenol", "Acetaminophen 325 MG Oral Tablet"),
        ("paracetamol", "Acetaminophen 325 MG Oral Tablet"),
        ("Chlorpheniramine Maleate", "Chlorpheniramine 4 MG Oral Tablet"),
        ("metoprolol succinate", "24 HR Metoprolol Succinate 25 MG Extended Release Oral Tablet"),
        ("metforman", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
        ("lisinipril", "lisinopril 10 MG Oral Tablet"),
        ("HCTZ 25 MG Oral Tablet", "Hydrochlorothiazide 25 MG"),
        ("my epi pen", "NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector"),
        ("Flonase", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"),
        ("B12 shots", "Cyanocobalamin 1 MG/ML Injectable Solution"),
        ("synthroid", "Levothyroxine Sodium 0.05 MG Oral Tablet"),
    ],
)
def test_brand_salt_misspelling_and_dose_form_match_the_chart_ingredient(patient_says: str, chart_name: str) -> None:
    result = reconcile.reconcile_medications([reported(patient_says)], [Med(chart_name)])
    assert result.rows[0].chart is not None, (patient_says, sorted(reconcile.drug_tokens(patient_says)))
    assert result.rows[0].status == "confirmed"
    assert result.chart_only == ()


@pytest.mark.parametrize(
    ("patient_says", "chart_name"),
    [
        ("Claritin", "cetirizine hydrochloride 10 MG Oral Tablet"),
        ("Clarinex", "Loratadine 10 MG Oral Tablet"),  # desloratadine is another drug
        ("Nexium", "omeprazole 20 MG Delayed Release Oral Capsule"),  # so is esomeprazole
        ("amoxicillin", "Penicillin V Potassium 250 MG Oral Tablet"),
        ("the water pill", "Loratadine 10 MG Oral Tablet"),
        ("maleate", "Loratadine 10 MG Oral Tablet"),
    ],
)
def test_different_ingredients_do_not_match(patient_says: str, chart_name: str) -> None:
    result = reconcile.reconcile_medications([reported(patient_says)], [Med(chart_name)])
    assert result.rows[0].chart is None
    assert result.rows[0].status == "new"


def test_combination_products_give_each_ingredient() -> None:
    name = (
        "Acetaminophen 21.7 MG/ML / Dextromethorphan Hydrobromide 1 MG/ML / doxylamine succinate 0.417 MG/ML "
        "Oral Solution"
    )
    assert reconcile.drug_tokens(name) == {"acetaminophen", "dextromethorphan", "doxylamine"}


def test_a_stopped_chart_medicine_is_stopped_even_when_also_reported_as_taken() -> None:
    # "I take Claritin ... actually I stopped the loratadine last month": one row, stopped.
    meds = [reported("Claritin", "10 mg", "daily"), reported("loratadine", status="stopped")]
    result = reconcile.reconcile_medications(meds, [Med("Loratadine 10 MG Oral Tablet")])
    assert [(m.name, m.status) for m in result.medications] == [("Claritin", "stopped")]


def test_a_schedule_within_the_charts_as_needed_is_not_a_change() -> None:
    chart = [Med("diphenhydrAMINE Hydrochloride 25 MG Oral Tablet", frequency="as needed")]
    said = reported("The Benadryl", "25 mg", "only at night")
    assert reconcile.reconcile_medications([said], chart).rows[0].status == "confirmed"
    daily = [Med("lisinopril 10 MG Oral Tablet", frequency="once daily")]
    assert reconcile.reconcile_medications([reported("lisinopril", "", "as needed")], daily).rows[0].status == "changed"


def test_a_later_report_corrects_the_dose() -> None:
    meds = [reported("lisinopril", "20 mg"), reported("lisinipril", "10 mg")]
    result = reconcile.reconcile_medications(meds, [Med("lisinopril 10 MG Oral Tablet")])
    assert [(m.dose, m.status) for m in result.medications] == [("10 mg", "confirmed")]


@pytest.mark.parametrize(
    ("substance", "chart"),
    [("penicilin", "Penicillin V"), ("shelfish", "Shellfish allergy"), ("Amoxil", "Amoxicillin")],
)
def test_misspelt_and_brand_allergens_match(substance: str, chart: str) -> None:
    result = reconcile.reconcile_allergies([said_allergy(substance)], [Allergy(chart)])
    assert result.rows[0].status == "confirmed"


def test_the_drug_vocabulary_works_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from patients import drugs

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the drug vocabulary must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    drugs.ingredients.cache_clear()
    assert drugs.ingredients("Zyrtec 10mg") == {"cetirizine"}
    assert drugs.ingredients("lisinipril") == {"lisinopril"}


def test_a_class_name_meets_the_one_chart_entry_of_its_class() -> None:
    chart = [Med("Furosemide 40 MG Oral Tablet"), Med("Metformin 500 MG Oral Tablet"), Med("atorvastatin 20 MG")]
    rows = reconcile.reconcile_medications([reported("my water pill", status="stopped")], chart).rows
    assert rows[0].chart is chart[0] and rows[0].status == "stopped"
    assert reconcile.same_drug("furosemide", rows[0].reported.name)  # the row names the chart drug
    # Two chart entries of the class, or none: nothing is guessed.
    two = [Med("lisinopril 10 MG"), Med("amlodipine 5 MG")]
    row = reconcile.reconcile_medications([reported("blood pressure pill")], two).rows[0]
    assert row.chart is None and row.status == "new" and row.reported.name == "blood pressure pill"
    stopped_only = [Med("Etonogestrel 68 MG Drug Implant", status="stopped")]
    assert reconcile.reconcile_medications([reported("birth control")], stopped_only).rows[0].chart is None


@pytest.mark.parametrize(
    ("said", "chart_name", "status", "dose"),
    [
        ("25", "Metoprolol succinate 25 MG Extended Release Oral Tablet", "confirmed", "25 mg"),
        ("75", "Levothyroxine Sodium 0.075 MG Oral Tablet", "confirmed", "75 mcg"),  # the chart's mg, in mcg
        ("10", "lisinopril 10 MG Oral Tablet", "confirmed", "10 mg"),
        # a strength the chart does not have: changed, and no unit is taken from the chart
        ("50", "Metoprolol succinate 25 MG Extended Release Oral Tablet", "changed", "50"),
    ],
)
def test_a_bare_strength_takes_its_unit_only_from_the_matching_chart_entry(
    said: str, chart_name: str, status: str, dose: str
) -> None:
    name = chart_name.split()[0].lower()
    row = reconcile.reconcile_medications([reported(name, dose=said)], [Med(chart_name)]).rows[0]
    assert (row.status, row.reported.dose) == (status, dose)


def test_a_class_said_stopped_meets_the_one_ended_chart_entry_of_its_class() -> None:
    chart = [Med("Etonogestrel 68 MG Drug Implant", status="stopped"), Med("Loratadine 5 MG Chewable Tablet")]
    row = reconcile.reconcile_medications([reported("birth control", status="stopped")], chart).rows[0]
    assert row.chart is chart[0] and row.status == "stopped"
    assert reconcile.same_drug("etonogestrel", row.reported.name)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("my inhaler", "albuterol", True),
        ("water pill", "Hydrochlorothiazide 25 MG Oral Tablet", True),
        ("statin", "atorvastatin", True),
        ("my inhaler", "lisinopril", False),
        ("blood thinner", "water pill", False),  # two classes are not one medicine
    ],
)
def test_a_class_name_and_a_drug_of_that_class(a: str, b: str, same: bool) -> None:
    assert reconcile.same_drug_or_class(a, b) is same


@pytest.mark.parametrize(
    ("substance", "chart"),
    [("sulfa drugs", "Sulfonamide (substance)"), ("sulpha", "sulfonamides"), ("Bactrim", "sulfa")],
)
def test_sulfa_and_sulfonamide_are_one_allergen(substance: str, chart: str) -> None:
    assert reconcile.same_allergen(substance, chart)


def test_an_outgrown_allergy_is_resolved() -> None:
    rows = reconcile.reconcile_allergies([said_allergy("wheat (outgrown)")], [Allergy("Wheat")]).rows
    assert rows[0].status == "resolved"


def test_a_medicine_named_by_its_form_meets_the_one_chart_entry_of_that_form() -> None:
    chart = [Med("Hydrocortisone 10 MG/ML Topical Cream"), Med("Loratadine 10 MG Oral Tablet")]
    row = reconcile.reconcile_medications([reported("the steroid cream")], chart).rows[0]
    assert row.chart is chart[0] and row.status == "confirmed"
    two = [Med("Hydrocortisone 10 MG/ML Topical Cream"), Med("Clotrimazole 10 MG/ML Topical Cream")]
    assert reconcile.reconcile_medications([reported("my cream")], two).rows[0].chart is None
