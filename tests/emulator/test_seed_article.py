"""The seed article's examples (shared/seed/interactions-api-article.txt), in their SDK 3.x form.

The article reads `interaction.outputs`, which SDK 3.x replaced by `steps` / `output_text`, passes
a bare JSON Schema where the typed `response_format` is now required, and names a retired Deep
Research agent; otherwise each call is the article's own.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel

from tests.emulator.conftest import AGENT, MODEL
from tests.emulator.helpers import b64, json_format, make_pdf, poll

EHR_LOOKUP_TOOL = {
    "type": "function",
    "name": "ehr_lookup",
    "description": "Look up a patient's electronic health record by patient ID.",
    "parameters": {
        "type": "object",
        "properties": {"patient_id": {"type": "string", "description": "The patient's ID"}},
        "required": ["patient_id"],
    },
}


class PatientSummary(BaseModel):
    patient_name: str
    urgency_level: Literal["routine", "urgent", "emergent"]
    recommended_follow_up: list[str]


def test_server_side_state(emulator_client):
    c = emulator_client
    r1 = c.interactions.create(
        model=MODEL,
        input="Hi, I'd like to schedule a visit with my doctor.",
        system_instruction="You are a healthcare intake assistant.",
    )
    r2 = c.interactions.create(
        model=MODEL,
        input="My name is Sarah Johnson.",
        previous_interaction_id=r1.id,
        system_instruction="You are a healthcare intake assistant.",
    )
    r3 = c.interactions.create(
        model=MODEL,
        input="What's my name?",
        previous_interaction_id=r2.id,
        system_instruction="You are a healthcare intake assistant.",
    )
    assert "Sarah Johnson" in r3.output_text


def test_function_calling_looks_up_the_patient_id(emulator_client):
    c = emulator_client
    interaction = c.interactions.create(model=MODEL, input="Look up patient SJ-2026-4412.", tools=[EHR_LOOKUP_TOOL])
    calls = [s for s in interaction.steps if s.type == "function_call"]
    assert interaction.status == "requires_action" and len(calls) == 1
    assert calls[0].name == "ehr_lookup" and calls[0].arguments == {"patient_id": "SJ-2026-4412"}
    result = {"patient_id": "SJ-2026-4412", "name": "Sarah Johnson", "allergies": ["penicillin"]}
    done = c.interactions.create(
        model=MODEL,
        previous_interaction_id=interaction.id,
        input=[{"type": "function_result", "name": "ehr_lookup", "call_id": calls[0].id, "result": json.dumps(result)}],
        tools=[EHR_LOOKUP_TOOL],
    )
    assert done.status == "completed" and done.output_text


def test_structured_output_extracts_what_the_text_says(emulator_client):
    interaction = emulator_client.interactions.create(
        model=MODEL,
        input="Extract structured data from: Patient Sarah Johnson, persistent headaches, HbA1c 7.8%...",
        response_format=json_format(PatientSummary.model_json_schema()),
    )
    parsed = PatientSummary.model_validate_json(interaction.output_text)
    assert parsed.patient_name == "Sarah Johnson"
    assert parsed.urgency_level in ("routine", "urgent")  # headaches and a raised HbA1c are not an emergency
    assert parsed.recommended_follow_up


def test_lab_report_pdf_is_read_for_every_value(emulator_client):
    pdf = make_pdf(
        [
            "Lab report - Sarah Johnson",
            "HbA1c: 7.8 %",
            "Fasting glucose: 142 mg/dL",
            "LDL cholesterol: 131 mg/dL",
            "eGFR: 88 mL/min/1.73m2",
        ]
    )
    interaction = emulator_client.interactions.create(
        model=MODEL,
        input=[
            {"type": "document", "data": b64(pdf), "mime_type": "application/pdf"},
            {"type": "text", "text": "Analyze this lab report."},
        ],
    )
    text = interaction.output_text
    for value in ("7.8", "142", "131", "88"):
        assert value in text, f"{value} missing from: {text}"


def test_agent_then_model_in_one_chain(emulator_client):
    c = emulator_client
    research = c.interactions.create(
        input="Research advances in AI-assisted medical diagnostics.", agent=AGENT, background=True
    )
    result = poll(lambda: c.interactions.get(research.id), lambda g: g.status != "in_progress")
    assert result.status == "completed" and result.output_text
    summary = c.interactions.create(
        model=MODEL, input="Summarise that report in three bullets.", previous_interaction_id=research.id
    )
    assert summary.output_text
