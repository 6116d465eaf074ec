"""The offline model's allergy and medicine reading, one test per cause of a miss (branch h9a).

Each cause is shown on sentences written fresh for these rules, in other words than the scenario
cards that showed the miss (no card's sentence is copied here).
"""

from __future__ import annotations

import pytest

from gemini_emulator import extract, model, schema_fill


def _read(text: str, asked: list[str]) -> extract.Facts:
    facts = extract.Facts()
    extract.read_message(text, facts, 1, asked)
    return facts


def _meds(text: str, asked: tuple[str, ...] = ("medications",)) -> dict[str, tuple[str, bool]]:
    return {m.name: (m.dose, m.stopped) for m in _read(text, list(asked)).medications}


def _allergies(text: str, asked: tuple[str, ...] = ("allergies",)) -> dict[str, str]:
    return {a.substance: a.reaction for a in _read(text, list(asked)).allergies}


# A strength said without its unit takes the unit the medicine is labelled in; a name the drug library
# does not know, or a medicine labelled in several units, keeps the number without a unit.
@pytest.mark.parametrize(
    ("text", "name", "dose"),
    [
        ("carvedilol 12.5 twice a day", "carvedilol", "12.5 mg"),
        ("I take Lexapro 10.", "lexapro", "10 mg"),  # the sentence's full stop is not a decimal point
        ("Levoxyl 112 before breakfast", "levoxyl", "112 mcg"),  # thyroid hormone: micrograms
        ("Lantus 24 at bedtime", "lantus", "24 units"),
        ("the estradiol 0.5 every day", "estradiol", "0.5"),  # a patch (mcg) or a tablet (mg): not guessed
        ("amlodipine 5 mg daily", "amlodipine", "5 mg"),  # a unit said is kept
    ],
)
def test_a_bare_strength_takes_the_unit_its_label_uses(text: str, name: str, dose: str) -> None:
    assert _meds(text)[name][0] == dose


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my doctor prescribed Crestor but I never picked it up", "crestor"),
        ("I was supposed to start Farxiga but never got around to it", "farxiga"),
        ("They called in some doxycycline, I didn't get it filled.", "doxycycline"),
    ],
)
def test_a_medicine_never_picked_up_is_not_taken(text: str, name: str) -> None:
    assert _meds(text)[name][1] is True


@pytest.mark.parametrize(
    "text",
    [
        "The doctor gave me a prescription for meloxicam, I take it with breakfast.",
        "My GP gave me some samples of Linzess last month.",
        "The ER gave me a course of prednisone and I finished it.",
    ],
)
def test_a_medicine_someone_handed_over_is_no_allergy(text: str) -> None:
    facts = _read(text, ["medications"])
    assert facts.medications and not facts.allergies


@pytest.mark.parametrize(
    ("text", "name", "dose"),
    [
        ("Lexapro 10 mg. They raised it to 20 in March.", "lexapro", "20 mg"),  # the unit said before stays
        ("Gabapentin 300. My neurologist upped it to 600.", "gabapentin", "600 mg"),
        ("I'm on Zoloft. They cut the dose to 25 milligrams.", "zoloft", "25 mg"),
    ],
)
def test_a_dose_change_said_after_the_name_reaches_back(text: str, name: str, dose: str) -> None:
    assert _meds(text)[name][0] == dose


@pytest.mark.parametrize(
    "text",
    [
        "Nope, nothing that I'm aware of. Never reacted to any medicine.",
        "Not that I know of. I've never had an allergic reaction to anything.",
        "No, nothing I can think of.",
        "I'm not allergic to any medications.",
    ],
)
def test_no_allergies_said_many_ways(text: str) -> None:
    facts = _read(text, ["allergies"])
    assert facts.no_allergies and not facts.allergies


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My daughter is allergic to peanuts but I'm not", {}),
        ("My husband has a shellfish allergy. Nothing for me.", {}),
        ("Codeine, same as my mother", {"codeine": ""}),  # the patient's own, told beside a relative
    ],
)
def test_a_relatives_allergy_is_not_the_patients(text: str, expected: dict[str, str]) -> None:
    assert _allergies(text) == expected


@pytest.mark.parametrize(
    ("text", "substance", "reaction"),
    [
        ("Sulfa, my whole face puffed up", "sulfa", "swelling (face)"),
        ("Amoxicillin, my eyes ballooned", "amoxicillin", "swelling (eyes)"),
        ("Dairy messes up my stomach", "dairy", "stomach upset"),
        ("Eggs tear up my stomach", "eggs", "stomach upset"),
    ],
)
def test_reactions_in_everyday_words(text: str, substance: str, reaction: str) -> None:
    assert _allergies(text)[substance] == reaction


@pytest.mark.parametrize(
    ("text", "substance", "reaction", "gone"),
    [
        ("Cipro gave me a rash. Sorry, I mean Levaquin.", "levaquin", "rash", "cipro"),
        ("Keflex, it made me itchy. No wait, it was Bactrim.", "bactrim", "itching", "keflex"),
        ("Latex makes me sneeze. Actually no, it was the dust.", "dust", "sneezing", "latex"),
    ],
)
def test_a_self_corrected_allergen_replaces_the_slip(text: str, substance: str, reaction: str, gone: str) -> None:
    got = _allergies(text)
    assert got.get(substance) == reaction and gone not in got


def test_a_question_about_allergies_to_medicines_is_about_allergies() -> None:
    assert extract.topics_of("Do you have any allergies to medications or foods?") == ["allergies"]
    assert extract.topics_of("Are you allergic to any drugs?") == ["allergies"]
    assert "medications" in extract.topics_of("Which medicines do you take, and any allergies?")


@pytest.mark.parametrize(
    ("text", "asked", "med"),
    [
        ("Zyrtec, it makes me feel a lot better", ("medications", "allergies"), "zyrtec"),
        ("Benadryl when I get hives", ("allergies",), "benadryl"),
        ("Tylenol for my headaches, it helps", ("medications", "allergies"), "tylenol"),
    ],
)
def test_what_a_medicine_is_used_for_is_no_allergy(text: str, asked: tuple[str, ...], med: str) -> None:
    facts = _read(text, list(asked))
    assert med in {m.name for m in facts.medications} and not facts.allergies


def test_a_time_after_when_is_no_indication() -> None:
    # "when I was little" / "when I had my wisdom teeth out" say when, not what it is for
    assert _allergies("Codeine when I had my wisdom teeth out, I threw up all night") == {"codeine": "vomiting"}
    assert _allergies("Penicillin when I was a baby, I swelled up", ("medications", "allergies")) == {
        "penicillin": "swelling"
    }


@pytest.mark.parametrize(
    ("text", "substance"),
    [
        ("Eggs when I was little but I grew out of it", "eggs (outgrown)"),
        ("I used to be allergic to amoxicillin", "amoxicillin (outgrown)"),
        ("strawberries, not anymore", "strawberries (outgrown)"),
    ],
)
def test_an_outgrown_allergy_says_so(text: str, substance: str) -> None:
    assert substance in _allergies(text)


def test_one_allergen_told_twice_is_one_entry() -> None:
    (one,) = _allergies("I'm lactose intolerant, dairy gives me cramps")  # one entry, both names kept
    assert "lactose" in one and "dairy" in one
    assert len(_allergies("Bee stings. Bees make me swell up.")) == 1


def test_the_chart_read_back_knows_brand_and_generic_are_one_drug() -> None:
    assert schema_fill._same_drug("Tylenol", "Acetaminophen 325 MG Oral Tablet")
    assert schema_fill._same_drug("motrin", "Ibuprofen 200 MG Oral Tablet")
    assert not schema_fill._same_drug("motrin", "Lisinopril 10 MG Oral Tablet")


@pytest.mark.parametrize(
    ("text", "same"),
    [
        ("the same ones you have on file", True),
        ("whatever you've got on file", True),
        ("whatever's in my chart", True),
        ("I'm not sure what you have on file", False),
        ("I filed it last year", False),
    ],
)
def test_same_as_the_chart_phrasings(text: str, same: bool) -> None:
    assert bool(model.SAME_AS_CHART_RE.search(text)) is same


@pytest.mark.parametrize(
    ("text", "substance", "reaction"),
    [
        ("Codeine made me see things, I was hallucinating", "codeine", "hallucinations"),
        ("Naproxen, it made my stomach bleed", "naproxen", "bleeding"),
        ("Neomycin blistered my skin", "neomycin", "blisters"),
    ],
)
def test_more_reactions_in_everyday_words(text: str, substance: str, reaction: str) -> None:
    assert _allergies(text).get(substance, "").startswith(reaction)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I quit the gabapentin, it made me so dizzy", "gabapentin"),
        ("Stopped the metformin because it gave me the runs", "metformin"),
        ("I don't take the amitriptyline anymore, it made me groggy", "amitriptyline"),
    ],
)
def test_a_medicine_stopped_for_a_side_effect_is_a_stopped_medicine(text: str, name: str) -> None:
    facts = _read(text, ["medications"])
    assert _meds(text)[name][1] is True and not facts.allergies


@pytest.mark.parametrize(
    ("text", "name", "dose"),
    [
        ("Naproxen, I take two of the 250s", "naproxen", "500 mg"),
        ("Zoloft, half of the 100 now", "zoloft", "50 mg"),
        ("Keppra, three of the five hundreds a day", "keppra", "1500 mg"),
        ("magnesium 250 with dinner", "magnesium", "250 mg"),  # a supplement sold by its mg
        ("melatonin 5 at bedtime", "melatonin", "5 mg"),
    ],
)
def test_counts_of_a_strength_and_supplements(text: str, name: str, dose: str) -> None:
    assert _meds(text)[name][0] == dose


@pytest.mark.parametrize(
    "text",
    ["I had iron deficiency last year", "My potassium was low last month", "they found vitamin D deficiency"],
)
def test_a_substance_named_as_a_condition_is_no_medicine(text: str) -> None:
    assert _meds(text) == {}


@pytest.mark.parametrize(
    ("text", "substance"),
    [
        ("dander from dogs makes me sneeze", "dog dander"),
        ("pollen off the grass", "grass pollen"),
        ("the latex in balloons makes my lips swell", "latex"),  # a part of the other thing: one allergen
        ("the adhesive in bandages gives me a rash", "adhesive"),
    ],
)
def test_an_allergen_named_by_its_source_or_its_carrier(text: str, substance: str) -> None:
    assert list(_allergies(text)) == [substance]


def test_a_medicine_named_by_its_form_meets_the_charts_one_entry_of_that_form() -> None:
    assert "skin cream" in _meds("I put the ointment on my elbows at night")
    assert schema_fill._same_drug("skin cream", "Triamcinolone Acetonide 1 MG/G Topical Ointment")
    assert not schema_fill._same_drug("skin cream", "Loratadine 10 MG Oral Tablet")


@pytest.mark.parametrize(
    ("text", "same"),
    [
        ("same meds", True),
        ("The same pills as always.", True),
        ("Nothing has changed", True),
        ("no change in my pain", False),
        ("I had the same pain last year", False),
    ],
)
def test_same_as_before_in_short_answers(text: str, same: bool) -> None:
    assert bool(model.SAME_AS_CHART_RE.search(text)) is same


@pytest.mark.parametrize(
    ("text", "substance", "reactions"),
    [
        ("dogs n cats make my eyes itch and my nose runs", "animal dander (dogs, cats)", ("itching", "runny nose")),
        ("Shellfish gives me hives and my lips swell", "shellfish", ("hives", "swelling (lips)")),
        ("cats and dogs, I sneeze and my eyes water", "animal dander (cats, dogs)", ("sneezing", "watery eyes")),
    ],
)
def test_animals_told_together_are_one_allergen_with_every_reaction(
    text: str, substance: str, reactions: tuple[str, ...]
) -> None:
    got = _allergies(text)
    assert list(got) == [substance] and all(r in got[substance] for r in reactions), got


@pytest.mark.parametrize(
    ("text", "substance"),
    [("I outgrew the egg thing in grade school", "egg (outgrown)"), ("grew out of my milk allergy", "milk (outgrown)")],
)
def test_an_outgrown_allergen_told_after_the_cue(text: str, substance: str) -> None:
    assert substance in _allergies(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Peanuts for sure. So maybe tree nuts too?", {"peanuts", "tree nuts"}),
        ("I think it was sulfa?", {"sulfa"}),
        ("Is latex a problem for the gloves?", set()),  # a real question names nothing they react to
    ],
)
def test_a_guess_with_a_question_mark_is_still_told(text: str, expected: set[str]) -> None:
    assert set(_allergies(text)) == expected
