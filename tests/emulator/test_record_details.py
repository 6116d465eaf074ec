"""A tool result holding a record of scalar fields is checked against what the patient said."""

from __future__ import annotations

import pytest

TOOL = {
    "type": "function",
    "name": "member_lookup",
    "description": "Look up the member's record",
    "parameters": {
        "type": "object",
        "properties": {"sections": {"type": "array", "items": {"type": "string", "enum": ["demographics"]}}},
        "required": ["sections"],
    },
}
INSTRUCTION = "Chart sections for this step: demographics.\nNext: Ask for the best phone number."


def _round_trip(client, said: str, record: dict) -> str:
    first = client.interactions.create(
        model="gemini-3-flash-preview", input=said, tools=[TOOL], system_instruction=INSTRUCTION
    )
    calls = [s for s in first.steps if s.type == "function_call"]
    assert calls and calls[0].arguments == {"sections": ["demographics"]}
    second = client.interactions.create(
        model="gemini-3-flash-preview",
        previous_interaction_id=first.id,
        input=[{"type": "function_result", "call_id": calls[0].id, "name": calls[0].name, "result": record}],
        tools=[TOOL],
        system_instruction=INSTRUCTION,
    )
    return second.output_text


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"demographics": {"full_name": "Omar Haddad", "dob": "1985-11-02"}}, "matches"),
        ({"demographics": {"full_name": "Omar Haddad", "dob": "1985-11-03"}}, "doesn't match your record"),
        ({"demographics": {"first_name": "Omar", "last_name": "Haddad", "birthDate": "1985-11-02"}}, "matches"),
    ],
)
def test_record_details_are_compared_with_what_was_said(emulator_client, record, expected):
    reply = _round_trip(emulator_client, "This is Omar Haddad, date of birth November 2nd, 1985.", record)
    assert expected in reply
    assert "1985-11-03" not in reply, "record details are verified, never read out"
    # A match moves on to the next question; a mismatch asks the patient to check first.
    assert ("phone" in reply.lower()) == (expected == "matches")
