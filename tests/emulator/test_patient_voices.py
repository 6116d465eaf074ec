"""The offline model's reading of voices the first cards lacked: someone answering for a parent
(he/his/her), non-native English ("I not smoke"), texting shorthand, a name given with the birth
date and nothing else, plain words for operations and old injuries, lay words for urinary
symptoms, and more about the problem told while another question was asked. Pure: no server."""

from __future__ import annotations

import pytest

from gemini_emulator.extract import Facts, read_message, topics_of

PAST_Q = "Could you tell me about past illnesses, ongoing conditions and surgeries?"
SOCIAL_Q = "Could you tell me about tobacco use, alcohol use and occupation?"
REASON_Q = "Could you tell me what brings you in today?"
MEDS_Q = "Could you tell me which medications you take now, with dose and frequency?"
ALLERGY_Q = "Could you tell me about allergies to medicines, foods or other things and the reactions?"
FAMILY_Q = "Could you tell me about illnesses that run in your family?"


def read(text: str, question: str = "", facts: Facts | None = None) -> Facts:
    asked = topics_of(question) if question else []
    return read_message(text, facts or Facts(), 1, asked, context=question, prior=Facts())


# --- identity ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "dob"),
    [
        ("Aiko Tanaka, 2 May 1984", "Aiko Tanaka", "1984-05-02"),
        ("Marcus de Souza - born 7/19/1971", "Marcus De Souza", "1971-07-19"),
        ("Anna van der Berg, 22 August 1990", "Anna Van Der Berg", "1990-08-22"),
        ("hi its jen walsh dob 10/3/92", "Jen Walsh", "1992-10-03"),
        ("this is omar haddad born 1/30/1966", "Omar Haddad", "1966-01-30"),
        ("Her name is Rosa Delgado, she was born March 3rd 1949", "Rosa Delgado", "1949-03-03"),
        ("I'm filling this in for my father. His name is Walter Price, DOB 04/11/1944", "Walter Price", "1944-04-11"),
        ("My husband's name is Ken Ito and he was born on 12 June 1958", "Ken Ito", "1958-06-12"),
    ],
)
def test_a_name_said_with_the_birth_date_or_for_someone_else_is_the_name(text: str, name: str, dob: str) -> None:
    facts = read(text)
    assert (facts.name, facts.dob) == (name, dob)


@pytest.mark.parametrize(
    "text",
    ["Sore Throat, since 3/4/2025", "Left Knee Pain 2/2/2025", "Headache And Fever, 6/1/2024"],
)
def test_a_complaint_before_a_date_is_no_name(text: str) -> None:
    assert read(text).name == ""


# --- habits and work -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I not smoke, never",
        "she dont smoke and dont drink",
        "He does not smoke cigarettes",
        "me no smoking, no alcohol",
    ],
)
def test_not_smoking_in_plain_or_broken_english_is_a_non_smoker(text: str) -> None:
    assert read(text, SOCIAL_Q).tobacco == "never smoker"


def test_not_having_smoked_for_years_is_a_former_smoker() -> None:
    assert read("I haven't smoked in six years", SOCIAL_Q).tobacco == "former smoker"
    assert read("he has not had a cigarette since 2015", SOCIAL_Q).tobacco.startswith(("former", "never"))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Social smoker, mostly when I'm out with friends", "social"),
        ("I'll have the odd cigarette at weddings", "the odd cigarette"),
        ("smoke occasionally, maybe a pack a month", "occasionally"),
        ("he vapes now and then", "now and then"),
    ],
)
def test_how_little_a_light_smoker_smokes_is_kept(text: str, words: str) -> None:
    tobacco = read(text, SOCIAL_Q).tobacco
    assert tobacco.startswith(("current smoker", "vapes")) and words in tobacco, tobacco


@pytest.mark.parametrize(
    ("text", "job"),
    [
        ("She's a cashier at the grocery store", "cashier"),
        ("he works as a forklift driver", "forklift driver"),
        ("my mom is retired, she used to be a nurse", "retired nurse"),
        ("He's retired now. He was an electrician for forty years", "retired electrician"),
        ("I used to be a carpenter but I'm on disability now", "carpenter"),
    ],
)
def test_work_told_in_the_third_person_or_as_a_former_job(text: str, job: str) -> None:
    assert job in read(text, SOCIAL_Q).occupation


def test_being_retired_from_a_named_job_keeps_the_job() -> None:
    assert read("She is a retired postal worker", SOCIAL_Q).occupation == "retired postal worker"


# --- past history ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("she had her tonsils taken out as a girl", "tonsils"),
        ("he had an operation on his hernia in 2019", "hernia"),
        ("Appendix removed when I was twelve", "appendix"),
        ("my knee replaced two years ago", "knee"),
        ("Before I have surgery for gallbladder", "gallbladder"),
        ("asthma, and a knee operation in 2011, I don't smoke and I'm a cook", "knee operation"),
        ("she had bowel surgery last spring", "bowel surgery"),
    ],
)
def test_an_operation_in_plain_words_is_past_history(text: str, word: str) -> None:
    facts = read(text, PAST_Q)
    assert any(word in s for s in facts.surgeries + facts.conditions), (facts.surgeries, facts.conditions)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("I fractured my collarbone falling off a bike when I was ten", "collarbone"),
        ("tore a ligament in my shoulder playing rugby at school, years ago", "ligament"),
        ("Dislocated my kneecap as a teenager, nothing since", "kneecap"),
    ],
)
def test_an_old_injury_told_with_when_it_happened_is_kept_whole(text: str, word: str) -> None:
    assert any(word in c for c in read(text, PAST_Q).conditions)


def test_otherwise_healthy_is_not_an_illness() -> None:
    facts = read("broke my arm as a kid, otherwise healthy", PAST_Q)
    assert not any("healthy" in c for c in facts.conditions)


# --- the reason for the visit and its story ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I keep having to pee at night, like four times",
        "it burns when I pee",
        "he's been peeing a lot and he's always thirsty",
        "trouble urinating and a weak stream",
        "some leaking urine when I cough or laugh",
    ],
)
def test_urinary_symptoms_in_lay_words_are_symptoms(text: str) -> None:
    facts = read(text, REASON_Q)
    assert any("urinary" in s for s in facts.symptoms), facts.symptoms
    assert facts.chief_complaint


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("the rash is itchy and worse after a hot shower", "shower"),
        ("the headache is worse in the mornings, and bright light bothers me", "light"),
        ("It's swollen around the joint and stiff when I wake up", "stiff"),
    ],
)
def test_more_about_the_problem_told_at_another_question_is_kept(text: str, word: str) -> None:
    facts = read(text, MEDS_Q, Facts(chief_complaint="the problem"))
    assert word in " ".join(facts.hpi_notes), facts.hpi_notes
    assert facts.medications == [] and not facts.no_medications


def test_a_medicine_told_at_the_medicines_question_is_not_the_story() -> None:
    facts = read("I take ibuprofen when the swelling is bad at night", MEDS_Q, Facts(chief_complaint="knee"))
    assert not any("ibuprofen" in n for n in facts.hpi_notes)


# --- bare answers to the question that was asked -----------------------------------------------------


@pytest.mark.parametrize("text", ["None", "Nope.", "none that I know", "nothing"])
def test_none_to_the_allergy_question_is_no_allergies_not_no_medicines(text: str) -> None:
    facts = read(text, ALLERGY_Q)
    assert facts.no_allergies and not facts.no_medications


@pytest.mark.parametrize("text", ["skip", "I'd rather not say", "pass"])
def test_a_decline_at_the_allergy_question_declines_allergies(text: str) -> None:
    assert read(text, ALLERGY_Q).declined == ["allergies"]


# --- insurance and family history in the patient's words -------------------------------------------

INSURANCE_Q = "Could you tell me the insurance payer and member ID?"


@pytest.mark.parametrize(
    ("text", "payer"),
    [
        ("Humana Medicare, H5521 0098 12", "Humana Medicare"),
        ("it's the wellcare medicaid plan", "Wellcare Medicaid"),
        ("Aetna / Medicare, AB1234567", "Aetna / Medicare"),
    ],
)
def test_a_company_plan_of_a_public_program_keeps_both_names(text: str, payer: str) -> None:
    assert read(text, INSURANCE_Q).insurer == payer


@pytest.mark.parametrize(
    "text",
    [
        "I don't have insurance at the moment",
        "uninsured, I'll pay cash",
        "self pay",
        "No health insurance, paying out of pocket",
    ],
)
def test_having_no_insurance_is_recorded_as_self_pay_not_left_open(text: str) -> None:
    facts = read(text, INSURANCE_Q)
    assert facts.insurer == "none (self-pay)" and facts.declined == []


def test_no_insurance_card_at_hand_is_not_being_uninsured() -> None:
    assert read("no insurance card with me, but it's Cigna", INSURANCE_Q).insurer == "Cigna"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("my grandpa had a heart attack in his fifties", "heart attack"),
        ("Mum has high blood pressure", "high blood pressure"),
        ("my uncle had a mini stroke last year", "mini stroke"),
    ],
)
def test_a_relatives_illness_keeps_the_patients_words_beside_the_clinical_name(text: str, words: str) -> None:
    family = read(text, FAMILY_Q).family
    assert family and words in family[0].condition, family


# --- what a short answer answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["nothing I know of", "nothin i know of", "not that I'm aware of", "nothing to report", "None known"]
)
def test_nothing_known_to_the_family_question_is_no_family_history(text: str) -> None:
    facts = read(text, FAMILY_Q)
    assert facts.no_family_history and facts.family == []


def test_the_clinicians_name_for_the_story_of_the_problem_is_not_past_history() -> None:
    topics = topics_of("Could you tell me your history of present illness again, briefly?")
    assert "history" not in topics and "onset" in topics
    facts = read("about ten days, since I moved the couch, worse bending", "Tell me the history of the present illness")
    assert facts.conditions == [] and "couch" in " ".join(facts.hpi_notes)


def _steps(*pairs: tuple[str, str]) -> list[dict]:
    steps: list[dict] = []
    for model, user in pairs:
        steps.append({"type": "model_output", "content": [{"type": "text", "text": model}]})
        steps.append({"type": "user_input", "content": [{"type": "text", "text": user}]})
    return steps


def test_is_that_still_correct_after_a_read_back_is_about_what_was_asked_before() -> None:
    from gemini_emulator.extract import read_conversation

    facts = read_conversation(
        _steps(
            (PAST_Q, "oh and shellfish too"),
            ("Your record lists Chronic sinusitis and Gout. Is that still correct?", "Gout yes, and my bad knees"),
        )
    )
    assert any("knees" in c for c in facts.conditions), facts.conditions


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("since the weekend, worse in the evening, nothing helps", "evening"),
        ("for about a week now, mostly after meals, 5 out of 10", "meals"),
        ("it began on Tuesday after I moved house, mostly at night", "moved"),
    ],
)
def test_the_story_of_the_problem_without_a_symptom_word_is_kept_at_another_question(text: str, word: str) -> None:
    facts = read(text, MEDS_Q, Facts(chief_complaint="the problem"))
    assert word in " ".join(facts.hpi_notes), facts.hpi_notes


def test_how_long_a_medicine_has_been_taken_is_no_story() -> None:
    assert read("I've been taking it since March", MEDS_Q, Facts(chief_complaint="x")).hpi_notes == []


@pytest.mark.parametrize("text", ["Oscar Delgado, 8/30/61", "I'm Cigna Ruiz, born 4/4/1980"])
def test_a_name_that_is_also_an_insurers_is_no_insurance(text: str) -> None:
    facts = read(text)
    assert facts.name and facts.insurer == ""


# --- from the dev cards' causes: contact, insurance, habits, work and the story, in fresh words -------

CONTACT_Q = "Could you tell me the best phone number and email to reach you?"
HPI_Q = "Could you tell me when the problem started, how severe it is, and whether it is getting better or worse?"


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    ("text", "member"),
    [
        ("Cigna, four four two one nine eight seven seven six", "442198776"),
        ("it's Aetna and the number is seven seven oh one two two three four", "77012234"),
        ("Humana, member ID double four nine, one two three, eight eight", "44912388"),
    ],
)
def test_a_member_id_read_out_in_words_is_the_member_id_not_the_phone(text: str, member: str) -> None:
    facts = read(text, INSURANCE_Q)
    assert _digits(facts.member_id) == member and facts.phone == ""


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("phone 312 44 09 15 76", "31244091576"),
        ("my mobile is 415 82 93 11 07", "41582931107"),
        ("call me: 718 9 44 21 330", "7189442133" + "0"),
    ],
)
def test_a_phone_in_any_grouping_is_read_when_the_message_is_about_a_phone(text: str, digits: str) -> None:
    assert _digits(read(text, CONTACT_Q).phone) == digits


def test_digit_groups_in_an_insurance_answer_stay_a_member_id() -> None:
    facts = read("Kaiser, 0039 4471 22", INSURANCE_Q)
    assert facts.phone == "" and facts.member_id == "0039 4471 22"


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("sorry, the last four digits are 8812", "617-555-8812"),
        ("oops it ends in 0491 not 0419", "617-555-0491"),
        ("my bad, it's 19 at the end", "617-555-0419"),
    ],
)
def test_a_fix_to_the_end_of_the_phone_changes_the_phone_given(text: str, fixed: str) -> None:
    facts = read_message(text, Facts(), 2, topics_of(CONTACT_Q), context=CONTACT_Q, prior=Facts(phone="617-555-0491"))
    assert facts.phone == fixed


@pytest.mark.parametrize("text", ["email - none", "e-mail I don't use", "Email: n/a. Phone is fine"])
def test_no_email_said_the_other_way_round(text: str) -> None:
    facts = read(text, CONTACT_Q)
    assert facts.no_email and facts.declined == []


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("hookah on weekends with my cousins", "hookah"),
        ("a cigar now and then", "cigar"),
        ("he smokes a pipe most evenings", "pipe"),
    ],
)
def test_tobacco_other_than_cigarettes_is_tobacco(text: str, word: str) -> None:
    tobacco = read(text, SOCIAL_Q).tobacco
    assert tobacco.startswith("current smoker") and word in tobacco, tobacco


def test_nobody_smoking_at_home_is_no_tobacco_and_no_drink() -> None:
    facts = read("he's 4. no one smokes in the house. he goes to preschool", SOCIAL_Q)
    assert facts.tobacco.startswith("never smoker") and facts.alcohol == ""
    assert "preschool" in facts.occupation


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("a six pack on saturdays", "six pack"),
        ("a glass of sherry at christmas", "sherry"),
        ("soju with dinner sometimes", "soju"),
        ("tequila shots at parties", "tequila"),
    ],
)
def test_drinks_by_name_are_alcohol_and_a_six_pack_is_no_tobacco(text: str, word: str) -> None:
    facts = read(text, SOCIAL_Q)
    assert word in facts.alcohol.lower() and facts.tobacco == "" and facts.occupation == ""


@pytest.mark.parametrize(
    ("text", "tobacco", "alcohol"),
    [
        ("cigarettes never, alcohol no, I teach", "never smoker", "does not drink alcohol"),
        ("smoking: no. drinking: no.", "never smoker", "does not drink alcohol"),
        ("tobacco none, alcohol never", "never smoker", "does not drink alcohol"),
    ],
)
def test_a_habit_named_then_denied(text: str, tobacco: str, alcohol: str) -> None:
    facts = read(text, SOCIAL_Q)
    assert (facts.tobacco, facts.alcohol) == (tobacco, alcohol)


@pytest.mark.parametrize(
    ("text", "job"),
    [
        ("I'm the store manager now", "store manager"),
        ("she's in 5th grade", "5th grade"),
        ("Retired.", "retired"),
        ("he is in kindergarten", "kindergarten"),
    ],
)
def test_work_said_as_a_role_a_school_year_or_a_bare_status(text: str, job: str) -> None:
    assert job in read(text, SOCIAL_Q).occupation


@pytest.mark.parametrize("text", ["2 weeks", "about 5 days now", "3 months."])
def test_a_duration_answering_the_story_question_is_no_severity(text: str) -> None:
    facts = read(text, HPI_Q)
    assert facts.severity_score is None and facts.onset


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("4 days, getting worse", "4 days"),
        ("two weeks maybe, hard to say", "two weeks"),
        ("About 3 months. Worse in the cold.", "3 months"),
    ],
)
def test_a_bare_duration_opening_an_answer_is_the_onset(text: str, duration: str) -> None:
    assert duration in read(text, HPI_Q).onset


def test_the_reason_without_when_it_started_leaves_the_story_question_open() -> None:
    # The description alone does not settle the story: when it started is still to be asked.
    for text in ("my wrist hurts, swollen and bruised", "I get dizzy whenever I stand up fast"):
        assert read(text, REASON_Q).hpi_notes == []


def test_the_story_told_at_another_question_uses_the_problem_known_from_earlier_messages() -> None:
    text = "five days now, worse when I lie down"
    facts = read_message(text, Facts(), 6, topics_of(MEDS_Q), context=MEDS_Q, prior=Facts(chief_complaint="cough"))
    assert "lie down" in " ".join(facts.hpi_notes)


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("mum has early dementia", "dementia"),
        ("history of vascular dementia and a stroke", "dementia"),
        ("my grandfather had Alzheimer's", "alzheimer's disease"),
    ],
)
def test_dementia_is_not_named_alzheimers(text: str, condition: str) -> None:
    facts = read(text, PAST_Q)
    said = facts.conditions + [f.condition for f in facts.family]
    assert any(c.startswith(condition) for c in said), said
    if condition == "dementia":
        assert not any("alzheimer" in c for c in said)


@pytest.mark.parametrize(
    ("text", "condition"), [("my sister is diabetic", "type 2 diabetes"), ("dad has asthma", "asthma")]
)
def test_a_relatives_illness_said_by_its_clinical_name_or_an_inflection_adds_nothing(text: str, condition: str) -> None:
    assert [f.condition for f in read(text, FAMILY_Q).family] == [condition]
