"""The offline model on phrasing of its own: replies after a chart lookup, spoken chart labels,
insurer names, onset phrases and which chart items a structured summary may contain."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from gemini_emulator import model
from gemini_emulator.extract import Facts, read_message

EHR = {
    "type": "function",
    "name": "ehr_lookup",
    "description": "Look up sections of the patient's electronic health record.",
    "parameters": {
        "type": "object",
        "properties": {
            "sections": {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": ["demographics", "medications", "allergies", "problems", "coverage"],
                },
            }
        },
        "required": ["sections"],
    },
}


def user(text: str) -> dict:
    return {"type": "user_input", "content": [{"type": "text", "text": text}]}


def said(text: str) -> dict:
    return {"type": "model_output", "content": [{"type": "text", "text": text}]}


def text_of(result: model.ModelResult) -> str:
    return "".join(c["text"] for s in result.steps if s["type"] == "model_output" for c in s["content"])


def system(instruction: str) -> str:
    return f"You are the practice's intake helper. Keep it short.\nNext: {instruction}"


def after_lookup(history: list[dict], message: str, instruction: str, chart: dict) -> str:
    """One patient message that makes the model look at the chart, then its reply to the result."""
    sys = system(instruction)
    first = model.generate(
        model.ModelInput(history=history, new_steps=[user(message)], system_instruction=sys, tools=[EHR])
    )
    assert first.status == "requires_action", text_of(first)
    call = next(s for s in first.steps if s["type"] == "function_call")
    result = {"type": "function_result", "call_id": call["id"], "name": call["name"], "result": json.dumps(chart)}
    out = model.generate(
        model.ModelInput(
            history=[*history, user(message), *first.steps], new_steps=[result], system_instruction=sys, tools=[EHR]
        )
    )
    return text_of(out)


# --- 1. the reply after a chart lookup still answers the message that led to it ----------------


def test_post_lookup_reply_acknowledges_the_patient_before_the_chart():
    history = [user("Good morning, this is Oluwaseun Adeyemi."), said("Welcome, Oluwaseun. What brings you in?")]
    text = after_lookup(
        history,
        "Latex gloves give me a rash.",
        "Ask whether the patient has any allergies.",
        {"allergies": [{"substance": "Allergy to cat dander (finding)", "reaction": "sneezing"}]},
    )
    ack = re.search(r"noted your allergy to latex \(rash\)", text)
    chart = text.find("Your record lists")
    assert ack and chart > ack.start(), text
    assert "an allergy to cat dander (sneezing)" in text, text


def test_post_lookup_reply_answers_the_patients_question_from_memory():
    history = [
        user("Hi there, I'm Ingrid Solberg, born on 3 March 1979."),
        said("Thanks, Ingrid. Which medicines do you take?"),
    ]
    text = after_lookup(
        history,
        "I'm on sertraline 50 mg every morning. Which birthday do you have on file for me?",
        "Ask which medications the patient takes, with dose and frequency.",
        {"medications": [{"name": "Amlodipine 5 MG Oral Tablet", "dose": "5 mg"}]},
    )
    assert "1979-03-03" in text, text
    noted = text.find("noted sertraline")
    assert 0 <= noted < text.find("Your record lists Amlodipine"), text


def test_reply_without_a_tool_acknowledges_and_recalls_together():
    history = [user("It's Marguerite Duval speaking."), said("Hello Marguerite. Any allergies?")]
    out = model.generate(
        model.ModelInput(
            history=history,
            new_steps=[user("Shrimp makes my throat itchy. And what name did you write down for me?")],
            system_instruction=system("Ask about the patient's past medical history."),
        )
    )
    text = text_of(out)
    assert "Marguerite Duval" in text and "shrimp (itching)" in text, text


# --- 2. chart labels read as speech, stay raw as data ------------------------------------------


@pytest.mark.parametrize(
    ("label", "allergy", "spoken"),
    [
        ("Allergy to cat dander (finding)", True, "cat dander"),
        ("Shellfish allergy", True, "Shellfish"),
        ("allergy: sulfonamide antibiotics", True, "sulfonamide antibiotics"),
        ("Essential hypertension (disorder)", False, "Essential hypertension"),
        ("Metformin 500 MG Oral Tablet", False, "Metformin 500 MG Oral Tablet"),
    ],
)
def test_spoken_chart_labels(label, allergy, spoken):
    assert model.spoken_label(label, allergy=allergy) == spoken


def test_chart_sentences_do_not_repeat_the_word_allergy():
    hist = [user("hello"), {"type": "function_call", "id": "k1", "name": "ehr_lookup", "arguments": {}}]
    result = {
        "allergies": [{"substance": "Allergy to hazelnut (finding)", "reaction": "swelling"}],
        "problems": [{"name": "Chronic sinusitis (disorder)"}],
    }
    out = model.generate(
        model.ModelInput(
            history=hist, new_steps=[{"type": "function_result", "call_id": "k1", "result": json.dumps(result)}]
        )
    )
    text = text_of(out)
    assert "an allergy to hazelnut (swelling)" in text and "Chronic sinusitis" in text, text
    assert "(finding)" not in text and "(disorder)" not in text and "to Allergy" not in text


# --- 3. insurers: the most specific name, or the patient's own ---------------------------------


@pytest.mark.parametrize(
    ("message", "insurer"),
    [
        ("I'm insured through Blue Shield of California, member number BSC4417720.", "Blue Shield of California"),
        ("My coverage is with Excellus Blue Cross, ID EXC55102.", "Excellus Blue Cross"),
        ("We have Geisinger Health Plan through my husband's job.", "Geisinger Health Plan"),
        ("The card says Wellmark Blue Cross Blue Shield.", "Wellmark Blue Cross Blue Shield"),
        ("It's Pacific Source Insurance.", "Pacific Source Insurance"),
        ("Through cigna, subscriber U55120987.", "Cigna"),
        ("I saw a doctor at Mercy Health yesterday about my cough.", ""),
    ],
)
def test_insurer_names(message, insurer):
    f = Facts()
    read_message(message, f, 1, [])
    assert f.insurer == insurer


def test_insurer_acknowledged_in_the_patients_words():
    out = model.generate(
        model.ModelInput(
            history=[],
            new_steps=[user("I'm insured through Blue Shield of California, member number BSC4417720.")],
            system_instruction=system("Ask for the patient's phone number."),
        )
    )
    assert "Blue Shield of California, member ID BSC4417720" in text_of(out)


# --- 4. onset and duration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "onset"),
    [
        ("I've had it for four days.", "for four days"),
        ("It's been bothering me since Thursday.", "since Thursday"),
        ("It kicked in nine days ago.", "nine days ago"),
        ("This has been going on for the past two weeks.", "for the past two weeks"),
        ("I've been taking losartan for six years.", ""),
        ("I've worked as a welder for 12 years.", ""),
        ("I've had asthma for ten years.", ""),
    ],
)
def test_onset_without_a_symptom_word_in_the_sentence(message, onset):
    f = Facts()
    read_message(message, f, 1, [])
    assert f.onset == onset


def test_onset_acknowledged_when_the_question_was_about_severity():
    history = [
        user("My lower back aches."),
        said("I'm sorry to hear that. How would you rate it from 0 to 10?"),
    ]
    out = model.generate(
        model.ModelInput(
            history=history,
            new_steps=[user("It's about a 4, and it's been going on for six days.")],
            system_instruction=system("Ask whether the patient takes any medications."),
        )
    )
    text = text_of(out)
    assert "has been going on for six days" in text and "4/10" in text, text


# --- 5. a structured summary lists what the patient said, not the whole chart ------------------

SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {
        "medications": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "status": {"enum": ["confirmed", "new", "changed", "stopped", "not_taking"]},
                },
                "required": ["name", "status"],
            },
        },
        "allergies": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "substance": {"type": "string"},
                    "status": {"enum": ["confirmed", "new", "resolved", "denied"]},
                },
                "required": ["substance", "status"],
            },
        },
    },
    "required": ["medications", "allergies"],
}


def summary_of(history: list[dict]) -> dict:
    out = model.generate(
        model.ModelInput(history=history, new_steps=[user("Summarise the intake.")], response_schema=SUMMARY_SCHEMA)
    )
    value = json.loads(text_of(out))
    jsonschema.validate(value, SUMMARY_SCHEMA)
    return value


def chart_read(section: str, items: list[dict], cid: str) -> list[dict]:
    return [
        {"type": "function_call", "id": cid, "name": "ehr_lookup", "arguments": {"sections": [section]}},
        {"type": "function_result", "call_id": cid, "result": json.dumps({section: items})},
    ]


def test_summary_leaves_out_chart_items_the_patient_never_spoke_of():
    history = [
        user("I take levothyroxine 75 mcg each morning."),
        *chart_read("medications", [{"name": "Levothyroxine 75 MCG"}, {"name": "Rosuvastatin 10 MG"}], "m1"),
        said("Your record lists Levothyroxine 75 MCG and Rosuvastatin 10 MG. Are you still taking Rosuvastatin?"),
        user("I'm a retired postman."),  # not an answer about the chart
        user("I am allergic to cashews, my tongue swells up."),
        *chart_read("allergies", [{"substance": "Allergy to ragweed pollen (finding)"}], "a1"),
        said("Your record lists an allergy to ragweed pollen. Is that still correct?"),
        user("I also get heartburn after meals."),
    ]
    v = summary_of(history)
    assert [(m["name"].split()[0].lower(), m["status"]) for m in v["medications"]] == [("levothyroxine", "confirmed")]
    assert [a["substance"].lower() for a in v["allergies"]] == ["cashews"]


def test_summary_keeps_chart_items_the_patient_answered_about():
    history = [
        *chart_read("medications", [{"name": "Tamsulosin 0.4 MG Oral Capsule"}], "m2"),
        said("Your record lists Tamsulosin 0.4 MG Oral Capsule. Are you still taking it?"),
        user("Yes, every night."),
        *chart_read("allergies", [{"substance": "Latex allergy"}, {"substance": "Codeine"}], "a2"),
        said("Your record lists an allergy to Latex and Codeine. Is that still correct?"),
        user("No, that's not right."),
    ]
    v = summary_of(history)
    assert [(m["name"], m["status"]) for m in v["medications"]] == [("Tamsulosin 0.4 MG Oral Capsule", "confirmed")]
    # the raw chart label is kept as data
    allergies = [(a["substance"], a["status"]) for a in v["allergies"]]
    assert allergies == [("Latex allergy", "denied"), ("Codeine", "denied")]


# --- 6. one piece of code where the logic is the same ------------------------------------------


def test_tool_choice_and_research_share_one_stop_list():
    from gemini_emulator import research, toolcall, vocab

    assert vocab.STOP_WORDS <= toolcall.STOP and vocab.STOP_WORDS <= research.STOP
    assert toolcall.words("Which allergies do you have?") == {"allergy"}  # only the topic word survives
    assert research._keywords("Please research the latest evidence on gout flares")[:2] == ["gout", "flares"]


@pytest.mark.parametrize(
    ("message", "occupation"),
    [
        ("I work as a dental hygienist.", "dental hygienist"),
        ("I'm a pharmacist at the hospital.", "pharmacist"),
        ("I'm a bit tired lately.", ""),
        ("I'm retired now.", "retired"),
        ("Former firefighter.", "former firefighter"),
        ("I drive a bus for the city.", "bus driver for city"),
        ("I work at a bakery downtown", "works at bakery downtown"),
    ],
)
def test_occupation_forms(message, occupation):
    f = Facts()
    read_message(message, f, 1, [])
    assert f.occupation == occupation
