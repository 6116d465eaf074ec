"""The model plug-ins behind the protocol: scripted replies, and the realistic mode's LLM habits."""

from __future__ import annotations

import json

import pytest
from google.genai import _interactions as ierr

from tests.emulator.conftest import MODEL
from tests.emulator.helpers import CHART_TOOL, json_format

NOTE_TOOL = {
    "type": "function",
    "name": "save_note",
    "description": "Save what the patient said.",
    "parameters": {
        "type": "object",
        "properties": {"patient_name": {"type": "string", "description": "The patient's full name"}},
    },
}
SYSTEM = "You are a clinic intake assistant.\nNext: Ask which medications they take, with dose and how often."


def test_scripted_replies_are_served_in_order_then_the_general_model(emulator, emulator_client):
    emulator.script(
        [
            [
                {
                    "type": "function_call",
                    "id": "call_1",
                    "name": "read_patient_chart",
                    "arguments": {"sections": ["allergies"]},
                }
            ],
            [{"type": "model_output", "content": [{"type": "text", "text": "Scripted answer."}]}],
        ]
    )
    c = emulator_client
    first = c.interactions.create(model=MODEL, input="Hello", tools=[CHART_TOOL])
    assert first.status == "requires_action"
    assert [s.type for s in first.steps] == ["thought", "function_call"]  # signed like any call
    second = c.interactions.create(
        model=MODEL,
        previous_interaction_id=first.id,
        tools=[CHART_TOOL],
        input=[{"type": "function_result", "call_id": "call_1", "name": "read_patient_chart", "result": {}}],
    )
    assert second.output_text == "Scripted answer."
    third = c.interactions.create(model=MODEL, input="Hello")
    assert third.output_text.endswith("(offline emulator)")


def test_bad_script_is_400(emulator):
    import httpx

    r = httpx.post(emulator.base_url + "/_emulator/script", json={"replies": [{"type": "text"}]})
    assert r.status_code == 400


def test_realistic_calls_every_fillable_function_in_parallel(emulator, emulator_client):
    emulator.set_mode("realistic")
    i = emulator_client.interactions.create(
        model=MODEL,
        input="I'm Lena Park. What's next?",
        system_instruction=SYSTEM,
        tools=[CHART_TOOL, NOTE_TOOL],
    )
    names = [s.name for s in i.steps if s.type == "function_call"]
    assert i.status == "requires_action" and sorted(names) == ["read_patient_chart", "save_note"]
    ids = [s.id for s in i.steps if s.type == "function_call"]
    assert len(set(ids)) == len(ids)
    assert i.steps[0].type == "thought" and i.steps[0].signature  # one signature for the parallel group


def test_realistic_structured_output_is_repairable_and_then_valid(emulator, emulator_client):
    emulator.set_mode("realistic")
    schema = {"type": "object", "properties": {"patient_name": {"type": "string"}}, "required": ["patient_name"]}
    c = emulator_client
    seen_broken = False
    for n in range(8):
        t = c.interactions.create(model=MODEL, input=f"Hi, I'm Tomas Berg number {n}.")
        out = c.interactions.create(
            model=MODEL, input="Summarise.", previous_interaction_id=t.id, response_format=json_format(schema)
        )
        try:
            value = json.loads(out.output_text)
        except ValueError:
            seen_broken = True
            # The one repair: ask again in the same chain; the answer is then valid JSON.
            again = c.interactions.create(
                model=MODEL,
                input="That was not valid JSON. Reply with the JSON object only.",
                previous_interaction_id=out.id,
                response_format=json_format(schema),
            )
            value = json.loads(again.output_text)
        assert value["patient_name"].startswith("Tomas Berg")
    assert seen_broken, "over 8 conversations the realistic model sends at least one malformed answer"


def test_mode_is_validated_and_reset(emulator, emulator_client):
    import httpx

    assert httpx.post(emulator.base_url + "/_emulator/mode", json={"mode": "chaotic"}).status_code == 400
    emulator.set_mode("realistic")
    assert emulator.stats()["model_mode"] == "realistic"
    emulator.reset()
    assert emulator.stats()["model_mode"] == "general"


def test_realistic_mode_still_refuses_what_google_refuses(emulator, emulator_client):
    emulator.set_mode("realistic")
    with pytest.raises(ierr.NotFoundError):
        emulator_client.interactions.create(model="gemini-1.5-pro", input="Hi")
