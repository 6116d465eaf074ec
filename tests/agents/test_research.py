"""Pure tests: age bands, the prompt, and the PHI check over many phrasings. No database."""

from datetime import date

import pytest

from agents.research import (
    PatientIdentifiers,
    age_band,
    phi_check,
    phi_refusal_message,
    research_prompt_build,
    research_question_default,
)

TODAY = date(2026, 11, 25)

IDS = PatientIdentifiers(
    given_name="Marisol",
    family_name="O'Connor-Quintana",
    birth_date=date(1958, 3, 7),
    mrn="MRN-0048213",
    phones=["(617) 555-0142"],
    emails=["marisol.oc@example.org"],
    addresses=["42 Juniper Hollow Road", "Springfield", "01103"],
    insurer_ids=["XQH 88213 04"],
)


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        (date(2026, 1, 1), "0-9"),
        (date(2016, 11, 26), "0-9"),  # turns 10 tomorrow
        (date(2016, 11, 25), "10-19"),  # birthday today
        (date(1986, 6, 1), "40-49"),
        (date(1937, 1, 1), "80-89"),
        (date(1936, 11, 26), "80-89"),  # 89 until tomorrow
        (date(1936, 11, 25), "90+"),
        (date(1921, 5, 5), "90+"),  # 105 is not shown either
    ],
)
def test_age_band(birth, band):
    assert age_band(birth, TODAY) == band


def _prompt(question: str) -> str:
    return research_prompt_build(
        age_band="60-69",
        sex="female",
        problems=["Essential hypertension (SNOMED CT 59621000)"],
        medications=["lisinopril 10 mg once daily", "metformin 500 mg twice daily"],
        question=question,
    )


def test_prompt_carries_only_allowed_fields():
    prompt = _prompt("Interactions between   lisinopril and NSAIDs?")
    assert "age band 60-69" in prompt
    assert "sex female" in prompt
    assert "- Essential hypertension (SNOMED CT 59621000)" in prompt
    assert "- metformin 500 mg twice daily" in prompt
    assert "Question: Interactions between lisinopril and NSAIDs?" in prompt
    assert phi_check(prompt, IDS) == []


def test_prompt_dedupes_and_marks_empty_lists():
    prompt = research_prompt_build(age_band="90+", sex="", problems=[], medications=["A", "a"], question="q")
    assert "- none recorded" in prompt
    assert prompt.count("- A") == 1
    assert "sex unknown" in prompt


def test_default_question_uses_coded_conditions_and_medications_only():
    q = research_question_default(problems=["Type 2 diabetes"], medications=["aspirin 81 mg", "clopidogrel 75 mg"])
    assert "Type 2 diabetes" in q
    assert "interactions among: aspirin 81 mg, clopidogrel 75 mg" in q
    assert research_question_default(problems=[], medications=[]) == "", "nothing to prefill: staff type it"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Guidance for Marisol with chest pain", "name"),
        ("guidance for MARISOL", "name"),
        ("what about o'connor-quintana's meds", "name"),
        ("Ms. Quintana, 67, chest pain", "name"),
        ("oconnor family history", None),  # joined form is not a whole-word token of the name
        ("Marísol reports dizziness", "name"),  # accents folded
        ("born 1958-03-07", "date of birth"),
        ("DOB 03/07/1958", "date of birth"),
        ("DOB 3/7/1958", "date of birth"),
        ("dob 07.03.1958", "date of birth"),
        ("dob 19580307", "date of birth"),
        ("born March 7, 1958", "date of birth"),
        ("born 7th of March 1958", "date of birth"),
        ("born mar 07 1958", "date of birth"),
        ("dob 03/07/58", "date of birth"),
        ("MRN-0048213 chest pain", "MRN"),
        ("record mrn0048213", "MRN"),
        ("record 0048213", "MRN"),
        ("record 004 8213", "MRN"),
        ("call 617-555-0142", "phone number"),
        ("call (617) 555 0142", "phone number"),
        ("call +1 617.555.0142", "phone number"),
        ("call 555-0142", "phone number"),
        ("email marisol.oc@example.org", "email address"),
        ("email MARISOL.OC@EXAMPLE.ORG", "email address"),
        ("lives at 42 Juniper Hollow Rd", "address"),  # street abbreviations are folded
        ("lives at 42 juniper hollow road", "address"),
        ("lives in Springfield", "address"),
        ("insurer XQH8821304", "insurer id"),
        ("member id xqh-88213-04", "insurer id"),
    ],
)
def test_phi_check_catches_identifiers_in_many_phrasings(question, kind):
    hits = phi_check(_prompt(question), IDS)
    if kind is None:
        assert hits == [] or "address" not in hits
    else:
        assert kind in hits


@pytest.mark.parametrize(
    "question",
    [
        "Interactions between lisinopril and ibuprofen?",
        "Metformin 500 mg and contrast: current guidance 2025",
        "Chest pain in women aged 60-69: evaluation pathway",
        "Is a dose of 1958 mg ever used?",  # a number that only looks like the birth year
        "Guidance from the March 2024 ACC update",
        "marigold allergy cross-reactivity",  # shares letters with the name, not a whole word
        "Review PMID 38213004",
    ],
)
def test_phi_check_lets_clinical_questions_through(question):
    assert phi_check(_prompt(question), IDS) == []


def test_short_name_tokens_are_ignored():
    ids = PatientIdentifiers(given_name="Al", family_name="Li")
    assert phi_check(_prompt("al li"), ids) == []
    ids = PatientIdentifiers(given_name="Ann", family_name="Ng")
    assert phi_check(_prompt("ann"), ids) == ["name"]


def test_synthea_digit_suffixes_are_stripped_from_names():
    ids = PatientIdentifiers(given_name="Blair354", family_name="Kuhn96")
    assert phi_check(_prompt("blair kuhn"), ids) == ["name"]


def test_refusal_message_names_kinds_never_values():
    hits = phi_check(_prompt("Marisol MRN-0048213"), IDS)
    message = phi_refusal_message(hits)
    assert "name" in message and "MRN" in message
    assert "Marisol" not in message and "0048213" not in message
    assert "Nothing was sent" in message
