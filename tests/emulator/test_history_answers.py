"""The offline model's reading of history answers: the illness in the patient's words, past and
family history the vocabulary does not name, habits and jobs said in a word or two, member IDs read
out in groups, and declines of one part of a several-part question. Pure extraction: no server."""

from __future__ import annotations

import pytest

from gemini_emulator.extract import Facts, read_message, topics_of

HPI_Q = "When did this start, how bad is it, and is it getting better or worse?"
PAST_Q = "What past illnesses, ongoing conditions or surgeries have you had?"
FAMILY_Q = "Do any illnesses run in your family?"
SOCIAL_Q = "Do you use tobacco or alcohol, and what is your occupation?"
CONTACT_Q = "What is the best phone number and email to reach you?"
INSURANCE_Q = "What insurance do you have, and what is your member ID?"


def read(text: str, question: str) -> Facts:
    return read_message(text, Facts(), 1, topics_of(question), context=question, prior=Facts())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("since march, worse outside, nothing helps much", ["march", "outside", "helps"]),
        ("three weeks now, dry, worse at night, no fever", ["three weeks", "dry", "night", "no fever"]),
        ("Four days ago. Worse at night, drinking lots of water helps a bit.", ["four days", "night", "water"]),
        ("about two weeks, since I was painting the fence. hurts more when I lift my arm", ["two weeks", "lift"]),
        ("right knee aches when I climb stairs, been like 2 months, slowly worse", ["stairs", "2 months", "worse"]),
    ],
)
def test_the_illness_is_kept_in_the_patients_words(text: str, words: list[str]) -> None:
    notes = " ".join(read(text, HPI_Q).hpi_notes).lower()
    assert all(w in notes for w in words), notes


def test_a_message_with_nothing_about_the_illness_adds_no_notes() -> None:
    assert read("I think I've told you everything.", HPI_Q).hpi_notes == []


def test_habits_and_other_topics_stay_out_of_the_illness_notes() -> None:
    notes = " ".join(read("started monday. I take ibuprofen 400 and I smoke", HPI_Q).hpi_notes).lower()
    assert "monday" in notes and "ibuprofen" not in notes and "smoke" not in notes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("miscarriage in 2023", "miscarriage"),
        ("Weight, the doctor keeps telling me. And the allergies", "allergies"),
        ("diabetes, allergies, and I had my tubes tied", "tubes tied"),
        ("high blood pressure and a fast heartbeat they found in 2020", "fast heartbeat"),
    ],
)
def test_past_history_the_vocabulary_does_not_name(text: str, expected: str) -> None:
    f = read(text, PAST_Q)
    assert any(expected in c.lower() for c in f.conditions + f.surgeries), f.conditions
    assert not any("doctor" in c.lower() for c in f.conditions)


@pytest.mark.parametrize(
    "text",
    [
        "I think I've told you everything.",
        "no cigarettes, beer on weekends, mail carrier",
        "oh I forgot to say",
        "wheat and cats",
    ],
)
def test_fillers_and_habits_are_not_past_history(text: str) -> None:
    assert read(text, PAST_Q).conditions == []


def test_nothing_big_is_no_past_history() -> None:
    f = read("nothing big", PAST_Q)
    assert f.no_history and f.conditions == []


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("my mom and my aunt both had diabetes", {("mother", "type 2 diabetes"), ("aunt", "type 2 diabetes")}),
        (
            "brother has diabetes, mom had a heart attack at 70",
            {("brother", "type 2 diabetes"), ("mother", "myocardial infarction (heart attack)")},
        ),
        ("my mom has back problems too", {("mother", "back problems")}),
        ("dad has eczema", {("father", "eczema")}),
        ("my mom had trouble getting pregnant too, and diabetes", {("mother", "type 2 diabetes")}),
    ],
)
def test_family_history_goes_to_the_right_relative(text: str, pairs: set[tuple[str, str]]) -> None:
    f = read(text, FAMILY_Q)
    assert pairs <= {(x.relation, x.condition) for x in f.family}
    assert f.conditions == []  # the relatives' illnesses are not the patient's


@pytest.mark.parametrize(
    ("text", "tobacco", "alcohol", "occupation"),
    [
        ("Smoked in my 20s, quit. Wine with dinner sometimes. Accountant", "former", "wine", "accountant"),
        ("No, no, I'm a barber", "does not", "does not", "barber"),
        ("Retired mailman", "", "", "retired mailman"),
        ("never smoked, glass of wine on fridays, I work retail", "never", "wine", "retail"),
        ("no smoking, rarely drink, teacher", "never", "rarely", "teacher"),
        ("No. No. Retired.", "does not", "does not", "retired"),
        ("no. sometimes. student", "does not", "sometimes", "student"),
        (
            "I smoke a few cigarettes when I'm stressed, no alcohol, dental hygienist",
            "current",
            "does not",
            "dental hygienist",
        ),
        ("no, glass of wine at night, I clean houses", "does not", "wine", "i clean houses"),
    ],
)
def test_habits_and_work_in_few_words(text: str, tobacco: str, alcohol: str, occupation: str) -> None:
    f = read(text, SOCIAL_Q)
    assert tobacco in f.tobacco and (f.tobacco != "") == bool(tobacco)
    assert alcohol in f.alcohol.lower() and (f.alcohol != "") == bool(alcohol)
    assert f.occupation == occupation
    assert "smok" not in f.alcohol


def test_one_word_answers_read_against_the_question() -> None:
    assert read("Rarely.", "Could you tell me your alcohol use and occupation again?").alcohol == "drinks rarely"
    assert read("Cashier.", "Could you tell me your occupation again?").occupation == "cashier"
    assert read("Dizzy.", "What brings you in today?").occupation == ""


@pytest.mark.parametrize(
    ("text", "declined"),
    [
        ("never smoked. pass. I drive a bus", ["alcohol"]),
        ("Quit smoking 10 years ago. Drinking, nah, I'll leave that one. Retired mailman", ["alcohol"]),
        ("don't smoke. I'll skip the drinking question. And I'd rather not say what I do", ["alcohol", "occupation"]),
    ],
)
def test_a_decline_covers_the_part_it_names_or_leaves_open(text: str, declined: list[str]) -> None:
    f = read(text, SOCIAL_Q)
    assert sorted(f.declined) == declined
    for part in declined:
        assert getattr(f, part) == ""  # a declined habit is not also described


@pytest.mark.parametrize(
    ("text", "declined"),
    [
        ("pass on the email", ["email"]),
        ("I don't give my phone number out. Email is fine, odelgado61@example.com", ["phone"]),
        ("skip", ["email", "phone"]),
        ("no email please", ["email"]),
        ("phone is 555-246-1499. I don't want to give my email", ["email"]),
    ],
)
def test_contact_declines(text: str, declined: list[str]) -> None:
    assert sorted(read(text, CONTACT_Q).declined) == declined


@pytest.mark.parametrize(
    ("text", "payer", "member"),
    [
        ("Kaiser, 0039 4471 22", "Kaiser", "0039 4471 22"),
        ("Anthem, ANT 448 220 913", "Anthem", "ANT 448 220 913"),
        ("GEHA, 3309 8821 04", "GEHA", "3309 8821 04"),
        ("my insurance is Oxford Freedom, ID 99812-A", "Oxford Freedom", "99812-A"),
        ("Tricare, 8840021937", "Tricare", "8840021937"),
        ("Aetna, W 3381 0092 71", "Aetna", "W 3381 0092 71"),
        ("UnitedHealthcare, UHC 90017723", "UnitedHealthcare", "UHC 90017723"),
        ("Oxford, member 7712-09-3345", "Oxford", "7712-09-3345"),
    ],
)
def test_member_ids_read_out_in_groups(text: str, payer: str, member: str) -> None:
    f = read(text, INSURANCE_Q)
    assert f.insurer.startswith(payer) and f.member_id == member and f.phone == ""


def test_a_phone_number_is_not_a_member_id() -> None:
    f = read("Kaiser, call me at 555-222-8465", INSURANCE_Q)
    assert f.member_id == "" and f.phone == "555-222-8465"


def test_yes_to_the_charts_conditions_records_them() -> None:
    q = "Your record lists Body mass index 30+ - obesity and Perennial allergic rhinitis. Is that still correct?"
    f = read("yes, that's right", q)
    assert f.conditions == ["Body mass index 30+ - obesity", "Perennial allergic rhinitis"]
    assert read("no", q).conditions == []


def test_the_reason_told_with_its_story_fills_the_illness() -> None:
    notes = read("Yesterday. Kitchen knife, left hand. Still oozing a little", "What brings you in today?").hpi_notes
    assert " ".join(notes).lower().count("knife") == 1 and "yesterday" in " ".join(notes).lower()
