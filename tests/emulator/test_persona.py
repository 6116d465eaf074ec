"""An intake persona with no explicit next question walks the usual intake topics itself."""

from __future__ import annotations

ARTICLE = "You are a healthcare intake assistant."


def test_intake_persona_asks_the_first_uncovered_topic(emulator_client):
    first = emulator_client.interactions.create(
        model="gemini-3-flash-preview",
        input="Hello, this is Priya Raman, date of birth 14 February 1979.",
        system_instruction=ARTICLE,
    )
    assert "phone" in first.output_text.lower() or "email" in first.output_text.lower()
    second = emulator_client.interactions.create(
        model="gemini-3-flash-preview",
        input="You can call me on 206-555-0188.",
        system_instruction=ARTICLE,
        previous_interaction_id=first.id,
    )
    assert "insurance" in second.output_text.lower()
    assert "phone" not in second.output_text.lower().split("insurance")[-1]


def test_without_the_chain_the_persona_starts_over(emulator_client):
    alone = emulator_client.interactions.create(
        model="gemini-3-flash-preview", input="You can call me on 206-555-0188.", system_instruction=ARTICLE
    )
    assert "name" in alone.output_text.lower(), "it does not know who it is talking to"


def test_other_personas_do_not_run_an_intake(emulator_client):
    reply = emulator_client.interactions.create(
        model="gemini-3-flash-preview",
        input="Hello, this is Priya Raman, date of birth 14 February 1979.",
        system_instruction="You are a helpful assistant.",
    )
    assert "insurance" not in reply.output_text.lower()
    assert "phone" not in reply.output_text.lower()
