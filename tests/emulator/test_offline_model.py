"""The offline model on its own (no server): extraction, instructions, tools, schemas, reports."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from gemini_emulator import instruct, model, research, usage
from gemini_emulator.extract import Facts, read_conversation, read_message
from gemini_emulator.schema_fill import Ctx, fill
from tests.emulator.helpers import CHART_TOOL, b64, make_pdf


def user(text: str) -> dict:
    return {"type": "user_input", "content": [{"type": "text", "text": text}]}


def said(text: str) -> dict:
    return {"type": "model_output", "content": [{"type": "text", "text": text}]}


def facts_of(*texts: str) -> Facts:
    f = Facts()
    for i, t in enumerate(texts, 1):
        read_message(t, f, i, [])
    return f


def reply(history: list[dict], text: str, system: str | None = None, **kw) -> model.ModelResult:
    return model.generate(model.ModelInput(history=history, new_steps=[user(text)], system_instruction=system, **kw))


# --- extraction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Date of birth 1985-11-02.",
        "DOB: 11/02/1985",
        "I was born on the 2nd of November 1985",
        "born Nov. 2, 1985",
        "birthday is 02.11.1985",
        "born 2 Nov 1985",
    ],
)
def test_dates_of_birth_in_many_formats(text):
    assert facts_of(text).dob == "1985-11-02"


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Call me at +1 (415) 555-0132 please", "+1 (415) 555-0132"),
        ("mobile 415.555.0132", "415.555.0132"),
        ("my number is +44 20 7946 0958", "+44 20 7946 0958"),
    ],
)
def test_phone_numbers(text, phone):
    assert facts_of(text).phone == phone


def test_contact_insurance_and_identity():
    f = facts_of(
        "Hello, my full name is Beatriz Almeida-Santos.",
        "Email is bea.santos+clinic@example.org, and my plan is through Cigna; subscriber ID U7781234501.",
    )
    assert f.name == "Beatriz Almeida-Santos"
    assert f.email == "bea.santos+clinic@example.org"
    assert f.insurer == "Cigna" and f.member_id == "U7781234501"
    assert f.turns["name"] == [1] and f.turns["insurance"] == [2]


def test_symptoms_onset_severity():
    f = facts_of("My head hurts and I feel queasy; it began three days ago and I'd rate it 5 out of 10.")
    assert f.symptoms == ["headache", "nausea"]
    assert f.onset == "three days ago"
    assert f.severity == "5/10" and f.severity_score == 5


def test_medications_with_dose_and_frequency():
    f = facts_of("Metoprolol 25 mg b.i.d. plus levothyroxine 75 mcg each morning; I quit taking ibuprofen.")
    meds = {m.name: m for m in f.medications}
    assert (meds["metoprolol"].dose, meds["metoprolol"].frequency) == ("25 mg", "twice daily")
    assert (meds["levothyroxine"].dose, meds["levothyroxine"].frequency) == ("75 mcg", "once daily")
    assert meds["ibuprofen"].stopped


def test_allergies_reactions_and_none():
    f = facts_of("Latex brings me out in hives and I'm allergic to bee stings, I need an EpiPen.")
    assert {(a.substance, a.reaction) for a in f.allergies} == {("latex", "hives"), ("bee stings", "anaphylaxis")}
    assert facts_of("No known drug allergies.").no_allergies


def test_history_family_social():
    f = facts_of(
        "Years ago I had my gallbladder removed, and I live with asthma.",
        "My grandmother had colon cancer; my sister is diabetic.",
        "Never smoked. I don't drink alcohol. I work as a pharmacist at a hospital.",
    )
    assert "gallbladder removed" in f.surgeries and "asthma" in f.conditions
    assert {(x.relation, x.condition) for x in f.family} == {
        ("grandmother", "colon cancer"),
        ("sister", "type 2 diabetes"),
    }
    assert "colon cancer" not in f.conditions
    assert f.tobacco == "never smoker" and f.alcohol == "does not drink alcohol" and f.occupation == "pharmacist"


def test_decline_is_attributed_to_the_question_asked():
    f = read_conversation([said("Could you tell me your phone number?"), user("I'd prefer not to say.")])
    assert f.declined == ["phone"]  # the part of the contact question that was asked


def test_negated_symptoms_are_not_recorded():
    f = facts_of("No fever and no cough, just a sore throat.")
    assert f.symptoms == ["sore throat"]


def test_red_flags():
    assert facts_of("Crushing chest pain going down my arm.").red_flags == ["chest pain"]
    assert facts_of("I do not have chest pain.").red_flags == []


# --- instructions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instruction", "question"),
    [
        ("Ask for the patient's emergency contact.", "Could you tell me your emergency contact?"),
        ("Ask how long they have had the symptoms.", "Could you tell me how long you have had the symptoms?"),
        ("Ask if the patient smokes.", "Could you tell me if you smoke?"),
        ("Ask whether they're pregnant.", "Could you tell me whether you're pregnant?"),
        ("Ask the patient to rate their pain from 0 to 10.", "Could you please rate your pain from 0 to 10?"),
        ("Verify the patient's address.", "Could you confirm your address?"),
        ("Ask about previous surgeries.", "Could you tell me about previous surgeries?"),
    ],
)
def test_instruction_to_question(instruction, question):
    assert instruct.to_question(instruction) == question


def test_find_instruction_prefers_last_next_line():
    si = "Be kind.\nNext: Ask for the patient's name.\nSome rule.\nNext: Ask about their allergies.\n"
    assert instruct.find_instruction(si) == "Ask about their allergies."
    assert (
        instruct.find_instruction("You are helpful. Please ask for the insurer. Be brief.")
        == "Please ask for the insurer."
    )
    assert instruct.find_instruction("Be brief.") == ""


# --- replies ---------------------------------------------------------------------------------


def text_of(result: model.ModelResult) -> str:
    return result.steps[-1]["content"][0]["text"]


def test_reply_uses_name_only_when_history_has_it():
    with_name = [
        user("Hi, I'm Odile Fournier."),
        said("Nice to meet you, Odile. Could you tell me your date of birth?"),
    ]
    t = text_of(reply(with_name, "It's 3 March 1990.", "Next: Ask for the patient's phone number."))
    assert "Odile" in t and "1990-03-03" in t and t.endswith("Could you tell me your phone number? (offline emulator)")
    t2 = text_of(reply([], "It's 3 March 1990.", "Next: Ask for the patient's phone number."))
    assert "Odile" not in t2


def test_reply_acknowledges_decline_and_red_flags():
    hist = [said("Could you tell me about your alcohol use?")]
    assert "skip that" in text_of(reply(hist, "Rather not say, sorry."))
    t = text_of(reply([], "I suddenly can't breathe properly and my chest is tight."))
    assert "emergency services" in t


def test_summary_of_a_report_in_history():
    report = research.build_report("atrial fibrillation anticoagulation", seed=1)["text"]
    out = text_of(reply([user("research"), said(report)], "Please give me three bullet points."))
    assert len([ln for ln in out.splitlines() if ln.startswith("- ")]) == 3


# --- tools -----------------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}
NO_PARAMS = {"type": "function", "name": "list_allergies", "description": "List the patient's recorded allergies."}


def test_tool_call_arguments_validate_and_fit_topic():
    r = reply([], "Please check what my chart says about immunizations.", tools=[CHART_TOOL, WEATHER])
    assert r.status == "requires_action"
    call = r.steps[-1]
    assert call["type"] == "function_call" and call["name"] == "read_patient_chart"
    jsonschema.validate(call["arguments"], CHART_TOOL["parameters"])
    assert call["arguments"]["sections"] == ["immunizations"]
    w = reply([], "What's the weather like in Lisbon today?", tools=[CHART_TOOL, WEATHER]).steps[-1]
    assert w["name"] == "get_weather" and w["arguments"] == {"location": "Lisbon"}


def test_tool_without_parameters_and_unrelated_instruction():
    r = reply([], "Hello", "Next: Ask whether they have any allergies.", tools=[NO_PARAMS])
    assert r.steps[-1]["name"] == "list_allergies" and r.steps[-1]["arguments"] == {}
    r2 = reply([], "Hello", "Next: Ask for the patient's date of birth.", tools=[NO_PARAMS, CHART_TOOL])
    assert r2.status == "completed"


def test_tool_is_not_called_twice_for_the_same_topic():
    call = {
        "type": "function_call",
        "id": "c1",
        "name": "read_patient_chart",
        "arguments": {"sections": ["medications"]},
    }
    hist = [user("hi"), call, {"type": "function_result", "call_id": "c1", "result": {"medications": []}}, said("ok")]
    r = reply(hist, "I take nothing else.", "Next: Ask which medications they take.", tools=[CHART_TOOL])
    assert r.status == "completed"
    again = reply(hist, "Can you check my record again?", "Next: Ask which medications they take.", tools=[CHART_TOOL])
    assert again.status == "requires_action"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"error": "chart unavailable"}, "couldn't check your record"),
        ({"medications": []}, "doesn't list any medications"),
        (
            {"allergies": [{"substance": "Sulfa", "reaction": "rash"}]},
            "allergy to Sulfa (rash). Is that still correct?",
        ),
        ("No records found", "I found: No records found"),
        ([{"name": "flu vaccine"}, {"name": "tetanus"}], "flu vaccine and tetanus"),
        ({"temp_c": 21, "sky": "clear"}, "temp c: 21; sky: clear"),
    ],
)
def test_function_results_of_any_shape(result, expected):
    hist = [user("hi"), {"type": "function_call", "id": "c9", "name": "read_patient_chart", "arguments": {}}]
    out = model.generate(
        model.ModelInput(history=hist, new_steps=[{"type": "function_result", "call_id": "c9", "result": result}])
    )
    assert expected in text_of(out)


# --- structured output -----------------------------------------------------------------------

SCHEMA = {
    "$defs": {
        "Med": {
            "type": "object",
            "properties": {
                "drug": {"type": "string"},
                "strength": {"type": "string"},
                "how_often": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "status": {"enum": ["confirmed", "new", "changed", "stopped", "not_taking"], "type": "string"},
            },
            "required": ["drug", "strength", "how_often", "status"],
        },
        "Urgency": {"enum": ["routine", "urgent", "emergent"], "type": "string"},
    },
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "reason_for_visit": {"type": "string"},
        "meds": {"type": "array", "items": {"$ref": "#/$defs/Med"}},
        "urgency": {"$ref": "#/$defs/Urgency"},
        "red_flags": {"type": "array", "items": {"type": "string"}},
        "insurance": {
            "type": "object",
            "properties": {"provider": {"type": "string"}, "member_id": {"type": "string"}},
            "required": ["provider", "member_id"],
        },
        "age": {"type": "integer", "minimum": 0},
        "evidence_turns": {"type": "array", "items": {"type": "integer"}},
        "notes": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    "required": ["name", "reason_for_visit", "meds", "urgency", "red_flags", "insurance", "age", "evidence_turns"],
    "additionalProperties": False,
}

CHART = {
    "type": "function_result",
    "call_id": "c1",
    "result": {
        "medications": [
            {"name": "Warfarin 5 MG Oral Tablet", "dose": "5 mg"},
            {"name": "Furosemide 40 MG", "dose": "40 mg"},
            {"name": "Omeprazole 20 MG", "dose": "20 mg"},
        ]
    },
}


def structured(history: list[dict], schema: dict) -> dict:
    out = model.generate(model.ModelInput(history=history, new_steps=[user("Fill the form.")], response_schema=schema))
    value = json.loads(text_of(out))
    jsonschema.validate(value, schema)
    return value


def test_schema_filled_and_meds_compared_with_chart():
    hist = [
        user("It's Mateo Quispe here, I get chest pain when I climb stairs."),
        {"type": "function_call", "id": "c1", "name": "read_patient_chart", "arguments": {}},
        CHART,
        user(
            "I still take warfarin 5mg daily, furosemide is now 80 mg, I stopped omeprazole, "
            "and I started sertraline 50 mg."
        ),
        user("Insurance is Humana, member number H99812345."),
    ]
    v = structured(hist, SCHEMA)
    assert v["name"] == "Mateo Quispe"
    assert "chest pain" in v["reason_for_visit"]
    status = {m["drug"].split()[0].lower(): m["status"] for m in v["meds"]}
    assert status == {"warfarin": "confirmed", "furosemide": "changed", "omeprazole": "stopped", "sertraline": "new"}
    assert v["urgency"] == "emergent" and v["red_flags"] == ["chest pain"]
    assert v["insurance"] == {"provider": "Humana", "member_id": "H99812345"}
    assert v["evidence_turns"] == [1, 2, 3]
    assert "(offline emulator)" not in json.dumps(v)


def test_schema_from_empty_conversation_still_validates():
    v = structured([], SCHEMA)
    assert v["name"] == "" and v["meds"] == [] and v["urgency"] == "routine" and v["age"] == 0


def test_chart_meds_the_patient_did_not_mention():
    hist = [
        {"type": "function_call", "id": "c1", "name": "read_patient_chart", "arguments": {}},
        CHART,
        user("no, none of those anymore"),
    ]
    v = structured(hist, SCHEMA)
    # "no, none of those anymore" is the patient saying they stopped them all.
    assert {m["status"] for m in v["meds"]} == {"stopped"} and len(v["meds"]) == 3


def test_fill_handles_nullable_dates_and_min_items():
    schema = {
        "type": "object",
        "properties": {
            "date_of_birth": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            "symptoms": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
            "pain_score": {"type": "integer", "minimum": 0, "maximum": 10},
        },
        "required": ["date_of_birth", "symptoms", "pain_score"],
    }
    v = fill(schema, Ctx(facts=facts_of("I have a cough, a fever and a rash, pain 4/10.")))
    jsonschema.validate(v, schema)
    assert v == {"date_of_birth": None, "symptoms": ["cough", "fever"], "pain_score": 4}


# --- attachments, research, usage ------------------------------------------------------------


def test_pdf_text_is_read_into_the_conversation():
    pdf = make_pdf(["Referral note", "Known allergy: iodine contrast causes hives"])
    step = {
        "type": "user_input",
        "content": [
            {"type": "text", "text": "see attached"},
            {"type": "document", "data": b64(pdf), "mime_type": "application/pdf"},
        ],
    }
    out = model.generate(model.ModelInput(history=[], new_steps=[step]))
    assert "I read your PDF (1 page" in text_of(out)
    assert "iodine" in text_of(out)


def test_research_report_citations_point_at_markers():
    block = research.build_report("statins for primary prevention", seed=4)
    raw = block["text"].encode()
    assert len(block["annotations"]) >= 3
    for i, a in enumerate(block["annotations"], 1):
        assert raw[a["start_index"] : a["end_index"]] == f"[{i}]".encode()
        assert a["url"].startswith("https://") and a["url"] in block["text"]
    assert "offline" in block["text"].lower()


def test_usage_approximation():
    hist = [user("x" * 40), said("y" * 8)]
    new = [user("z" * 9)]
    u = usage.compute_usage(history=hist, new_input=new, preamble="p" * 4, output=[said("w" * 5)])
    assert u["total_cached_tokens"] == 10 + 2
    assert u["total_input_tokens"] == 12 + 3 + 1
    assert u["total_output_tokens"] == 2
    assert u["total_tokens"] == 18


def test_deterministic_for_a_seed():
    a = reply([], "I'm Ilse and I have hay fever.", "Next: Ask about their allergies.", seed=5)
    b = reply([], "I'm Ilse and I have hay fever.", "Next: Ask about their allergies.", seed=5)
    assert a.steps == b.steps


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("It's Mrs. Harriet Okonkwo-Bell on the line.", "Harriet Okonkwo-Bell"),
        ("my name is zoë müller", "Zoë Müller"),
        ("Hi, I'm Seán O'Brien.", "Seán O'Brien"),
        ("hey im priya", "Priya"),
        ("I'm exhausted and dizzy.", ""),
    ],
)
def test_names(text, name):
    assert facts_of(text).name == name


def test_dose_before_drug_and_per_allergen_reactions():
    f = facts_of("I use one puff of budesonide with breakfast and dinner and 5mg of amlodipine.")
    meds = {m.name: (m.dose, m.frequency) for m in f.medications}
    assert meds == {"budesonide": ("1 puff", "twice daily"), "amlodipine": ("5 mg", "")}
    g = facts_of("Reacted to ciprofloxacin (hives) and to eggs.")
    assert [(a.substance, a.reaction) for a in g.allergies] == [("ciprofloxacin", "hives"), ("eggs", "")]


def test_ordinal_dates():
    assert facts_of("My birthday is the twenty-third of August, 1991.").dob == "1991-08-23"


def test_brief_bullets_end_with_their_source_link_and_skip_preamble_on_request():
    query = "Warfarin and amiodarone together in atrial fibrillation?"
    report = research.build_report(query, seed=2)
    hist = [user(query), {"type": "model_output", "content": [report]}]
    ask = "Write exactly five Markdown bullet points, each ending with the source link. No heading, no preamble."
    out = text_of(reply(hist, ask))
    lines = out.splitlines()
    bullets = [ln for ln in lines if ln.startswith("- ")]
    assert len(bullets) == 5 and lines[0].startswith("- ")
    assert all(re.search(r"\(\[[^\]]+\]\(https://[^)]+\)\)$", b) for b in bullets)
    assert "warfarin together with amiodarone" in out.lower()
    assert lines[-1] == "(offline emulator)"


def test_camel_case_schema_with_enums_and_booleans():
    schema = {
        "type": "object",
        "properties": {
            "fullName": {"type": "string"},
            "triage": {"enum": ["LOW", "MEDIUM", "HIGH", "CRITICAL"], "type": "string"},
            "currentMeds": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"drugName": {"type": "string"}, "freq": {"type": "string"}},
                    "required": ["drugName", "freq"],
                },
            },
            "familyHistory": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "relative": {"enum": ["parent", "sibling", "child", "other"], "type": "string"},
                        "disease": {"type": "string"},
                    },
                    "required": ["relative", "disease"],
                },
            },
            "smoker": {"type": "boolean"},
            "disclaimer": {"type": "string"},
        },
        "required": ["fullName", "triage", "currentMeds", "familyHistory", "smoker", "disclaimer"],
    }
    hist = [
        user("Good evening, this is Yusuf Demir."),
        user("For two days there's been a tightness in my chest and I passed out this morning."),
        user("Only furosemide 20 mg every morning."),
        user("My daughter has epilepsy. I smoke about 5 cigarettes a day."),
    ]
    v = structured(hist, schema)
    assert v["fullName"] == "Yusuf Demir"
    assert v["triage"] == "CRITICAL"
    assert v["currentMeds"] == [{"drugName": "furosemide", "freq": "once daily"}]
    assert v["familyHistory"] == [{"relative": "child", "disease": "epilepsy"}]
    assert v["smoker"] is True
    assert "offline" in v["disclaimer"]


def test_questions_state_no_facts():
    f = facts_of("Can asthma cause a cough at night?", "Is ibuprofen safe?")
    assert f.conditions == [] and f.symptoms == [] and f.medications == []
    out = text_of(reply([], "Is it normal to have headaches after a flu shot?"))
    assert "sorry to hear" not in out and "offline emulator" in out


def test_colloquial_answers():
    f = facts_of(
        "Marcus Webb Sr here.", "my left ankle is really sore since Saturday, maybe a 6, and it isn't getting better"
    )
    assert f.name == "Marcus Webb Sr"
    assert "ankle pain" in f.symptoms and f.onset == "since Saturday"
    assert f.severity == "6/10" and f.course == "not improving"
    g = read_conversation([said("Could you tell me whether you have any allergies?"), user("Nope, none.")])
    assert g.no_allergies
    assert facts_of("I drive a truck for a freight firm.").occupation == "truck driver for freight firm"


def test_drug_class_names_match_chart_drugs():
    chart = {
        "type": "function_result",
        "call_id": "c1",
        "result": {"medications": [{"name": "Apixaban 5 MG Oral Tablet", "dose": "5 mg"}]},
    }
    hist = [
        user("I'm on a blood thinner twice a day."),
        {"type": "function_call", "id": "c1", "name": "read_patient_chart", "arguments": {}},
        chart,
    ]
    out = model.generate(model.ModelInput(history=hist[:2], new_steps=[chart]))
    assert "You told me you still take your blood thinner" in text_of(out)
    v = structured(hist, SCHEMA)
    assert [(m["drug"], m["strength"], m["how_often"], m["status"]) for m in v["meds"]] == [
        ("Apixaban 5 MG Oral Tablet", "5 mg", "twice daily", "confirmed")
    ]


def test_chart_only_medication_uses_the_reply_after_the_chart_was_read():
    hist = [
        user("hello"),
        {"type": "function_call", "id": "c1", "name": "read_patient_chart", "arguments": {}},
        CHART,
        said("Your record lists Warfarin, Furosemide and Omeprazole. Are you still taking them?"),
        user("Yes, all of them."),
        user("No other changes."),
    ]
    v = structured(hist, SCHEMA)
    assert {m["status"] for m in v["meds"]} == {"confirmed"}


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"a": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
            "required": ["a"],
        },
        {"type": "object", "properties": {"a": {"allOf": [{"type": "string"}, {"minLength": 2}]}}, "required": ["a"]},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}, "minItems": 2},
        {"type": "object", "properties": {"c": {"const": "x"}, "e": {"enum": [1, 2, 3]}}, "required": ["c", "e"]},
        {"type": "integer", "minimum": 5},
        {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}$"}}, "required": ["code"]},
        {
            "type": "object",
            "properties": {"patient_name": {"type": "string", "maxLength": 4}},
            "required": ["patient_name"],
        },
        {
            "$defs": {
                "N": {"type": "object", "properties": {"child": {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "null"}]}}}
            },
            "$ref": "#/$defs/N",
        },
    ],
)
def test_unusual_schemas_still_get_valid_json(schema):
    hist = [user("I'm Ada Moreau, I take aspirin 81 mg daily and I'm allergic to latex.")]
    structured(hist, schema)  # validates against the schema inside
