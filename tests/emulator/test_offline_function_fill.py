"""The offline model speaks the turn contract through the real SDK: it fills a declared form-like
function (no required parameters) with what the latest message said, calls it in parallel with a
chart lookup, and after the results asks the `next` instruction the result carries.

The patient sentences were written first, from how people talk, before any rule was made to read
them; the schemas include two that have nothing to do with intake (a vet clinic, a flight search).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from tests.emulator.conftest import MODEL

# --- a form like the app's record_answers (written here from the contract, not imported) --------

Topic = Literal[
    "identity", "contact", "insurance", "chief_complaint", "medications", "allergies", "past_history",
    "family_history", "social_history", "review",
]  # fmt: skip


class InsuranceArgs(BaseModel):
    payer: str | None = Field(None, description="Insurance company or plan name")
    member_id: str | None = Field(None, description="Member ID as the patient gave it")


class MedicationArgs(BaseModel):
    name: str = Field(description="Medicine as the patient named it")
    dose: str | None = Field(None, description="Dose, e.g. '10 mg'")
    frequency: str | None = Field(None, description="How often, e.g. 'once daily'")
    taking: bool | None = Field(None, description="False when the patient stopped it or does not take it")


class AllergyArgs(BaseModel):
    substance: str
    reaction: str | None = Field(None, description="What happens to the patient")


class RecordArgs(BaseModel):
    name: str | None = Field(None, description="Patient's full name")
    date_of_birth: str | None = Field(None, description="Patient's date of birth, YYYY-MM-DD")
    phone: str | None = Field(None, description="Phone number")
    email: str | None = Field(None, description="Email address")
    insurance: InsuranceArgs | None = None
    chief_complaint: str | None = Field(None, description="Why the patient came in, in their words")
    history_of_present_illness: str | None = Field(None, description="Onset, severity and course")
    medications: list[MedicationArgs] | None = None
    allergies: list[AllergyArgs] | None = None
    past_history: list[str] | None = Field(None, description="Past conditions and surgeries")
    family_history: list[str] | None = None
    tobacco: str | None = None
    alcohol: str | None = None
    occupation: str | None = None
    none: list[Topic] | None = Field(None, description="Topics the patient said they have none of")
    declined: list[Topic] | None = Field(None, description="Topics the patient declined to answer")
    review_confirmed: bool | None = Field(None, description="At review, the patient said the summary is right")
    urgency: Literal["routine", "urgent", "emergent"] | None = Field(None, description="Your clinical judgement")
    warning_signs: list[str] | None = Field(None, description="Emergency warning signs, in the patient's words")


RECORD = {
    "type": "function",
    "name": "record_answers",
    "description": "Record what the patient said in their latest message. Send only what they said.",
    "parameters": RecordArgs.model_json_schema(),
}
EHR = {
    "type": "function",
    "name": "ehr_lookup",
    "description": "Read the current patient's chart to confirm what they say.",
    "parameters": {
        "type": "object",
        "properties": {
            "sections": {
                "type": "array",
                "items": {"type": "string", "enum": ["identity", "allergies", "medications", "problems", "coverage"]},
                "minItems": 1,
            }
        },
        "required": ["sections"],
    },
}
SYSTEM = "You are a friendly clinic intake assistant. One question at a time. Never diagnose."
STEPS = {
    "identity": "Ask for the patient's full name and date of birth.",
    "contact": "Ask for the best phone number and email to reach the patient.",
    "insurance": "Ask for the patient's insurance company and member ID.",
    "complaint": "Ask what brings the patient in today and when it started.",
    "medications": "Ask which medications the patient takes, with dose and how often.",
    "allergies": "Ask whether the patient has any allergies and what happens.",
    "review": "Ask the patient to check the summary of their answers and say whether it is correct.",
}


class Intake:
    """Drives one conversation through the SDK the way the app does: records the form call, answers
    every call with a function_result (the record's result carries `next`), then reads the reply."""

    def __init__(self, client: Any, tools: list[dict[str, Any]] | None = None, chart: dict | None = None) -> None:
        self.c = client
        self.tools = tools or [RECORD, EHR]
        self.chart = chart or {}
        self.prev: str | None = None
        self.step = "identity"

    def start(self, step: str) -> str:
        """The first turn: the step instruction travels in the input, with the patient's greeting."""
        self.step = step
        return self.say(f"Next: {STEPS[step]}\nHello")[1]

    def say(self, text: str, next_step: str | None = None) -> tuple[dict[str, dict], str]:
        """One patient message; returns the calls made ({name: arguments}) and the reply text."""
        r = self.c.interactions.create(
            model=MODEL, system_instruction=SYSTEM, tools=self.tools, input=text, previous_interaction_id=self.prev
        )
        calls: dict[str, dict] = {}
        hops = 0
        while r.status == "requires_action" and hops < 5:  # as the app: a result may lead to another call
            hops += 1
            step_calls = [s for s in r.steps if s.type == "function_call"]
            results = []
            for call in step_calls:
                calls[call.name] = call.arguments
                tool = next(t for t in self.tools if t["name"] == call.name)
                jsonschema.validate(call.arguments, tool["parameters"])
                if call.name == "record_answers":
                    self.step = next_step or self.step
                    result: Any = {"accepted": call.arguments, "rejected": [], "next": STEPS[self.step]}
                else:
                    result = {k: v for k, v in self.chart.items() if k in call.arguments.get("sections", [])}
                results.append({"type": "function_result", "call_id": call.id, "name": call.name, "result": result})
            r = self.c.interactions.create(
                model=MODEL, system_instruction=SYSTEM, tools=self.tools, input=results, previous_interaction_id=r.id
            )
        assert r.status == "completed", r.status
        self.prev = r.id
        return calls, r.output_text


def recorded(intake: Intake, text: str, next_step: str | None = None) -> dict[str, Any]:
    calls, _ = intake.say(text, next_step)
    assert "record_answers" in calls, f"no record_answers call for {text!r}: {calls}"
    return calls["record_answers"]


def med_names(args: dict[str, Any]) -> list[str]:
    return [m["name"].lower() for m in args.get("medications", [])]


# --- the contract: parallel calls, second hop, next instruction -----------------------------------


def test_record_and_chart_lookup_in_parallel_then_a_second_hop_that_asks_next(emulator_client, emulator):
    chart = {"medications": [{"name": "Loratadine 10 MG Oral Tablet"}]}
    intake = Intake(emulator_client, chart=chart)
    greeting = intake.start("identity")
    assert "full name and date of birth" in greeting
    seen = len(emulator.requests())
    calls, reply = intake.say(
        "Hi! Dana Whitfield here, born 02/11/1979. Heads up, I'm on Zyrtec 10mg every morning and I stopped the "
        "loratadine last month.",
        next_step="contact",
    )
    assert set(calls) == {"record_answers", "ehr_lookup"}
    rec = calls["record_answers"]
    assert rec["name"] == "Dana Whitfield" and rec["date_of_birth"] == "1979-02-11"
    meds = {m["name"].lower(): m for m in rec["medications"]}
    assert meds["zyrtec"]["dose"] == "10 mg" and meds["zyrtec"]["taking"] is True
    assert meds["loratadine"]["taking"] is False
    assert "medications" in calls["ehr_lookup"]["sections"]
    # The reply comes after both results: the chart is compared, and the result's `next` is asked.
    assert "Your record lists Loratadine 10 MG Oral Tablet" in reply
    assert "you stopped loratadine" in reply.lower()
    assert "phone number and email" in reply
    # What the model sent: both calls in one step list, each answered by call id in the next request.
    create_steps = [e["response"] for e in emulator.requests()[seen:] if (e.get("response") or {}).get("steps")]
    first = next(r for r in create_steps if r["status"] == "requires_action")
    assert [s["type"] for s in first["steps"]] == ["thought", "function_call", "function_call"]


def test_the_step_instruction_in_the_input_is_not_read_as_the_patients_words(emulator_client):
    r = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=[RECORD],
        input="Next: Ask for the patient's insurance company and member ID.\nhi there",
    )
    assert r.status == "completed"  # nothing to record: "insurance" and "ID" are the app's words
    assert "insurance company and member ID" in r.output_text


def test_rejected_fields_are_explained_and_next_is_still_asked(emulator_client):
    intake = Intake(emulator_client)
    intake.start("contact")
    r = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=[RECORD],
        input="my cell is 12",
        previous_interaction_id=intake.prev,
    )
    calls = [s for s in r.steps if s.type == "function_call"]
    if not calls:  # "12" is no phone number: nothing to record is a fine answer too
        assert r.status == "completed"
        return
    result = {"accepted": {}, "rejected": [{"field": "phone", "reason": "too short"}], "next": STEPS["contact"]}
    done = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=[RECORD],
        previous_interaction_id=r.id,
        input=[{"type": "function_result", "call_id": calls[0].id, "name": calls[0].name, "result": result}],
    )
    assert "couldn't record your phone (too short)" in done.output_text
    assert "phone number and email" in done.output_text


def test_system_instruction_next_line_still_works_without_a_result_next(emulator_client):
    system = SYSTEM + "\nNext: Ask which medications the patient takes, with dose and how often."
    r = emulator_client.interactions.create(model=MODEL, system_instruction=system, tools=[RECORD], input="Hello")
    assert "which medications you take" in r.output_text


# --- understanding patients ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "message", "expected"),
    [
        (
            "identity",
            "hey its maria gonzalez, born 3/14/1985",
            {"name": "Maria Gonzalez", "date_of_birth": "1985-03-14"},
        ),
        (
            "contact",
            "you can text me at 555-201-8890 or email maria.g@example.com",
            {"phone": "555-201-8890", "email": "maria.g@example.com"},
        ),
        (
            "insurance",
            "I've got Aetna, member number W123456789",
            {"insurance": {"payer": "Aetna", "member_id": "W123456789"}},
        ),
    ],
)
def test_identity_contact_and_insurance(emulator_client, step, message, expected):
    intake = Intake(emulator_client)
    intake.start(step)
    args = recorded(intake, message)
    assert {k: args.get(k) for k in expected} == expected


def test_complaint_with_onset_severity_and_course(emulator_client):
    intake = Intake(emulator_client)
    intake.start("complaint")
    args = recorded(intake, "my back's been killing me since saturday, like a 7 out of 10 and getting worse")
    assert "back" in args["chief_complaint"].lower()
    hpi = args["history_of_present_illness"].lower()
    assert "saturday" in hpi and "7/10" in hpi and "worse" in hpi
    assert "urgency" not in args  # nothing emergent


@pytest.mark.parametrize(
    ("message", "names", "doses"),
    [
        ("I take Advil when it flares up and Zyrtec 10mg every morning", ["advil", "zyrtec"], {"zyrtec": "10 mg"}),
        ("Chlorpheniramine Maleate 4 mg at bedtime", ["chlorpheniramine"], {"chlorpheniramine": "4 mg"}),
        ("lisinopril 10 milligrams once a day", ["lisinopril"], {"lisinopril": "10 mg"}),
        ("half a pill of metoprolol twice a day", ["metoprolol"], {"metoprolol": "0.5 pill"}),
        ("I take metforman and lisinoprill", ["metformin", "lisinopril"], {}),
        ("Just the B12 shots and the EpiPen.", ["vitamin b12", "epipen"], {}),
        ("The Benadryl I only take at night", ["benadryl"], {}),
    ],
)
def test_medications_as_patients_name_them(emulator_client, message, names, doses):
    intake = Intake(emulator_client)
    intake.start("medications")
    args = recorded(intake, message)
    assert med_names(args) == names
    assert {m["name"].lower(): m["dose"] for m in args["medications"] if m["name"].lower() in doses} == doses
    assert "allergies" not in args


def test_benadryl_at_night_during_the_allergy_question_is_a_medication(emulator_client):
    intake = Intake(emulator_client)
    intake.start("allergies")
    args = recorded(intake, "The Benadryl I only take at night")
    assert med_names(args) == ["benadryl"]
    assert "allergies" not in args


@pytest.mark.parametrize(
    ("message", "substances"),
    [("Latex.", ["latex"]), ("Bee stings.", ["bee stings"]), ("penicillin gives me hives", ["penicillin"])],
)
def test_one_word_allergy_answers(emulator_client, message, substances):
    intake = Intake(emulator_client)
    intake.start("allergies")
    args = recorded(intake, message)
    assert [a["substance"].lower() for a in args["allergies"]] == substances
    assert "medications" not in args


@pytest.mark.parametrize("message", ["no allergies", "None.", "nope, none that I know of"])
def test_no_allergies_goes_to_none_not_to_declined(emulator_client, message):
    intake = Intake(emulator_client)
    intake.start("allergies")
    args = recorded(intake, message)
    assert args.get("none") == ["allergies"]
    assert "allergies" not in args and "declined" not in args


@pytest.mark.parametrize(
    ("step", "message", "topic"),
    [
        ("insurance", "skip", "insurance"),
        ("contact", "I'd rather not say", "contact"),
        ("insurance", "pass on that one", "insurance"),
    ],
)
def test_declines_are_recorded_as_declined(emulator_client, step, message, topic):
    intake = Intake(emulator_client)
    intake.start(step)
    args = recorded(intake, message)
    assert args.get("declined") == [topic]
    assert "none" not in args


def test_corrections_stop_a_medicine_and_change_a_dose(emulator_client):
    intake = Intake(emulator_client)
    intake.start("medications")
    first = recorded(intake, "I take loratadine 10 mg and lisinopril 20mg every day")
    assert med_names(first) == ["loratadine", "lisinopril"]
    stopped = recorded(intake, "oh actually I stopped the loratadine last month")
    assert [(m["name"].lower(), m["taking"]) for m in stopped["medications"]] == [("loratadine", False)]
    fixed = recorded(intake, "sorry, the dose is 10 not 20")
    assert [(m["name"].lower(), m["dose"]) for m in fixed["medications"]] == [("lisinopril", "10 mg")]


def test_a_bare_no_to_a_chart_medicine_marks_it_not_taken(emulator_client):
    chart = {"medications": [{"name": "Loratadine 10 MG Oral Tablet"}]}
    intake = Intake(emulator_client, chart=chart)
    intake.start("medications")
    calls, reply = intake.say("Can you check what my chart says about my medications?")
    assert calls.get("ehr_lookup", {}).get("sections") == ["medications"]
    assert "Are you still taking it?" in reply
    args = recorded(intake, "no, not anymore")
    assert [(m["name"].lower(), m["taking"]) for m in args["medications"]] == [("loratadine", False)]


def test_same_as_what_you_have_before_the_chart_is_read_confirms_what_it_lists(emulator_client):
    chart = {
        "medications": [{"name": "Hydrochlorothiazide 25 MG Oral Tablet"}, {"name": "Loratadine 5 MG"}],
        "allergies": [{"substance": "Peanut"}],
    }
    intake = Intake(emulator_client, chart=chart)
    intake.start("complaint")
    intake.say("A sore throat since Tuesday", next_step="medications")
    calls, reply = intake.say("Yep, all the same as what you have", next_step="allergies")
    assert calls.get("ehr_lookup", {}).get("sections") == ["medications"]  # read in this very turn
    names = med_names(calls["record_answers"])
    assert any("hydrochlorothiazide" in n for n in names) and any("loratadine" in n for n in names)
    assert all(m.get("taking") is not False for m in calls["record_answers"]["medications"])
    # Confirmed once: the next question is asked, not "Are you still taking them?".
    assert "still taking" not in reply and "allergies" in reply.lower()


@pytest.mark.parametrize("said", ["same meds", "Nothing has changed", "the same ones you have on file"])
def test_short_same_as_before_answers_confirm_the_chart_read_that_turn(emulator_client, said):
    chart = {"medications": [{"name": "Metformin 500 MG Oral Tablet"}, {"name": "Atorvastatin 20 MG"}]}
    intake = Intake(emulator_client, chart=chart)
    intake.start("complaint")
    intake.say("My knee hurts when I climb stairs", next_step="medications")
    calls, reply = intake.say(said, next_step="allergies")
    names = med_names(calls.get("record_answers", {}))
    assert any("metformin" in n for n in names) and any("atorvastatin" in n for n in names), calls
    assert "still taking" not in reply


def test_a_new_allergy_and_the_others_are_right_confirms_the_rest_of_the_chart(emulator_client):
    chart = {"allergies": [{"substance": "Penicillin V"}, {"substance": "Shellfish (substance)"}]}
    intake = Intake(emulator_client, chart=chart)
    intake.start("complaint")
    intake.say("A rash on my arms since Sunday", next_step="allergies")
    calls, _ = intake.say("Latex makes my hands itch. The others are right too.", next_step="review")
    got = [a["substance"].lower() for a in calls.get("record_answers", {}).get("allergies", [])]
    assert any("latex" in g for g in got) and any("penicillin" in g for g in got), got
    assert any("shellfish" in g for g in got), got


def test_other_answers_to_a_medicine_question_do_not_take_the_charts_list(emulator_client):
    chart = {"medications": [{"name": "Loratadine 5 MG"}]}
    intake = Intake(emulator_client, chart=chart)
    intake.start("complaint")
    intake.say("A sore throat since Tuesday", next_step="medications")
    calls, _ = intake.say("I'm not sure what you have on file", next_step="allergies")
    assert not med_names(calls.get("record_answers", {}))


@pytest.mark.parametrize("said", ["no email", "I don't do email", "I don't really check email"])
def test_no_email_beside_a_phone_number_records_that_there_is_none(emulator_client, said):
    intake = Intake(emulator_client)
    intake.start("contact")
    args = recorded(intake, f"555-902-3318, {said}")
    assert args["phone"] == "555-902-3318" and args.get("none") == ["contact"], args
    # "no email please" asks not to be emailed: it is not a statement that there is no address.
    assert "none" not in recorded(Intake(emulator_client), "555-902-3318, no email please")
    given = recorded(Intake(emulator_client), "555-902-3318, I don't check my email much: a.b@example.org")
    assert "none" not in given and given["email"] == "a.b@example.org"


def test_a_bare_no_to_the_family_question_is_no_family_history(emulator_client):
    intake = Intake(emulator_client)
    intake.start("identity")
    STEPS["family_history"] = "Ask about illnesses that run in the patient's family."
    try:
        recorded(intake, "Dana Whitfield, 02/11/1979", next_step="family_history")
        args = recorded(intake, "no")
    finally:
        del STEPS["family_history"]
    assert args.get("none") == ["family_history"], args


def test_several_facts_in_one_sentence_and_answers_given_early(emulator_client):
    intake = Intake(emulator_client)
    intake.start("identity")
    args = recorded(intake, "I'm Tom Becker, allergic to sulfa, and I take metformin 500 twice a day")
    assert args["name"] == "Tom Becker"
    assert [a["substance"].lower() for a in args["allergies"]] == ["sulfa"]
    assert med_names(args) == ["metformin"]
    assert args["medications"][0]["frequency"] == "twice daily"


def test_review_yes_confirms_and_yes_but_corrects(emulator_client):
    intake = Intake(emulator_client)
    intake.start("review")
    args = recorded(intake, "yes thats all correct")
    assert args == {"review_confirmed": True}
    intake2 = Intake(emulator_client)
    intake2.start("review")
    args2 = recorded(intake2, "yes but my number is 555-201-8891 now")
    assert args2.get("phone") == "555-201-8891" and "review_confirmed" not in args2


def test_emergency_words_get_the_highest_urgency_and_the_patients_words(emulator_client):
    intake = Intake(emulator_client)
    intake.start("complaint")
    args = recorded(intake, "i have crushing chest pain and my left arm went numb about 20 minutes ago")
    assert args["urgency"] == "emergent"
    assert any("chest pain" in w for w in args["warning_signs"])
    assert "chest pain" in args["chief_complaint"]


def test_urgency_is_the_highest_level_of_whatever_enum_the_schema_declares(emulator_client):
    tool = {
        "type": "function",
        "name": "note_triage",
        "description": "Note the caller's triage level.",
        "parameters": {
            "type": "object",
            "properties": {
                "triage_level": {"type": "string", "enum": ["green", "yellow", "red"], "description": "Triage level"}
            },
        },
    }
    r = emulator_client.interactions.create(
        model=MODEL, tools=[tool], input="My dad suddenly can't speak properly and his face is drooping on one side"
    )
    calls = [s for s in r.steps if s.type == "function_call"]
    assert [(c.name, c.arguments) for c in calls] == [("note_triage", {"triage_level": "red"})]


# --- schemas that have nothing to do with intake --------------------------------------------------

PET_FORM = {
    "type": "function",
    "name": "book_pet_visit",
    "description": "Book a visit at the vet clinic with what the owner told us.",
    "parameters": {
        "type": "object",
        "properties": {
            "pet_name": {"type": "string", "description": "The pet's name"},
            "species": {"type": "string", "enum": ["dog", "cat", "rabbit", "bird", "other"]},
            "age_years": {"type": "integer", "description": "The pet's age in years"},
            "reason": {"type": "string", "description": "Why the pet needs to be seen"},
            "owner_phone": {"type": "string", "description": "Owner's phone number"},
        },
    },
}
FLIGHTS = {
    "type": "function",
    "name": "search_flights",
    "description": "Search flights between two cities.",
    "parameters": {
        "type": "object",
        "properties": {
            "origin": {"type": "string", "description": "City the trip starts from"},
            "destination": {"type": "string", "description": "City the traveller flies to"},
            "departure_date": {"type": "string", "format": "date"},
            "adults": {"type": "integer", "minimum": 1, "description": "Number of adult passengers"},
            "cabin": {"type": "string", "enum": ["economy", "premium_economy", "business", "first"]},
        },
        "required": ["origin", "destination", "departure_date"],
    },
}


def test_a_vet_clinic_form_is_filled_from_the_owners_message(emulator_client):
    r = emulator_client.interactions.create(
        model=MODEL,
        tools=[PET_FORM],
        input="Hi, my cat Biscuit is 4 years old and keeps throwing up since yesterday. "
        "You can reach me on 415-555-0134.",
    )
    assert r.status == "requires_action"
    (call,) = [s for s in r.steps if s.type == "function_call"]
    jsonschema.validate(call.arguments, PET_FORM["parameters"])
    args = call.arguments
    assert (args["pet_name"], args["species"], args["age_years"], args["owner_phone"]) == (
        "Biscuit",
        "cat",
        4,
        "415-555-0134",
    )
    assert "throwing up" in args["reason"] or "vomit" in args["reason"]
    done = emulator_client.interactions.create(
        model=MODEL,
        tools=[PET_FORM],
        previous_interaction_id=r.id,
        input=[{"type": "function_result", "call_id": call.id, "name": call.name, "result": {"booked": True}}],
    )
    assert done.status == "completed" and done.output_text


def test_a_flight_search_with_required_parameters_is_called_when_the_message_names_them(emulator_client):
    r = emulator_client.interactions.create(
        model=MODEL,
        tools=[FLIGHTS],
        input="Looking for 2 adults flying from Boston to Lisbon on June 12, 2027, business class if possible.",
    )
    (call,) = [s for s in r.steps if s.type == "function_call"]
    assert call.arguments == {
        "origin": "Boston",
        "destination": "Lisbon",
        "departure_date": "2027-06-12",
        "adults": 2,
        "cabin": "business",
    }
    result = {"flights": [{"flight": "TP 218", "departs": "2027-06-12T18:05", "price_usd": 2140}]}
    done = emulator_client.interactions.create(
        model=MODEL,
        tools=[FLIGHTS],
        previous_interaction_id=r.id,
        input=[{"type": "function_result", "call_id": call.id, "name": call.name, "result": json.dumps(result)}],
    )
    assert "TP 218" in done.output_text


SUMMARY = {
    "type": "object",
    "properties": {
        "patient_name": {"type": "string"},
        "medications": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "status": {"type": "string", "enum": ["confirmed", "new", "changed", "stopped"]},
                },
                "required": ["name", "status"],
            },
        },
    },
    "required": ["patient_name", "medications"],
}


def test_the_summary_reads_the_chart_not_the_record_echoed_in_form_results(emulator_client):
    """A record result that echoes the record's lists is not chart data: Zyrtec stays "new"."""
    chart = {"medications": [{"name": "Loratadine 10 MG Oral Tablet"}]}
    intake = Intake(emulator_client, chart=chart)
    intake.start("identity")
    r = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=intake.tools,
        previous_interaction_id=intake.prev,
        input="I'm Dana Whitfield. I take Zyrtec 10mg and I stopped the loratadine.",
    )
    results = []
    for call in [s for s in r.steps if s.type == "function_call"]:
        if call.name == "record_answers":
            echoed = {"medications": call.arguments.get("medications", []), "next": STEPS["contact"]}
            results.append({"type": "function_result", "call_id": call.id, "name": call.name, "result": echoed})
        else:
            results.append({"type": "function_result", "call_id": call.id, "name": call.name, "result": chart})
    assert {x["name"] for x in results} == {"record_answers", "ehr_lookup"}
    results.sort(key=lambda x: x["name"] == "record_answers")  # the echo last, where it would win
    done = emulator_client.interactions.create(
        model=MODEL, system_instruction=SYSTEM, tools=intake.tools, previous_interaction_id=r.id, input=results
    )
    summary = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=intake.tools,
        previous_interaction_id=done.id,
        input="Summarise the intake.",
        response_format={"type": "text", "mime_type": "application/json", "schema": SUMMARY},
    )
    value = json.loads(summary.output_text)
    jsonschema.validate(value, SUMMARY)
    statuses = {m["name"].split()[0].lower(): m["status"] for m in value["medications"]}
    assert statuses == {"zyrtec": "new", "loratadine": "stopped"}


def test_a_form_result_without_next_does_not_repeat_the_last_question(emulator_client):
    intake = Intake(emulator_client)
    intake.start("review")
    r = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=[RECORD],
        previous_interaction_id=intake.prev,
        input="yes, all good",
    )
    (call,) = [s for s in r.steps if s.type == "function_call"]
    done = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=[RECORD],
        previous_interaction_id=r.id,
        input=[{"type": "function_result", "call_id": call.id, "name": call.name, "result": {"accepted": ["review"]}}],
    )
    assert "summary" not in done.output_text.lower()
    last = emulator_client.interactions.create(
        model=MODEL,
        system_instruction=SYSTEM,
        tools=[RECORD],
        previous_interaction_id=done.id,
        input="Next: Thank the patient and tell them the intake is complete.\nok thanks",
    )
    assert "Thank you. The intake is complete." in last.output_text


def test_free_text_topic_lists_use_the_keys_their_description_names(emulator_client):
    form = {
        "type": "function",
        "name": "save_intake_answers",
        "description": "Save what the patient said.",
        "parameters": {
            "type": "object",
            "properties": {
                "phone": {"type": "string"},
                "email": {"type": "string"},
                "declined": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Topic keys the patient declined: identity, contact, insurance, medications",
                },
            },
        },
    }
    intake = Intake(emulator_client, tools=[form])
    intake.start("contact")
    calls, _ = intake.say("I'd rather not say")
    assert calls == {"save_intake_answers": {"declined": ["contact"]}}


def test_yes_to_the_charts_allergy_records_it_as_said(emulator_client):
    chart = {"allergies": [{"substance": "Penicillin", "reaction": "hives"}]}
    intake = Intake(emulator_client, chart=chart)
    reply = intake.start("allergies")
    assert "Your record lists an allergy to Penicillin (hives)" in reply
    args = recorded(intake, "yep, still allergic")
    assert [(a["substance"].lower(), a.get("reaction")) for a in args["allergies"]] == [("penicillin", "hives")]
    assert "review_confirmed" not in args


def test_a_chart_read_back_is_not_asked_once_next_has_moved_on(emulator_client):
    # The patient answered the step; the chart lookup ran in parallel. The reply states what the
    # chart shows but asks what `next` says, so the patient's next answer lands on the right step.
    chart = {"medications": [{"name": "Loratadine 10 MG Oral Tablet"}]}
    intake = Intake(emulator_client, chart=chart)
    intake.start("identity")
    calls, reply = intake.say("Dana Whitfield, 02/11/1979. I take Zyrtec 10mg every morning", next_step="contact")
    assert set(calls) == {"record_answers", "ehr_lookup"}
    assert "Your record lists Loratadine 10 MG Oral Tablet" in reply
    assert "still taking" not in reply and "phone number and email" in reply
