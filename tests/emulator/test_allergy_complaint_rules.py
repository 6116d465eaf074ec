"""How the offline model hears allergies (with their reactions) and the reason for the visit.

Rules, not sentences: each test states a rule and checks it on phrasings the rule must cover.
"""

from __future__ import annotations

import pytest

from gemini_emulator.extract import Facts, reactions_in, read_message, same_allergen


def heard(text: str, asked: list[str]) -> Facts:
    return read_message(text, Facts(), 1, asked)


def allergies(text: str, asked: list[str] | None = None) -> dict[str, str]:
    return {a.substance: a.reaction for a in heard(text, asked or []).allergies}


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("my throat closes up", "throat tightness"),
        ("it makes me throw up", "vomiting"),
        ("I wheeze", "wheezing"),
        ("I sneeze and my eyes water", "sneezing, watery eyes"),
        ("my lips swell up", "swelling (lips)"),
        ("runny nose", "runny nose"),
    ],
)
def test_reactions_are_named_as_clinicians_write_them(phrase: str, expected: str) -> None:
    assert reactions_in(phrase) == expected


def test_a_treatment_is_not_a_reaction() -> None:
    assert reactions_in("I carry an EpiPen") == ""


def test_a_reaction_in_the_next_sentence_belongs_to_the_allergen_just_named() -> None:
    assert allergies("Latex. Itchy rash.", ["allergies"]) == {"latex": "itching, rash"}


def test_allergens_joined_by_and_share_the_reaction_after_them_and_one_kind_is_one_allergy() -> None:
    got = allergies("Shrimp and crab make my throat close.", ["allergies"])
    assert got == {"shellfish (shrimp, crab)": "throat tightness"}


def test_each_allergen_keeps_its_own_reaction() -> None:
    got = allergies("bees - I swell up bad. shellfish gives me hives. peanuts too, my throat got tight once")
    assert got == {"bees": "swelling", "shellfish": "hives", "peanuts": "throat tightness"}


@pytest.mark.parametrize("asked", [["medications"], ["history"], []])
def test_a_bare_list_of_non_drug_allergens_is_a_list_of_allergies_whatever_was_asked(asked: list[str]) -> None:
    f = heard("same as before, bees shellfish and peanuts", asked)
    assert [a.substance for a in f.allergies] == ["bees", "shellfish", "peanuts"]
    assert not f.medications


def test_a_drug_taken_for_allergies_is_a_medicine_not_an_allergen() -> None:
    for text in (
        "astemizole 10 for allergies and I have an epipen",
        "the claritin chewables when my allergies act up",
        "hydrocortisone cream twice a day on the rash, Claritin 10 mg daily",
    ):
        f = heard(text, ["medications"])
        assert not f.allergies, text
        assert f.medications, text


def test_a_drug_named_as_an_allergen_is_not_also_a_medication() -> None:
    f = heard("penicillin, I break out in a rash", ["allergies"])
    assert {a.substance: a.reaction for a in f.allergies} == {"penicillin": "rash"}
    assert not f.medications


def test_a_medicine_taken_at_night_is_not_an_allergy() -> None:
    f = heard("The Benadryl I only take at night, 25 mg", ["medications"])
    assert not f.allergies and [m.name for m in f.medications] == ["benadryl"]


def test_no_allergies_is_none() -> None:
    f = heard("Nope, nothing I'm allergic to", ["allergies"])
    assert f.no_allergies and not f.allergies


@pytest.mark.parametrize("answer", ["Cut", "my back", "Refill", "annual physical", "follow-up for my knee"])
def test_the_answer_to_what_brings_you_in_is_the_chief_complaint_in_the_patients_words(answer: str) -> None:
    assert heard(answer, ["complaint"]).chief_complaint == answer


@pytest.mark.parametrize("answer", ["skip", "no", "yes"])
def test_a_decline_or_a_bare_yes_no_is_not_a_complaint(answer: str) -> None:
    assert heard(answer, ["complaint"]).chief_complaint == ""


def test_here_for_names_the_reason_in_any_message() -> None:
    f = heard("Insurance is Cigna ID CG0028817736 and I'm here for my left shoulder, it's aching", ["insurance"])
    assert "shoulder" in f.chief_complaint


def test_a_reaction_told_at_the_allergy_question_is_not_a_new_complaint() -> None:
    f = heard("Latex. Itchy rash.", ["allergies"])
    assert f.chief_complaint == "" and f.symptoms == []


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("bees", "bee venom", True),
        ("shrimp", "Shellfish", True),
        ("mold", "mould", True),
        ("dust mites", "House dust mite", True),
        ("tree pollen", "grass pollen", False),
        ("fish", "shellfish", False),
    ],
)
def test_same_allergen(a: str, b: str, same: bool) -> None:
    assert same_allergen(a, b) is same


def test_a_reaction_right_after_a_bare_allergen_is_its_reaction_whatever_was_asked() -> None:
    f = heard("Latex. Itchy rash.", ["medications"])
    assert {a.substance: a.reaction for a in f.allergies} == {"latex": "itching, rash"}
    assert f.symptoms == []


def test_breaks_me_out_is_allergy_talk() -> None:
    assert allergies("Sulfa. It breaks me out in hives all over.", ["medications", "allergies"]) == {
        "sulfa": "rash (all over), hives"
    }
