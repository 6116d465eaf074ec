"""The offline model's medicine reading (`gemini_emulator.meds`): names, doses, schedules, status.

Sentences here are written for these rules, not copied from the evaluation cards.
"""

from __future__ import annotations

import pytest

from gemini_emulator import meds


def _read(text: str, **kw: bool) -> dict[str, tuple[str, str]]:
    kw.setdefault("about_meds", True)
    return {f.name: (f.dose, f.status) for f in meds.read(text, **kw) if not f.allergen}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("seventy five", "75"),
        ("two hundred and fifty milligrams", "250 milligrams"),
        ("twelve and a half", "12.5"),
        ("one mg", "1 mg"),
        ("the chewable one", "the chewable one"),  # a pronoun, not a number
    ],
)
def test_spelled_numbers(text: str, value: str) -> None:
    assert meds.words_to_digits(text) == value


@pytest.mark.parametrize(
    ("text", "name", "dose"),
    [
        ("atenolol fifty every morning", "atenolol", "50 mg"),  # spelled, no unit: its label's unit, mg
        ("prednisone 20 for a week", "prednisone", "20 mg"),
        ("Norvasc 5 at night", "norvasc", "5 mg"),
        ("simvastatin forty milligrams", "simvastatin", "40 mg"),
        ("insulin glargine 30 before bed", "insulin glargine", "30 units"),  # insulin is dosed in units
        ("three of the 100 mg gabapentin capsules", "gabapentin", "300 mg"),
        ("sertraline, I take three of the 50 mg ones", "sertraline", "150 mg"),
        ("half a warfarin, the 5 mg ones", "warfarin", "2.5 mg"),
        ("half an ambien so 5 mg", "ambien", "5 mg"),  # the total said outright wins
        ("the Advil 200s", "advil", "200 mg"),
        ("500mg of naproxen", "naproxen", "500 mg"),
        ("Zocor 20 2 or 3 nights a week", "zocor", "20 mg"),
        ("Motrin, 2 at a time", "motrin", ""),  # a count of tablets is not a strength
        ("levothyroxine 88 mcg", "levothyroxine", "88 mcg"),
        ("Paxil 40, they lowered it to 20 in June", "paxil", "20 mg"),
    ],
)
def test_doses(text: str, name: str, dose: str) -> None:
    got = _read(text)
    assert got[name][0] == dose


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I quit the prednisone last week", {"prednisone": "stopped"}),
        ("no more ibuprofen, my stomach couldn't take it", {"ibuprofen": "stopped"}),
        ("they switched me from lisinopril to losartan", {"lisinopril": "stopped", "losartan": ""}),
        ("I was on gabapentin for a while but I'm done with it", {"gabapentin": "stopped"}),
        ("tried sertraline but gave up on it after a month", {"sertraline": "stopped"}),
        ("my doctor prescribed rosuvastatin but I never started it", {"rosuvastatin": "never"}),
        ("I don't use the ventolin anymore", {"ventolin": "stopped"}),
        ("haven't taken the omeprazole since Christmas", {"omeprazole": "stopped"}),
        ("never had to use the epi-pen so far", {"epipen": ""}),  # never needed: still carried
        ("I haven't needed my ventolin inhaler this winter", {"ventolin": ""}),
        ("still on the metformin, stopped the glipizide", {"metformin": "", "glipizide": "stopped"}),
        ("I'm supposed to take aspirin but I don't", {"aspirin": "stopped"}),
        ("I was on naproxen but switched to Tylenol", {"naproxen": "stopped", "tylenol": ""}),
        ("amoxicillin, finished it on Monday", {"amoxicillin": "stopped"}),
        ("I haven't been taking the atorvastatin", {"atorvastatin": "stopped"}),
        ("the pharmacy has the Jardiance but I haven't picked it up", {"jardiance": "never"}),
    ],
)
def test_status(text: str, expected: dict[str, str]) -> None:
    got = {name: status for name, (_, status) in _read(text).items()}
    assert got == expected


def test_a_later_sentence_stops_the_last_named_medicine() -> None:
    assert _read("I had tramadol after the operation. I stopped it in May.")["tramadol"][1] == "stopped"


def test_a_self_correction_drops_the_slip() -> None:
    assert set(_read("I take Nexium daily. Sorry, I mean Prilosec.")) == {"prilosec"}


def test_joined_and_hyphenated_names() -> None:
    assert set(_read("an epi pen and an epi-pen at work")) == {"epipen"}


def test_class_word_beside_its_named_drug_is_that_drug() -> None:
    assert set(_read("a blood thinner, warfarin 5 mg")) == {"warfarin"}


def test_unknown_product_after_a_taking_verb() -> None:
    assert "dayquil" in _read("I've been taking DayQuil for the cold")


def test_dose_form_after_a_name_is_not_another_medicine() -> None:
    assert _read("Zyrtec chewables 10mg") == {"zyrtec": ("10 mg", "")}


def test_allergen_or_indication() -> None:
    # What they react to is an allergen; what a medicine is for is not.
    text = "allergic to codeine, and cetirizine for my allergies"
    read = {f.name: f.allergen for f in meds.read(text, about_meds=True)}
    assert read == {"codeine": True, "cetirizine": False}
    assert meds.without_indications("Zyrtec when my allergies act up").strip() == "Zyrtec"
    bare = meds.read("amoxicillin, I get hives", about_meds=False, about_allergies=True)
    assert [f.allergen for f in bare] == [True]
    told = meds.read("Augmentin - it gave me a rash", about_meds=True)
    assert [f.allergen for f in told] == [True]
    # What a medicine treats, or one they stopped, is not an allergen.
    for text in ("clotrimazole cream on the rash", "no longer need the cetirizine since my hives settled"):
        assert [f.allergen for f in meds.read(text, about_meds=True)] == [False], text


def test_same_medicine_by_ingredient() -> None:
    assert meds.same("Tylenol", "paracetamol")
    assert not meds.same("Claritin", "Zyrtec")


def test_a_class_name_becomes_the_one_chart_medicine_of_that_class() -> None:
    from gemini_emulator import model
    from gemini_emulator.extract import Facts, Med

    chart = {"medications": [{"name": "Furosemide 20 MG Oral Tablet"}, {"name": "Metformin 500 MG"}]}
    facts = Facts(medications=[Med("water pill", stopped=True), Med("sugar pill")])
    model._name_classes_from_chart(facts, chart)
    assert [m.name for m in facts.medications] == ["Furosemide 20 MG Oral Tablet", "Metformin 500 MG"]
    # Two chart medicines of the class: the patient's words stay, nothing is guessed.
    two = {"medications": [{"name": "atenolol 50 MG"}, {"name": "losartan 50 MG"}]}
    facts = Facts(medications=[Med("blood pressure pill")])
    model._name_classes_from_chart(facts, two)
    assert facts.medications[0].name == "blood pressure pill"
