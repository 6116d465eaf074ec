"""The same SDK surface through the async client (`client.aio.interactions`)."""

from __future__ import annotations

import asyncio
import json

import pytest
from google.genai import _interactions as ierr

from tests.emulator.conftest import AGENT, MODEL
from tests.emulator.helpers import CHART_RESULT, CHART_TOOL, json_format
from tests.emulator.test_conformance_sync import Summary


async def test_async_plain_chain_and_include_input(emulator_client):
    aio = emulator_client.aio.interactions
    t1 = await aio.create(model=MODEL, input="Hi, this is Kwame Mensah; I'm allergic to latex.")
    t2 = await aio.create(model=MODEL, input="I've had back pain for 2 weeks.", previous_interaction_id=t1.id)
    t3 = await aio.create(
        model=MODEL, input="What is my name and what am I allergic to?", previous_interaction_id=t2.id
    )
    assert "Kwame Mensah" in t3.output_text and "latex" in t3.output_text
    g = await aio.get(t3.id, include_input=True)
    assert g.input == "What is my name and what am I allergic to?"
    assert g.steps[0].type == "user_input"


async def test_async_stream_text(emulator_client):
    stream = await emulator_client.aio.interactions.create(model=MODEL, input="Hello", stream=True)
    events = [e async for e in stream]
    assert events[0].event_type == "interaction.created"
    assert events[-1].event_type == "interaction.completed"
    text = "".join(e.delta.text for e in events if e.event_type == "step.delta" and e.delta.type == "text")
    assert text.endswith("(offline emulator)")


async def test_async_stream_function_call_and_result(emulator_client):
    aio = emulator_client.aio.interactions
    system = "Next: Ask which medications they take, with dose and how often."
    stream = await aio.create(model=MODEL, input="ready", system_instruction=system, tools=[CHART_TOOL], stream=True)
    events = [e async for e in stream]
    start = next(e for e in events if e.event_type == "step.start" and e.step.type == "function_call")
    args = "".join(
        e.delta.arguments for e in events if e.event_type == "step.delta" and e.delta.type == "arguments_delta"
    )
    assert "medications" in json.loads(args)["sections"]
    iid = events[0].interaction.id
    done = await aio.create(
        model=MODEL,
        previous_interaction_id=iid,
        input=[{"type": "function_result", "call_id": start.step.id, "name": start.step.name, "result": CHART_RESULT}],
    )
    assert "Your record lists lisinopril 10 MG Oral Tablet once daily. Are you still taking it?" in done.output_text


async def test_async_structured_output(emulator_client):
    aio = emulator_client.aio.interactions
    t1 = await aio.create(model=MODEL, input="I'm Hana Kato. Chest pain since this morning, 8/10.")
    out = await aio.create(
        model=MODEL,
        input="Summary please",
        previous_interaction_id=t1.id,
        response_format=json_format(Summary.model_json_schema()),
    )
    s = Summary.model_validate_json(out.output_text)
    assert s.patient_name == "Hana Kato"
    assert "chest pain" in s.chief_complaint.lower()


async def test_async_background_agent_polled_and_cancel(emulator_client):
    aio = emulator_client.aio.interactions
    r = await aio.create(agent=AGENT, input="Research migraine prophylaxis options.", background=True)
    other = await aio.create(agent=AGENT, input="Research asthma action plans.", background=True)
    cancelled = await aio.cancel(other.id)
    assert cancelled.status == "cancelled"
    for _ in range(100):
        g = await aio.get(r.id)
        if g.status != "in_progress":
            break
        await asyncio.sleep(0.2)
    assert g.status == "completed"
    assert "migraine" in g.output_text.lower() and "https://" in g.output_text


async def test_async_live_stream_of_background_research(emulator_client):
    aio = emulator_client.aio.interactions
    r = await aio.create(agent=AGENT, input="Research gout flares.", background=True)
    stream = await aio.get(r.id, stream=True)
    events = [e async for e in stream]
    notes = [e for e in events if e.event_type == "step.delta" and e.delta.type == "thought_summary"]
    assert len(notes) == 4
    assert events[-1].event_type == "interaction.completed" and events[-1].interaction.status == "completed"


async def test_async_delete_then_404_and_errors(emulator_client):
    aio = emulator_client.aio.interactions
    i = await aio.create(model=MODEL, input="Hi")
    assert await aio.delete(i.id) is None
    with pytest.raises(ierr.NotFoundError):
        await aio.get(i.id)
    with pytest.raises(ierr.BadRequestError):
        await aio.create(model=MODEL, input="x", extra_body={"background": "soon"})
    with pytest.raises(ierr.BadRequestError):
        await aio.create(agent=AGENT, input="x")


async def test_async_multimodal_and_stateless_steps(emulator_client):
    from tests.emulator.helpers import PNG_1PX, b64, make_pdf

    aio = emulator_client.aio.interactions
    pdf = make_pdf(["Clinic letter", "Diagnosis: gout"])
    i = await aio.create(
        model=MODEL,
        input=[
            {"type": "text", "text": "My letter and a photo."},
            {"type": "document", "data": b64(pdf), "mime_type": "application/pdf"},
            {"type": "image", "data": PNG_1PX, "mime_type": "image/png"},
        ],
    )
    assert "PDF (1 page" in i.output_text and "PNG image" in i.output_text and "gout" in i.output_text
    steps = [
        {"type": "user_input", "content": [{"type": "text", "text": "Call me Ines Duarte."}]},
        {"type": "model_output", "content": [{"type": "text", "text": "Thank you, Ines."}]},
        {"type": "user_input", "content": [{"type": "text", "text": "Who am I?"}]},
    ]
    j = await aio.create(model=MODEL, input=steps)
    assert "Ines Duarte" in j.output_text


# The SDK's aiohttp transport subclasses aiohttp.ClientSession, which aiohttp warns about.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
async def test_async_generate_content(emulator_client):
    r = await emulator_client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hello, I'm Arjun.")
    assert "Arjun" in r.text
    chunks = [
        c
        async for c in await emulator_client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi")
    ]
    assert "".join(c.text or "" for c in chunks).endswith("(offline emulator)")
