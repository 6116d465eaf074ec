"""A whole intake through the SDK, shaped like the app uses it: a `Next:` line per step, an EHR tool
whose only parameter is a `sections` enum, chained turns, then a structured summary."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel

from tests.emulator.conftest import MODEL
from tests.emulator.helpers import json_format

EHR_TOOL = {
    "type": "function",
    "name": "ehr_lookup",
    "description": (
        "Read the current patient's chart (only theirs) to confirm what they say. Returns the requested sections."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "sections": {
                "type": "array",
                "items": {"enum": ["allergies", "medications", "problems", "coverage"], "type": "string"},
                "minItems": 1,
                "uniqueItems": True,
            }
        },
        "required": ["sections"],
        "additionalProperties": False,
    },
}
CHART = {
    "medications": [
        {"name": "metformin 500 MG Oral Tablet", "dose": "", "frequency": "", "status": "active"},
        {"name": "atorvastatin 40 MG Oral Tablet", "dose": "", "frequency": "", "status": "active"},
    ],
    "allergies": [{"substance": "Sulfonamides", "reaction": "Rash", "criticality": "low", "status": "active"}],
    "problems": [{"name": "Diabetes mellitus type 2 (disorder)", "code": "44054006", "onset": "", "status": "active"}],
    "coverage": [{"payer": "UnitedHealthcare", "member_id": "UHC-902211", "status": "active"}],
}
STEPS = [
    (
        "Ask for the patient's full name and date of birth, and confirm them against the chart.",
        "Hi there, I'm Theo Lindqvist, born 30 Sept 1955.",
    ),
    (
        "Ask for the insurance payer and member ID, confirming what the chart shows.",
        "It's UnitedHealthcare, unchanged.",
    ),
    ("Ask what brings the patient in today.", "My ankles have been swollen and I get dizzy when I stand up."),
    (
        "Ask which medications the patient takes now, with dose and frequency, confirming the chart list.",
        "Metformin twice a day still, but I ran out of atorvastatin months ago. I also use fluticasone spray daily.",
    ),
    (
        "Ask about allergies to medicines, foods or other things and the reactions, confirming the chart.",
        "Sulfa drugs, yes, they gave me a rash. Nothing else.",
    ),
    (
        "Ask about tobacco use, alcohol use and occupation.",
        "Never smoked, I'd rather not say about drinking, I'm a carpenter.",
    ),
]


class Med(BaseModel):
    name: str
    dose: str
    frequency: str
    status: Literal["confirmed", "new", "changed", "stopped", "not_taking"]


class Allergy(BaseModel):
    substance: str
    reaction: str
    status: Literal["confirmed", "new", "resolved", "denied"]


class Insurance(BaseModel):
    payer: str
    member_id: str


class Social(BaseModel):
    tobacco: str
    alcohol: str
    occupation: str


class Source(BaseModel):
    field: str
    turns: list[int]


class IntakeSummary(BaseModel):
    patient_name: str
    urgency_level: Literal["routine", "urgent", "emergent"]
    chief_complaint: str
    insurance: Insurance
    medications: list[Med]
    allergies: list[Allergy]
    social_history: Social
    red_flags: list[str]
    recommended_follow_up: list[str]
    sources: list[Source]


def system(instruction: str) -> str:
    return (
        "You are a clinic intake assistant. Ask one thing at a time. Confirm chart facts with ehr_lookup.\n"
        "The patient's first name is Theo.\n"
        f"Next: {instruction}"
    )


def test_full_intake_then_summary(emulator_client, emulator):
    c = emulator_client
    prev = None
    replies = []
    for instruction, answer in STEPS:
        i = c.interactions.create(
            model=MODEL,
            input=answer,
            system_instruction=system(instruction),
            tools=[EHR_TOOL],
            previous_interaction_id=prev,
        )
        while i.status == "requires_action":
            call = next(s for s in i.steps if s.type == "function_call")
            result = {k: CHART[k] for k in call.arguments["sections"]}
            i = c.interactions.create(
                model=MODEL,
                previous_interaction_id=i.id,
                system_instruction=system(instruction),
                tools=[EHR_TOOL],
                input=[
                    {"type": "function_result", "call_id": call.id, "name": call.name, "result": json.dumps(result)}
                ],
            )
        replies.append(i.output_text)
        prev = i.id
    assert "Theo" in replies[0]
    assert "UnitedHealthcare (member ID UHC-902211). That matches what you told me." in replies[1]
    assert "You told me you still take metformin and you stopped atorvastatin" in replies[3]
    assert "fluticasone" in replies[3] and "as new" in replies[3]
    assert "skip that" in replies[5]
    # Each step's request carried only the new message, the chain id and the tool.
    creates = [e["body"] for e in emulator.requests() if e["method"] == "POST"]
    assert all(b["tools"] == [EHR_TOOL] for b in creates)
    assert all("previous_interaction_id" in b for b in creates[1:])
    out = c.interactions.create(
        model=MODEL,
        input="Produce the intake summary.",
        previous_interaction_id=prev,
        response_format=json_format(IntakeSummary.model_json_schema()),
    )
    s = IntakeSummary.model_validate_json(out.output_text)
    assert s.patient_name == "Theo Lindqvist"
    assert s.insurance == Insurance(payer="UnitedHealthcare", member_id="UHC-902211")
    meds = {m.name.split()[0].lower(): m for m in s.medications}
    assert meds["metformin"].status == "confirmed" and meds["metformin"].dose == "500 mg"
    assert meds["metformin"].frequency == "twice daily"
    assert meds["atorvastatin"].status == "stopped"
    assert meds["fluticasone"].status == "new"
    assert [(a.substance, a.reaction, a.status) for a in s.allergies] == [("sulfa", "rash", "confirmed")]
    assert s.social_history.tobacco == "never smoker" and s.social_history.occupation == "carpenter"
    assert s.social_history.alcohol == ""
    fields = {src.field: src.turns for src in s.sources}
    assert fields["patient_name"] == [1] and fields["medications"] == [4]
