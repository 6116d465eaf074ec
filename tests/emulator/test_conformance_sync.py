"""The pinned google-genai SDK (sync client) against the emulator, through every call it makes."""

from __future__ import annotations

import json

import jsonschema
import pytest
from google.genai import _interactions as ierr
from google.genai import types
from pydantic import BaseModel

from tests.emulator.conftest import AGENT, MODEL
from tests.emulator.helpers import CHART_RESULT, CHART_TOOL, PNG_1PX, b64, json_format, make_pdf, poll

OFFLINE = "(offline emulator)"


def test_plain_create_parses_into_typed_objects(emulator_client, emulator):
    i = emulator_client.interactions.create(model=MODEL, input="Hello")
    assert i.status == "completed"
    assert i.id.startswith("v1_")
    assert i.output_text.endswith(OFFLINE)
    assert type(i.steps[-1]).__name__ == "ModelOutputStep"
    u = i.usage
    assert u.total_tokens == u.total_input_tokens + u.total_output_tokens + u.total_thought_tokens
    assert u.total_input_tokens == 2  # ceil(len("Hello") / 4)
    assert u.total_cached_tokens == 0
    log = emulator.requests()
    assert [(e["method"], e["path"]) for e in log] == [("POST", "/v1/interactions")]
    assert log[0]["body"] == {"model": MODEL, "input": "Hello"}
    assert log[0]["bytes"] == len(json.dumps(log[0]["body"], separators=(",", ":"))) or log[0]["bytes"] > 0


@pytest.mark.parametrize("version", ["v1beta", "v1alpha"])
def test_any_version_prefix(emulator_client, emulator, version):
    i = emulator_client.interactions.create(model=MODEL, input="Hi", api_version=version)
    assert i.status == "completed"
    assert emulator.requests()[-1]["path"] == f"/{version}/interactions"


def _chat(client, text, prev=None, system=None, **kw):
    args = {"model": MODEL, "input": text, **kw}
    if prev:
        args["previous_interaction_id"] = prev
    if system:
        args["system_instruction"] = system
    return client.interactions.create(**args)


def test_three_turn_chain_remembers_first_turn_and_unchained_does_not(emulator_client):
    c = emulator_client
    t1 = _chat(
        c,
        "Hello, my name is Rosalind Okafor. Penicillin gives me a bad rash.",
        system="Next: Ask for the patient's date of birth.",
    )
    assert "Rosalind" in t1.output_text
    t2 = _chat(c, "Born 2 February 1971.", prev=t1.id, system="Next: Ask which medications they take.")
    assert "1971-02-02" in t2.output_text
    question = "Remind me: what is my name, and what am I allergic to?"
    t3 = _chat(c, question, prev=t2.id)
    assert "Rosalind Okafor" in t3.output_text
    assert "penicillin" in t3.output_text.lower()
    assert t3.previous_interaction_id == t2.id
    # History rebuilt from the store is input; this prompt is far below the caching minimum.
    assert t3.usage.total_input_tokens > t2.usage.total_input_tokens
    assert t3.usage.total_cached_tokens == 0
    alone = _chat(c, question)
    assert "Rosalind" not in alone.output_text
    assert "penicillin" not in alone.output_text.lower()
    assert "don't know your name" in alone.output_text


def test_stateless_history_as_steps(emulator_client):
    steps = [
        {"type": "user_input", "content": [{"type": "text", "text": "I'm Tariq Haddad."}]},
        {"type": "model_output", "content": [{"type": "text", "text": "Thanks Tariq. Any medications?"}]},
        {"type": "user_input", "content": [{"type": "text", "text": "What is my name?"}]},
    ]
    i = emulator_client.interactions.create(model=MODEL, input=steps)
    assert "Tariq Haddad" in i.output_text
    assert i.usage.total_cached_tokens == 0  # nothing came from the store


def test_multimodal_pdf_image_audio_video(emulator_client, emulator):
    pdf = make_pdf(["Discharge letter", "Current medication: metformin 500 mg twice daily"])
    i = emulator_client.interactions.create(
        model=MODEL,
        input=[
            {"type": "text", "text": "Here is my letter and a photo of the rash."},
            {"type": "document", "data": b64(pdf), "mime_type": "application/pdf"},
            {"type": "image", "data": PNG_1PX, "mime_type": "image/png"},
            {"type": "audio", "uri": "https://example.com/cough.mp3", "mime_type": "audio/mp3"},
            {"type": "video", "uri": "https://example.com/gait.mp4", "mime_type": "video/mp4"},
        ],
    )
    text = i.output_text
    assert "PDF (1 page" in text
    assert "metformin 500 mg twice daily" in text
    assert "PNG image" in text and "bytes" in text
    assert "audio" in text and "video" in text
    mods = {m.modality: m.tokens for m in i.usage.input_tokens_by_modality}
    assert mods["image"] == 258 and mods["document"] == 258 and mods["audio"] == 640 and mods["video"] == 2580
    sent = emulator.requests()[-1]["body"]["input"]
    assert sent[0]["type"] == "user_input"  # the SDK wraps content blocks into a step


def test_function_tool_round_trip(emulator_client):
    c = emulator_client
    system = "You are a clinic intake assistant.\nNext: Ask which medications they take, with dose and how often."
    first = c.interactions.create(model=MODEL, input="OK, what's next?", system_instruction=system, tools=[CHART_TOOL])
    assert first.status == "requires_action"
    assert first.output_text == ""
    calls = [s for s in first.steps if s.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "read_patient_chart"
    jsonschema.validate(calls[0].arguments, CHART_TOOL["parameters"])
    assert "medications" in calls[0].arguments["sections"]
    done = c.interactions.create(
        model=MODEL,
        previous_interaction_id=first.id,
        system_instruction=system,
        tools=[CHART_TOOL],
        input=[{"type": "function_result", "call_id": calls[0].id, "name": calls[0].name, "result": CHART_RESULT}],
    )
    assert done.status == "completed"
    assert "Your record lists lisinopril 10 MG Oral Tablet" in done.output_text
    assert "Are you still taking it?" in done.output_text
    # The next user turn on the same step does not look the chart up again (no loop).
    again = c.interactions.create(
        model=MODEL, previous_interaction_id=done.id, system_instruction=system, tools=[CHART_TOOL], input="Yes I am."
    )
    assert again.status == "completed"


def test_tool_not_called_when_topic_differs(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL,
        input="Sure.",
        system_instruction="Next: Ask for the patient's phone number and email address.",
        tools=[CHART_TOOL],
    )
    assert i.status == "completed"
    assert "Could you tell me your phone number and email address?" in i.output_text


class Medication(BaseModel):
    name: str
    dose: str
    frequency: str
    status: str


class Allergy(BaseModel):
    substance: str
    reaction: str


class Summary(BaseModel):
    patient_name: str
    chief_complaint: str
    medications: list[Medication]
    allergies: list[Allergy]
    urgency_level: str
    source_turns: list[int]


def test_structured_output_with_pydantic_model(emulator_client):
    c = emulator_client
    t1 = _chat(c, "My name is Ingrid Solberg and I've been having a throbbing headache since Sunday.")
    t2 = _chat(c, "I use sumatriptan 50 mg as needed, and sulfa drugs give me hives.", prev=t1.id)
    schema = Summary.model_json_schema()
    for fmt in ({"type": "text", "mime_type": "application/json", "schema": schema}, [json_format(schema)]):
        out = c.interactions.create(
            model=MODEL, input="Summarise the intake.", previous_interaction_id=t2.id, response_format=fmt
        )
        assert not out.output_text.endswith(OFFLINE)  # JSON must stay valid
        s = Summary.model_validate_json(out.output_text)
        assert s.patient_name == "Ingrid Solberg"
        assert "headache" in s.chief_complaint
        assert [m.name for m in s.medications] == ["sumatriptan"]
        assert s.medications[0].dose == "50 mg" and s.medications[0].frequency == "as needed"
        assert s.allergies[0].substance == "sulfa" and s.allergies[0].reaction == "hives"
        assert set(s.source_turns) == {1, 2}


def test_background_model_interaction_finishes_later(emulator_client):
    c = emulator_client
    i = c.interactions.create(model=MODEL, input="Hello", background=True)
    assert i.status == "in_progress" and i.steps == []
    final = poll(lambda: c.interactions.get(i.id), lambda g: g.status != "in_progress")
    assert final.status == "completed"
    assert final.output_text.endswith(OFFLINE)


def test_deep_research_polled_to_completion_then_briefed(emulator_client):
    c = emulator_client
    r = c.interactions.create(
        agent=AGENT, input="Research first-line management of hypertension in adults.", background=True
    )
    assert r.status == "in_progress" and r.agent == AGENT
    final = poll(lambda: c.interactions.get(r.id), lambda g: g.status not in ("in_progress",))
    assert final.status == "completed"
    report = final.output_text
    assert report.startswith("# Research report")
    assert "offline" in report.lower()
    assert report.count("https://") >= 3
    block = final.steps[-1].content[-1]
    assert block.annotations and block.annotations[0].type == "url_citation"
    brief = c.interactions.create(
        model=MODEL, previous_interaction_id=r.id, input="Give me a 5-bullet brief of this report for the clinician."
    )
    bullets = [ln for ln in brief.output_text.splitlines() if ln.startswith("- ")]
    assert len(bullets) == 5
    assert brief.usage.total_input_tokens > 300  # the report came from the store and is read as input


def test_research_requires_background_and_store(emulator_client):
    with pytest.raises(ierr.BadRequestError) as e:
        emulator_client.interactions.create(agent=AGENT, input="x")
    assert e.value.status_code == 400 and "background" in str(e.value)
    with pytest.raises(ierr.BadRequestError):
        emulator_client.interactions.create(agent=AGENT, input="x", background=True, store=False)


def test_cancel_research(emulator_client):
    c = emulator_client
    r = c.interactions.create(agent=AGENT, input="Research asthma inhalers.", background=True)
    cancelled = c.interactions.cancel(r.id)
    assert cancelled.status == "cancelled"
    assert c.interactions.get(r.id).status == "cancelled"
    with pytest.raises(ierr.BadRequestError):
        c.interactions.cancel(r.id)


def test_get_with_include_input(emulator_client, emulator):
    c = emulator_client
    i = c.interactions.create(model=MODEL, input="Long task")
    g = c.interactions.get(i.id, include_input=True)
    assert g.input == "Long task"
    # Gemini 3 thinks by default: a signed thought step comes before the text.
    assert [s.type for s in g.steps] == ["user_input", "thought", "model_output"]
    assert g.steps[1].signature
    assert g.output_text == i.output_text
    plain = c.interactions.get(i.id)
    assert plain.input is None
    assert emulator.requests()[-2]["query"] == {"include_input": "true", "stream": "false"}


def test_delete_then_404(emulator_client):
    c = emulator_client
    i = c.interactions.create(model=MODEL, input="Hi, I'm Zofia.")
    assert c.interactions.delete(i.id) is None
    with pytest.raises(ierr.NotFoundError) as e:
        c.interactions.get(i.id)
    assert e.value.status_code == 404
    assert e.value.body["error"]["code"] == "not_found"
    with pytest.raises(ierr.NotFoundError):
        c.interactions.create(model=MODEL, input="again", previous_interaction_id=i.id)
    with pytest.raises(ierr.NotFoundError):
        c.interactions.delete(i.id)


def test_deleted_ancestor_breaks_the_chain(emulator_client):
    c = emulator_client
    t1 = _chat(c, "My name is Wendell Price.")
    t2 = _chat(c, "I have a sore throat.", prev=t1.id)
    c.interactions.delete(t1.id)
    t3 = _chat(c, "What is my name?", prev=t2.id)
    assert "Wendell" not in t3.output_text


def test_store_false_keeps_nothing(emulator_client):
    c = emulator_client
    i = c.interactions.create(model=MODEL, input="Hi", store=False)
    assert i.status == "completed"
    with pytest.raises(ierr.NotFoundError):
        c.interactions.get(i.id)
    with pytest.raises(ierr.NotFoundError):
        c.interactions.create(model=MODEL, input="x", previous_interaction_id=i.id)


def test_streaming_text_and_replay(emulator_client):
    c = emulator_client
    events = list(c.interactions.create(model=MODEL, input="Hi, I am Amara Nwosu.", stream=True))
    kinds = [e.event_type for e in events]
    assert kinds[0] == "interaction.created" and kinds[-1] == "interaction.completed"
    assert {"step.start", "step.delta", "step.stop", "interaction.status_update"} <= set(kinds)
    text = "".join(e.delta.text for e in events if e.event_type == "step.delta" and e.delta.type == "text")
    iid = events[0].interaction.id
    assert c.interactions.get(iid).output_text == text
    assert "Amara" in text
    assert events[-1].interaction.usage.total_output_tokens > 0
    ids = [e.event_id for e in events]
    assert len(set(ids)) == len(ids)
    replay = list(c.interactions.get(iid, stream=True, last_event_id=ids[2]))
    assert [e.event_id for e in replay] == ids[3:]


def test_streaming_function_call(emulator_client):
    events = list(
        emulator_client.interactions.create(
            model=MODEL,
            input="Go ahead.",
            system_instruction="Next: Ask whether the patient has any allergies and what reaction they had.",
            tools=[CHART_TOOL],
            stream=True,
        )
    )
    starts = [e for e in events if e.event_type == "step.start" and e.step.type == "function_call"]
    assert len(starts) == 1
    idx = starts[0].index
    args = "".join(
        e.delta.arguments
        for e in events
        if e.event_type == "step.delta" and e.index == idx and e.delta.type == "arguments_delta"
    )
    parsed = json.loads(args)
    jsonschema.validate(parsed, CHART_TOOL["parameters"])
    assert "allergies" in parsed["sections"]
    assert events[-1].interaction.status == "requires_action"


def test_errors_map_to_sdk_exception_classes(emulator_client, emulator):
    c = emulator_client
    with pytest.raises(ierr.NotFoundError):
        c.interactions.get("v1_doesnotexist")
    with pytest.raises(ierr.BadRequestError) as e:
        c.interactions.create(model=MODEL, input="hi", extra_body={"store": "yes"})
    assert "store" in e.value.body["error"]["message"]
    with pytest.raises(ierr.BadRequestError) as e:
        c.interactions.create(model=MODEL, input="hi", tools=[{"type": "function"}])
    assert "tools[0].name" in e.value.body["error"]["message"]
    with pytest.raises(ierr.BadRequestError) as e:
        c.interactions.create(model=MODEL, input=[{"type": "user_input", "content": [{"type": "hologram"}]}])
    assert "input[0].content[0].type" in e.value.body["error"]["message"]
    ok = c.interactions.create(model=MODEL, input="hi", extra_body={"some_future_field": {"x": 1}})
    assert ok.status == "completed"


def test_generate_content_errors_are_genai_errors(emulator_client):
    from google.genai import errors

    with pytest.raises(errors.ClientError) as e:
        emulator_client.models.generate_content(
            model="gemini-2.5-flash", contents=[types.Content(role="user", parts=[types.Part()])]
        )
    assert e.value.code == 400 and e.value.status == "INVALID_ARGUMENT"


def test_generate_content_plain_and_stream(emulator_client):
    c = emulator_client
    r = c.models.generate_content(
        model="gemini-2.5-flash",
        contents="Hi, I'm Lucia Ferraro and I have a cough.",
        config=types.GenerateContentConfig(system_instruction="Next: Ask when the cough started."),
    )
    assert "Lucia" in r.text and "Could you tell me when the cough started?" in r.text
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.usage_metadata.prompt_token_count > 0
    chunks = list(c.models.generate_content_stream(model="gemini-2.5-flash", contents="Hello"))
    assert len(chunks) > 1
    assert "".join(ch.text or "" for ch in chunks).endswith(OFFLINE)


def test_generate_content_structured_and_tools(emulator_client):
    c = emulator_client
    r = c.models.generate_content(
        model="gemini-2.5-flash",
        contents="I'm Ana Ruiz, I take metformin 500 mg twice daily.",
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=Summary),
    )
    s = Summary.model_validate_json(r.text)
    assert s.patient_name == "Ana Ruiz" and s.medications[0].name == "metformin"
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name=CHART_TOOL["name"],
                description=CHART_TOOL["description"],
                parameters_json_schema=CHART_TOOL["parameters"],
            )
        ]
    )
    r2 = c.models.generate_content(
        model="gemini-2.5-flash",
        contents="Please check my medications.",
        config=types.GenerateContentConfig(
            tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
        ),
    )
    assert r2.function_calls and r2.function_calls[0].name == "read_patient_chart"


def test_history_resent_vs_server_side_state(emulator_client, emulator):
    """The comparison the docs make: generateContent re-sends history; interactions send only the new turn."""
    c = emulator_client
    turns = ["Hi, I'm Priya Raman.", "I've had a fever since Monday.", "What is my name?"]
    contents: list[types.Content] = []
    for t in turns:
        contents.append(types.Content(role="user", parts=[types.Part(text=t)]))
        r = c.models.generate_content(model="gemini-2.5-flash", contents=contents)
        contents.append(r.candidates[0].content)
    assert "Priya Raman" in r.text
    prev = None
    for t in turns:
        i = _chat(c, t, prev=prev)
        prev = i.id
    assert "Priya Raman" in i.output_text
    log = emulator.requests()
    gc = [e["bytes"] for e in log if "generateContent" in e["path"]]
    ix = [e["bytes"] for e in log if e["path"].endswith("/interactions")]
    assert gc[2] > gc[0] * 3  # history re-sent and growing
    assert ix[2] < gc[2] / 2  # only the new message (plus the id) is sent
    assert i.usage.total_input_tokens > 40  # the stored history is read as input
