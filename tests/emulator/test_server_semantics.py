"""Server behaviour that needs raw HTTP or a differently configured emulator (faults, retention)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from google import genai
from google.genai import _interactions as ierr
from google.genai import errors, types

from tests.emulator.conftest import MODEL
from tests.emulator.helpers import json_format
from tests.emulator_fixture import EmulatorHandle


def _client(base_url: str) -> genai.Client:
    return genai.Client(
        api_key="test-fake-key",
        http_options=types.HttpOptions(base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1)),
    )


@pytest.fixture(scope="module")
def faulty() -> EmulatorHandle:
    handle = EmulatorHandle(seed=3, extra_args=("--fault-rate", "1.0"))
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def short_lived() -> EmulatorHandle:
    handle = EmulatorHandle(seed=3, extra_args=("--retention-seconds", "0.5"))
    yield handle
    handle.stop()


def test_faults_raise_sdk_classes(faulty):
    c = _client(faulty.base_url)
    seen: set[type] = set()
    for _ in range(8):
        with pytest.raises((ierr.RateLimitError, ierr.InternalServerError)) as e:
            c.interactions.create(model=MODEL, input="hi")
        assert e.value.status_code in (429, 503)
        seen.add(type(e.value))
    assert seen == {ierr.RateLimitError, ierr.InternalServerError}
    with pytest.raises((errors.ClientError, errors.ServerError)) as ge:
        c.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert ge.value.code in (429, 503)
    assert faulty.stats()["stored"] == 0


def test_fault_sequence_is_deterministic_for_a_seed(faulty):
    def codes() -> list[int]:
        faulty.reset()
        return [
            httpx.post(
                f"{faulty.base_url}/v1/interactions", json={"model": MODEL, "input": "x"}, headers=KEY
            ).status_code
            for _ in range(12)
        ]

    first = codes()
    assert first == codes()
    assert set(first) == {429, 503}


def test_retention_expires_interactions(short_lived):
    c = _client(short_lived.base_url)
    i = c.interactions.create(model=MODEL, input="Hi")
    assert c.interactions.get(i.id).status == "completed"
    time.sleep(0.8)
    with pytest.raises(ierr.NotFoundError):
        c.interactions.get(i.id)


def test_reset_clears_state(emulator, emulator_client):
    i = emulator_client.interactions.create(model=MODEL, input="Hi")
    emulator.reset()
    assert emulator.requests() == []
    with pytest.raises(ierr.NotFoundError):
        emulator_client.interactions.get(i.id)


KEY = {"x-goog-api-key": "test-fake-key"}


def _post(emulator, body, path="/v1beta/interactions"):
    return httpx.post(emulator.base_url + path, json=body, headers=KEY)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "hi"}, "model"),
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "agent": "deep-research-preview-04-2026", "input": "x"}, "agent"),
        ({"model": MODEL, "input": 42}, "input"),
        ({"model": MODEL, "input": [{"type": "user_input", "content": [{"type": "image"}]}]}, "input[0].content[0]"),
        ({"model": MODEL, "input": [{"type": "function_result", "result": {}}]}, "input[0].call_id"),
        ({"model": MODEL, "input": "x", "system_instruction": ["a"]}, "system_instruction"),
        ({"model": MODEL, "input": "x", "tools": {"type": "function"}}, "tools"),
        ({"model": MODEL, "input": "x", "tools": [{"type": "teleport"}]}, "tools[0].type"),
        ({"model": MODEL, "input": "x", "generation_config": {"temperature": "hot"}}, "generation_config.temperature"),
        ({"model": MODEL, "input": "x", "response_format": [1]}, "response_format[0]"),
        ({"model": MODEL, "input": "x", "stream": "yes"}, "stream"),
        (
            {"model": MODEL, "input": "x", "response_format": json_format({"type": "object", "required": "name"})},
            "response_format.schema",
        ),
        (
            {
                "model": MODEL,
                "input": "x",
                "tools": [{"type": "function", "name": "f", "parameters": {"type": "blob"}}],
            },
            "tools[0].parameters",
        ),
    ],
)
def test_malformed_body_is_400_naming_the_field(emulator, body, field):
    r = _post(emulator, body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_request"
    assert f"'{field}" in err["message"]


def test_non_json_body_is_400(emulator):
    r = httpx.post(
        f"{emulator.base_url}/v1/interactions",
        content=b"{not json",
        headers={"content-type": "application/json", **KEY},
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]


def test_unknown_route_is_404_json(emulator):
    r = httpx.get(f"{emulator.base_url}/v1/unknown", headers=KEY)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_request_log_shape(emulator, emulator_client):
    emulator_client.interactions.create(model=MODEL, input="Hello there", labels={"k": "v"})
    (entry,) = emulator.requests()
    assert entry["method"] == "POST" and entry["path"] == "/v1/interactions"
    assert entry["body"]["input"] == "Hello there"
    assert entry["bytes"] > len("Hello there")
    assert entry["status"] == 200


def test_stream_replay_with_unknown_event_id_is_400(emulator, emulator_client):
    i = emulator_client.interactions.create(model=MODEL, input="Hi")
    with pytest.raises(ierr.BadRequestError):
        list(emulator_client.interactions.get(i.id, stream=True, last_event_id="e999"))


def test_chaining_to_running_interaction_is_400(emulator_client):
    c = emulator_client
    bg = c.interactions.create(model=MODEL, input="Hi", background=True)
    with pytest.raises(ierr.BadRequestError):
        c.interactions.create(model=MODEL, input="next", previous_interaction_id=bg.id)


def test_interaction_scoped_settings_are_not_inherited(emulator, emulator_client):
    c = emulator_client
    t1 = c.interactions.create(
        model=MODEL, input="Hi, I'm Noor.", system_instruction="Next: Ask for the patient's date of birth."
    )
    assert "date of birth" in t1.output_text
    t2 = c.interactions.create(model=MODEL, input="Okay.", previous_interaction_id=t1.id)
    assert "date of birth" not in t2.output_text
    assert t2.system_instruction is None
    assert c.interactions.get(t1.id).system_instruction.startswith("Next:")


def test_max_output_tokens_truncates(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL,
        input="Hi, I'm Noor Haddad, I have a headache and a fever.",
        system_instruction="Next: Ask which medications they take, with dose and how often.",
        generation_config={"max_output_tokens": 8},
    )
    assert i.status == "incomplete"
    assert len(i.output_text) <= 8 * 4 + len(" (offline emulator)")


def test_same_seed_same_reply(emulator_client):
    args = {
        "model": MODEL,
        "input": "Hi, I take aspirin 81 mg daily.",
        "system_instruction": "Next: Ask about their allergies.",
    }
    a = emulator_client.interactions.create(**args).output_text
    b = emulator_client.interactions.create(**args).output_text
    assert a == b


def test_use_emulator_points_django_settings(use_emulator, settings):
    assert use_emulator.base_url == settings.GEMINI_BASE_URL
    assert settings.GEMINI_API_KEY == "test-fake-key"
    assert use_emulator.requests() == []


@pytest.fixture(scope="module")
def flaky_research() -> EmulatorHandle:
    handle = EmulatorHandle(research_seconds=0.3, seed=11, extra_args=("--fault-rate", "0.5"))
    yield handle
    handle.stop()


def test_research_fails_under_faults(flaky_research):
    c = _client(flaky_research.base_url)
    started = []
    for _ in range(40):
        try:
            started.append(
                c.interactions.create(agent="deep-research-preview-04-2026", input="Research gout.", background=True)
            )
        except (ierr.RateLimitError, ierr.InternalServerError):
            continue
    assert len(started) >= 5

    def final(iid: str):
        while True:
            try:
                g = c.interactions.get(iid)
            except (ierr.RateLimitError, ierr.InternalServerError):
                continue
            if g.status != "in_progress":
                return g
            time.sleep(0.1)

    finals = [final(r.id) for r in started]
    failed = [g for g in finals if g.status == "failed"]
    assert failed and any(g.status == "completed" for g in finals)
    assert failed[0].errors[0].code == "unavailable"
    assert failed[0].output_text == ""


def test_missing_api_key_is_refused_like_google(emulator):
    r = httpx.post(f"{emulator.base_url}/v1beta/interactions", json={"model": MODEL, "input": "hi"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    g = httpx.post(f"{emulator.base_url}/v1beta/models/gemini-2.5-flash:generateContent", json={"contents": "hi"})
    assert g.status_code == 403 and g.json()["error"]["status"] == "PERMISSION_DENIED"
    ok = httpx.post(f"{emulator.base_url}/v1beta/interactions?key=abc", json={"model": MODEL, "input": "hi"})
    assert ok.status_code == 200


def test_json_format_without_schema(emulator_client):
    i = emulator_client.interactions.create(
        model=MODEL,
        input="I'm Oskar Berg and I take insulin 10 units at night.",
        response_format={"type": "text", "mime_type": "application/json"},
    )
    data = json.loads(i.output_text)
    assert data["patient_name"] == "Oskar Berg" and data["medications"] == ["insulin 10 units at bedtime"]


def test_tools_and_response_format_are_not_inherited(emulator_client):
    from tests.emulator.helpers import CHART_TOOL

    c = emulator_client
    schema = {"type": "object", "properties": {"patient_name": {"type": "string"}}, "required": ["patient_name"]}
    t1 = c.interactions.create(
        model=MODEL, input="I'm Petra Novak.", tools=[CHART_TOOL], response_format=json_format(schema)
    )
    assert json.loads(t1.output_text) == {"patient_name": "Petra Novak"}
    t2 = c.interactions.create(model=MODEL, input="Please check my medications.", previous_interaction_id=t1.id)
    assert t2.status == "completed" and t2.tools is None and t2.response_format is None
    assert not t2.output_text.startswith("{")


def test_openapi_style_schema_and_plain_text_format_are_accepted(emulator_client):
    upper = {"type": "OBJECT", "properties": {"name": {"type": "STRING", "nullable": True}}, "required": ["name"]}
    i = emulator_client.interactions.create(model=MODEL, input="I'm Ada Moreau.", response_format=json_format(upper))
    assert json.loads(i.output_text) == {"name": "Ada Moreau"}
    t = emulator_client.interactions.create(model=MODEL, input="Hi", response_format={"type": "text"})
    assert t.output_text.endswith("(offline emulator)")


def test_garbage_bodies_get_4xx_json_never_5xx(emulator):
    import random

    rng = random.Random(5)
    values = [
        None,
        True,
        0,
        -1,
        1.5,
        "",
        "x",
        [],
        {},
        [1],
        [{}],
        {"type": "text"},
        [{"type": "user_input"}],
        [{"type": "function_result"}],
        {"type": "function_call", "id": "a", "name": "b", "arguments": []},
        [{"type": "user_input", "content": [{"type": "image", "data": "!!!"}]}],
        {"type": "OBJECT"},
        5,
    ]
    keys = [
        "model",
        "agent",
        "input",
        "previous_interaction_id",
        "system_instruction",
        "tools",
        "response_format",
        "generation_config",
        "store",
        "stream",
        "background",
        "agent_config",
        "response_mime_type",
    ]
    for _ in range(150):
        body = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, 6))}
        body.pop("stream", None)
        r = _post(emulator, body)
        assert r.status_code < 500, body
        if r.status_code != 200:
            assert isinstance(r.json()["error"]["message"], str)
        gc = {"contents": rng.choice(values), "generationConfig": rng.choice(values), "tools": rng.choice(values)}
        r = _post(emulator, {k: v for k, v in gc.items() if v is not None}, path="/v1beta/models/g:generateContent")
        assert r.status_code < 500, gc
