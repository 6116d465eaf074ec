"""Strict where Google is strict: each test names the rule's source (see gemini_emulator/catalog.py).

Everything goes through the real SDK where the SDK can send it; raw HTTP only for what the SDK
refuses client-side or no longer has a keyword for.
"""

from __future__ import annotations

import httpx
import pytest
from google.genai import _interactions as ierr

from tests.emulator.conftest import AGENT, MODEL
from tests.emulator.helpers import CHART_RESULT, CHART_TOOL, PNG_1PX, json_format

KEY = {"x-goog-api-key": "test-key"}
SYSTEM = "You are a clinic intake assistant.\nNext: Ask which medications they take, with dose and how often."


def _post(emulator, body):
    return httpx.post(emulator.base_url + "/v1beta/interactions", json=body, headers=KEY)


def _tool_call(c, model=MODEL, **extra):
    first = c.interactions.create(
        model=model, input="OK, what's next?", system_instruction=SYSTEM, tools=[CHART_TOOL], **extra
    )
    assert first.status == "requires_action"
    return first


# --- names: the API reference's ModelOption/AgentOption and the gemini-skills current lists ------


@pytest.mark.parametrize("name", ["gemini-9-ultra", "gemini-1.5-flash", "gemini-2.0-flash", "gpt-4o"])
def test_unknown_and_retired_models_are_404(emulator_client, name):
    with pytest.raises(ierr.NotFoundError) as e:
        emulator_client.interactions.create(model=name, input="Hi")
    assert name in str(e.value)


@pytest.mark.parametrize("name", ["deep-research-pro-preview-12-2025", "deep-thought"])
def test_unknown_and_retired_agents_are_404(emulator_client, name):
    with pytest.raises(ierr.NotFoundError):
        emulator_client.interactions.create(agent=name, input="Research gout.", background=True)


def test_current_agents_are_served(emulator_client):
    r = emulator_client.interactions.create(agent=AGENT, input="Research gout.", background=True)
    assert r.status == "in_progress"
    emulator_client.interactions.cancel(r.id)


# --- removed and invalid fields: the May 2026 breaking changes and the SDK's enums -------------


def test_removed_response_mime_type_is_refused(emulator):
    r = _post(emulator, {"model": MODEL, "input": "Hi", "response_mime_type": "application/json"})
    assert r.status_code == 400 and "response_mime_type" in r.json()["error"]["message"]


def test_bare_json_schema_response_format_is_refused_and_typed_form_works(emulator_client):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    with pytest.raises(ierr.BadRequestError) as e:
        emulator_client.interactions.create(model=MODEL, input="I'm Ada Moreau.", response_format=schema)
    assert "typed format" in str(e.value)
    ok = emulator_client.interactions.create(model=MODEL, input="I'm Ada Moreau.", response_format=json_format(schema))
    assert "Ada Moreau" in ok.output_text


@pytest.mark.parametrize("level", ["extreme", "HIGH", "0"])
def test_invalid_thinking_level_is_400(emulator, level):
    r = _post(emulator, {"model": MODEL, "input": "Hi", "generation_config": {"thinking_level": level}})
    assert r.status_code == 400 and "thinking_level" in r.json()["error"]["message"]


def test_valid_thinking_levels_pass_and_change_thought_tokens(emulator_client):
    low = emulator_client.interactions.create(model=MODEL, input="Hello", generation_config={"thinking_level": "low"})
    high = emulator_client.interactions.create(model=MODEL, input="Hello")  # Gemini 3 default: high
    minimal = emulator_client.interactions.create(
        model=MODEL, input="Hello", generation_config={"thinking_level": "minimal"}
    )
    assert high.usage.total_thought_tokens > 300  # a recorded real run reported 382
    assert 0 < low.usage.total_thought_tokens < high.usage.total_thought_tokens
    assert minimal.usage.total_thought_tokens == 0
    for i in (low, high, minimal):
        u = i.usage
        assert u.total_tokens == u.total_input_tokens + u.total_output_tokens + u.total_thought_tokens


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"type": "image", "data": "not base64!!", "mime_type": "image/png"}, "data"),
        ({"type": "image", "data": PNG_1PX, "mime_type": "image/svg+xml"}, "mime_type"),
        ({"type": "document", "data": "JVBERi0=", "mime_type": "application/x-msdownload"}, "mime_type"),
        ({"type": "audio", "data": PNG_1PX}, "mime_type"),
    ],
)
def test_bad_inline_data_is_400(emulator, block, field):
    body = {"model": MODEL, "input": [{"type": "user_input", "content": [{"type": "text", "text": "see"}, block]}]}
    r = _post(emulator, body)
    assert r.status_code == 400
    assert f"content[1].{field}" in r.json()["error"]["message"]


@pytest.mark.parametrize("cfg", [{"type": "turbo"}, {"type": "dynamic"}, {"type": "deep-research", "depth": 3}])
def test_unknown_agent_config_is_400(emulator, cfg):
    body = {"agent": AGENT, "input": "Research gout.", "background": True, "agent_config": cfg}
    r = _post(emulator, body)
    assert r.status_code == 400 and "agent_config" in r.json()["error"]["message"]


def test_function_result_for_a_call_never_made_is_400(emulator_client):
    first = _tool_call(emulator_client)
    with pytest.raises(ierr.BadRequestError) as e:
        emulator_client.interactions.create(
            model=MODEL,
            previous_interaction_id=first.id,
            tools=[CHART_TOOL],
            input=[{"type": "function_result", "call_id": "call_made_up", "name": "read_patient_chart", "result": {}}],
        )
    assert "call_made_up" in str(e.value)


# --- thought signatures: ai.google.dev/gemini-api/docs/thought-signatures --------------------


def _stateless_history(first):
    """The conversation so far as steps, re-sent exactly as received (thought step included)."""
    user = {"type": "user_input", "content": [{"type": "text", "text": "OK, what's next?"}]}
    model_steps = [s.model_dump(exclude_none=True) for s in first.steps]
    call = next(s for s in first.steps if s.type == "function_call")
    result = {"type": "function_result", "call_id": call.id, "name": call.name, "result": CHART_RESULT}
    return user, model_steps, result


def test_function_call_comes_after_a_signed_thought(emulator_client):
    first = _tool_call(emulator_client)
    kinds = [s.type for s in first.steps]
    assert kinds == ["thought", "function_call"]
    assert first.steps[0].signature


def test_stateless_history_with_signatures_as_received_is_accepted(emulator_client):
    first = _tool_call(emulator_client, store=False)
    user, model_steps, result = _stateless_history(first)
    done = emulator_client.interactions.create(
        model=MODEL, system_instruction=SYSTEM, tools=[CHART_TOOL], input=[user, *model_steps, result], store=False
    )
    assert done.status == "completed" and "lisinopril" in done.output_text


def test_stateless_function_call_without_its_thought_is_400_on_gemini_3(emulator_client):
    first = _tool_call(emulator_client, store=False)
    user, model_steps, result = _stateless_history(first)
    calls_only = [s for s in model_steps if s["type"] == "function_call"]
    with pytest.raises(ierr.BadRequestError) as e:
        emulator_client.interactions.create(
            model=MODEL, system_instruction=SYSTEM, tools=[CHART_TOOL], input=[user, *calls_only, result], store=False
        )
    assert "thought_signature" in str(e.value)


def test_forged_or_mismatched_signature_is_400(emulator_client):
    first = _tool_call(emulator_client, store=False)
    user, model_steps, result = _stateless_history(first)
    forged = [dict(s, signature="Zm9yZ2Vk") if s["type"] == "thought" else s for s in model_steps]
    with pytest.raises(ierr.BadRequestError):
        emulator_client.interactions.create(model=MODEL, tools=[CHART_TOOL], input=[user, *forged, result], store=False)
    # The right signature on edited arguments is not the model's call any more.
    edited = [
        dict(s, arguments={"sections": ["allergies"]}) if s["type"] == "function_call" else s for s in model_steps
    ]
    with pytest.raises(ierr.BadRequestError):
        emulator_client.interactions.create(model=MODEL, tools=[CHART_TOOL], input=[user, *edited, result], store=False)


def test_gemini_2_5_does_not_enforce_signatures(emulator_client):
    first = _tool_call(emulator_client, model="gemini-2.5-flash", store=False)
    user, model_steps, result = _stateless_history(first)
    calls_only = [s for s in model_steps if s["type"] == "function_call"]
    done = emulator_client.interactions.create(
        model="gemini-2.5-flash", tools=[CHART_TOOL], input=[user, *calls_only, result], store=False
    )
    assert done.status == "completed"


def test_streamed_function_call_carries_the_signature_delta(emulator_client):
    events = list(
        emulator_client.interactions.create(
            model=MODEL, input="OK, what's next?", system_instruction=SYSTEM, tools=[CHART_TOOL], stream=True
        )
    )
    deltas = [e.delta.type for e in events if e.event_type == "step.delta"]
    assert "thought_signature" in deltas
    assert deltas.index("thought_signature") < deltas.index("arguments_delta")


# --- tool_choice: the function calling docs' modes ---------------------------------------------


def test_tool_choice_none_never_calls(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL,
        input="OK, what's next?",
        system_instruction=SYSTEM,
        tools=[CHART_TOOL],
        generation_config={"tool_choice": "none"},
    )
    assert i.status == "completed" and not [s for s in i.steps if s.type == "function_call"]


def test_tool_choice_any_always_calls_with_valid_arguments(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL, input="Hello there.", tools=[CHART_TOOL], generation_config={"tool_choice": "any"}
    )
    calls = [s for s in i.steps if s.type == "function_call"]
    assert i.status == "requires_action" and calls and calls[0].name == "read_patient_chart"


def test_tool_choice_allowed_tools_restricts_the_call(emulator_client):
    other = {"type": "function", "name": "book_visit", "parameters": {"type": "object", "properties": {}}}
    i = emulator_client.interactions.create(
        model=MODEL,
        input="OK, what's next?",
        system_instruction=SYSTEM,
        tools=[CHART_TOOL, other],
        generation_config={"tool_choice": {"allowed_tools": {"mode": "any", "tools": ["book_visit"]}}},
    )
    assert [s.name for s in i.steps if s.type == "function_call"] == ["book_visit"]


def test_invalid_tool_choice_is_400(emulator):
    r = _post(emulator, {"model": MODEL, "input": "Hi", "generation_config": {"tool_choice": "sometimes"}})
    assert r.status_code == 400 and "tool_choice" in r.json()["error"]["message"]


# --- implicit caching: ai.google.dev/gemini-api/docs/interactions/caching ----------------------

LONG_SYSTEM = "You are a careful clinic intake assistant. " + " ".join(
    f"Rule {n}: be brief, be kind, and never diagnose." for n in range(160)
)


def test_stable_prefix_is_cached_and_a_changed_instruction_is_not(emulator_client):
    c = emulator_client
    t1 = c.interactions.create(model=MODEL, input="Hi, I'm Ana Lima.", system_instruction=LONG_SYSTEM)
    assert t1.usage.total_cached_tokens == 0  # nothing seen before
    t2 = c.interactions.create(
        model=MODEL, input="I have a cough.", system_instruction=LONG_SYSTEM, previous_interaction_id=t1.id
    )
    # The prefix shared with t1's request (instruction + t1's input) is above 1024 tokens: cached.
    assert t2.usage.total_cached_tokens >= 1024
    assert t2.usage.total_cached_tokens < t2.usage.total_input_tokens
    t3 = c.interactions.create(
        model=MODEL, input="Since Monday.", system_instruction=LONG_SYSTEM + " Step 3.", previous_interaction_id=t2.id
    )
    assert t3.usage.total_cached_tokens == 0  # the first thing in the prompt changed


def test_short_prompts_are_never_cached(emulator_client):
    c = emulator_client
    t1 = c.interactions.create(model=MODEL, input="Hi", system_instruction="Be brief.")
    t2 = c.interactions.create(
        model=MODEL, input="Again", system_instruction="Be brief.", previous_interaction_id=t1.id
    )
    assert t2.usage.total_cached_tokens == 0  # below the 1024-token minimum


# --- built-in tools: the google-search, url-context and code-execution docs; the SDK's step types --


def test_google_search_gives_call_result_and_cited_answer(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL, input="What are the warning signs of a stroke?", tools=[{"type": "google_search"}]
    )
    kinds = [s.type for s in i.steps]
    assert kinds[:2] == ["google_search_call", "google_search_result"] and kinds[-1] == "model_output"
    assert i.steps[0].arguments.queries and i.steps[1].call_id == i.steps[0].id
    block = i.steps[-1].content[0]
    cites = [a for a in block.annotations if a.type == "url_citation"]
    assert cites and any("stroke" in (a.url or "") for a in cites)
    text = block.text.encode()
    for a in cites:  # byte offsets into the answer, end exclusive
        assert 0 <= a.start_index < a.end_index <= len(text)
        assert text[a.start_index : a.end_index].decode().endswith(".")
    assert "stroke" in cites[0].url


def test_url_context_reads_known_pages_and_reports_unreachable_ones(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL,
        input="Summarise https://medlineplus.gov/asthma.html and https://example.invalid/page",
        tools=[{"type": "url_context"}],
    )
    call, result = i.steps[0], i.steps[1]
    assert call.type == "url_context_call" and len(call.arguments.urls) == 2
    assert [r.status for r in result.result] == ["success", "error"]
    assert "wheezing" in i.output_text


def test_code_execution_runs_arithmetic_only(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL, input="What is 17 * 23 + 4?", tools=[{"type": "code_execution"}]
    )
    call, result = i.steps[0], i.steps[1]
    assert call.type == "code_execution_call" and call.arguments.language == "python"
    assert "17 * 23 + 4" in call.arguments.code
    assert result.result.strip() == "395" and "395" in i.output_text
    assert i.usage.total_tool_use_tokens > 0
    # Anything that is not arithmetic is not executed: the model just answers.
    j = emulator_client.interactions.create(
        model=MODEL, input="Run __import__('os').system('ls') for me", tools=[{"type": "code_execution"}]
    )
    assert not [s for s in j.steps if s.type == "code_execution_call"]


def test_builtin_tool_steps_stream(emulator_client):
    events = list(
        emulator_client.interactions.create(
            model=MODEL, input="What is 6 * 7?", tools=[{"type": "code_execution"}], stream=True
        )
    )
    starts = [e.step.type for e in events if e.event_type == "step.start"]
    assert starts[:2] == ["code_execution_call", "code_execution_result"]
