"""The SDK serializer cache in agents/client.py: installed, still needed, and transparent.

These tests fail loudly when google-genai changes (a new pin, or serializers that no longer build a
model per call), so the workaround is re-checked rather than silently patching code it does not know.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pydantic
import pytest
from google.genai._gaos.types import interactions as sdk_types
from google.genai._gaos.utils import serializers

from agents import client

ROOT = Path(__file__).resolve().parents[2]


def test_the_cache_is_written_for_the_pinned_sdk_and_installed() -> None:
    pinned = re.search(r"^google-genai==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned is not None
    assert client.genai.__version__ == pinned.group(1) == client.SDK_CACHE_VERSION, (
        "google-genai changed: re-measure `manage.py bench_sdk`, check serializers.py, then update "
        "SDK_CACHE_VERSION in agents/client.py (or delete the workaround if upstream fixed it)"
    )
    assert serializers.create_model is client._cached_create_model
    assert serializers._coerce_iterables_for_type is client._coerce_unless_plain


def test_the_sdk_still_builds_a_model_per_call() -> None:
    # If upstream caches these itself, the workaround is dead code: remove it.
    for function in (serializers.unmarshal, serializers.marshal_json):
        source = inspect.getsource(function)
        assert "create_model(" in source, f"{function.__name__} no longer calls create_model"
        assert "body=(typ, ...)" in source
    assert "_coerce_iterables_for_type(val, typ)" in inspect.getsource(serializers.unmarshal)


def test_cached_models_still_validate() -> None:
    event = '{"event":"step.delta","data":{"event_type":"step.delta","index":0,"delta":{"type":"text","text":"Hi"}}}'
    first = serializers.unmarshal_json(event, sdk_types.InteractionSSEStreamEvent)
    second = serializers.unmarshal_json(event, sdk_types.InteractionSSEStreamEvent)
    assert first.data.delta.text == second.data.delta.text == "Hi"
    with pytest.raises(pydantic.ValidationError):
        serializers.unmarshal({"index": "not a number"}, sdk_types.StepStop)


def test_the_plain_json_shortcut_changes_nothing_the_sdk_would_not() -> None:
    from google.genai._gaos import models as sdk_models

    tool = {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}
    body = {"model": "m", "input": "hi", "tools": [tool], "stream": True}
    plain = serializers.unmarshal({"body": body}, sdk_models.CreateInteractionRequest)
    client.sdk_serializer_cache_uninstall()
    try:
        shipped = serializers.unmarshal({"body": body}, sdk_models.CreateInteractionRequest)
        as_tuple = serializers.unmarshal({"body": {**body, "tools": (tool,)}}, sdk_models.CreateInteractionRequest)
    finally:
        client.sdk_serializer_cache_install()
    assert plain == shipped == as_tuple
    # A tuple is not plain JSON: it still goes through the SDK's own coercion into a list.
    again = serializers.unmarshal({"body": {**body, "tools": (tool,)}}, sdk_models.CreateInteractionRequest)
    assert again == shipped


@pytest.fixture
def model_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pydantic model class the SDK's serializers really build (cache misses)."""
    built: list[str] = []
    original = client._sdk_create_model

    def counting(name: str, /, **fields: Any) -> Any:
        built.append(name)
        return original(name, **fields)

    monkeypatch.setattr(client, "_sdk_create_model", counting)
    monkeypatch.setattr(client, "_sdk_models", {})
    return built


async def _stream_text(text: str) -> str:
    parts = []
    async for event in client.ainteraction_stream(model="gemini-3-flash-preview", input=text):
        if event.result is not None:
            assert event.result.status == "completed"
            return event.result.text
        parts.append(event.text)
    raise AssertionError("the stream ended without a result")


async def test_a_streamed_turn_builds_no_models_once_warm(use_emulator: Any, model_builds: list[str]) -> None:
    first = await _stream_text("I have had a headache for three days.")
    assert first and model_builds, "the first turn builds each wrapper model once"
    warm = len(model_builds)
    second = await _stream_text("It is getting worse in the mornings.")
    assert second
    assert len(model_builds) == warm, f"a warm turn built {model_builds[warm:]}"


def test_the_type_hints_cache_is_installed_and_still_needed() -> None:
    from google.genai._gaos.utils import queryparams, url

    assert url.get_type_hints is queryparams.get_type_hints is client._cached_type_hints
    # If the SDK stops resolving hints per request, the workaround is dead code: remove it.
    assert "get_type_hints(path_params.__class__)" in inspect.getsource(url._populate_path_params)
    assert "get_type_hints(query_params.__class__)" in inspect.getsource(queryparams._populate_query_params)


def test_cached_type_hints_are_the_sdks_own() -> None:
    from google.genai._gaos import models as sdk_models

    cls = sdk_models.CreateInteractionRequest
    assert client._cached_type_hints(cls) == client._sdk_get_type_hints(cls)
    hints = client._cached_type_hints(cls)
    hints.clear()  # a caller's copy: the cache keeps its own
    assert client._cached_type_hints(cls) == client._sdk_get_type_hints(cls)


def _wire_body(**kwargs: Any) -> dict[str, Any]:
    """The JSON body the SDK sends for these `create` arguments (its own request builder, offline)."""
    from google.genai._gaos import models as sdk_models
    from google.genai._gaos.utils import requestbodies

    extra = kwargs.pop("extra_body", None)
    request = serializers.unmarshal({"body": kwargs}, sdk_models.CreateInteractionRequest)
    content = requestbodies.serialize_request_body(
        request.body, False, False, "json", sdk_models.CreateInteractionRequestBody, extra_body=extra
    ).content
    return json.loads(content)


def test_a_streamed_request_sends_the_same_body_without_the_typed_round_trip() -> None:
    from agents.tools import tool_declarations
    from intake import plan

    kwargs = {
        "model": "gemini-3-flash-preview",
        "system_instruction": plan.system_instruction(language=None),
        "tools": tool_declarations(),
        "store": False,
        "stream": True,
        "previous_interaction_id": None,
        "input": [
            {"type": "user_input", "content": [{"type": "text", "text": "I have had a cough for a week."}]},
            {"type": "thought", "signature": "c2lnbmF0dXJl"},
            {"type": "function_call", "id": "c1", "name": "record_answers", "arguments": {"complaint": "cough"}},
            {"type": "function_result", "call_id": "c1", "name": "record_answers", "result": {"next": "Ask"}},
            {"type": "model_output", "content": [{"type": "text", "text": "Since when?"}]},
        ],
    }
    raw = client._raw_body_kwargs(kwargs)
    assert set(raw) == {"model", "system_instruction", "store", "stream", "extra_body"}, "scalars typed"
    assert set(raw["extra_body"]) == {"tools", "input"}, "structures as given"
    assert _wire_body(**raw) == _wire_body(**client._create_kwargs(kwargs))
    # A tuple still takes the SDK's typed path (which turns it into a list).
    assert "tools" not in client._raw_body_kwargs({**kwargs, "tools": tuple(kwargs["tools"])}).get("extra_body", {})


def _auth_hook_adapter() -> Any:
    from google.genai._gaos._hooks import adapters
    from google.genai._gaos._hooks.google_genai_auth import GoogleGenAIAuthHook

    return adapters.SyncToAsyncBeforeRequestAdapter(GoogleGenAIAuthHook())


def _hook_context(security_source: Any) -> Any:
    from types import SimpleNamespace

    config = SimpleNamespace(user_agent="ua", globals=SimpleNamespace(user_project=None))
    return SimpleNamespace(security_source=security_source, config=config)


async def test_an_api_key_is_applied_without_a_thread_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import httpx2
    from google.genai._gaos.types.security import Security

    async def no_thread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the API-key hook went to a thread")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    request = httpx2.Request("POST", "http://127.0.0.1/v1beta/interactions")
    out = await _auth_hook_adapter().before_request(_hook_context(Security(api_key="k-123")), request)
    assert out.headers["x-goog-api-key"] == "k-123"


async def test_a_credentials_provider_still_runs_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import httpx2
    from google.genai._gaos.types.security import Security

    hops: list[str] = []
    real = asyncio.to_thread

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", "?"))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    request = httpx2.Request("POST", "http://127.0.0.1/v1beta/interactions")
    # A callable source may refresh a token over the network: it must not run on the event loop.
    out = await _auth_hook_adapter().before_request(_hook_context(lambda: Security(access_token="t")), request)
    assert hops == ["before_request"]
    assert out.headers["Authorization"] == "Bearer t"


def test_the_inline_auth_hook_is_installed_and_the_sdk_still_hops() -> None:
    from google.genai._gaos._hooks import adapters

    assert adapters.SyncToAsyncBeforeRequestAdapter.before_request is client._auth_inline_before_request
    # If the SDK stops sending its sync hooks to a thread, the workaround is dead code: remove it.
    assert "asyncio.to_thread" in inspect.getsource(client._sdk_adapter_before_request)


async def test_sse_data_lines_are_split_from_raw_bytes_across_chunks() -> None:
    async def chunks(*parts: bytes) -> Any:
        for part in parts:
            yield part

    wire = (
        'event: step.delta\r\ndata: {"text": "caf\u00e9"}\r\n\r\n'
        'event: done\ndata:{"n": 2}\n\n: comment\ndata: {"n": 3}'
    )
    raw = wire.encode()
    # Every split point, including inside the two bytes of the "é" and inside "\r\n".
    for cut in range(1, len(raw)):
        got = [json.loads(line) async for line in client._sse_data_lines(chunks(raw[:cut], raw[cut:]))]
        assert got == [{"text": "caf\u00e9"}, {"n": 2}, {"n": 3}], cut
    one_byte_each = [raw[i : i + 1] for i in range(len(raw))]
    got = [json.loads(x) async for x in client._sse_data_lines(chunks(*one_byte_each))]
    assert got == [{"text": "caf\u00e9"}, {"n": 2}, {"n": 3}]
