"""The one place that talks to the google-genai SDK.

The rest of the app calls these functions and gets plain dataclasses and `LlmError` back, so no other
module imports `google.genai`. Whether the SDK talks to Google or to the local emulator is decided
only by settings (base URL and key); nothing here branches on it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
from django.conf import settings
from google import genai
from google.genai import _interactions as interaction_errors
from google.genai import errors as model_errors
from google.genai import types
from google.genai._gaos._hooks import adapters as sdk_hook_adapters
from google.genai._gaos._hooks.google_genai_auth import GoogleGenAIAuthHook
from google.genai._gaos.types.security import Security as SdkSecurity
from google.genai._gaos.utils import queryparams as sdk_queryparams
from google.genai._gaos.utils import serializers as sdk_serializers
from google.genai._gaos.utils import url as sdk_url

log = logging.getLogger(__name__)

# Codes worth retrying later; every other 4xx is the caller's mistake and permanent.
_TRANSIENT_STATUS = {408, 409, 429}


class LlmError(Exception):
    """A model call failed. `permanent` says whether retrying the same call can help."""

    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code

    @property
    def not_found(self) -> bool:
        return self.status_code == 404


# --- SDK workaround: cache the serializers' wrapper models ------------------------------------------
# google-genai 3.6.1's generated serializers (`_gaos/utils/serializers.py`, `unmarshal` and
# `marshal_json`) call pydantic's `create_model` on every call, so each streamed event and each request
# body builds a new model class with a full core schema for the Interaction union: about 2.7 ms of CPU
# per event (docs/benchmarks/stream.md). The class depends only on (name, type, config), so building it
# once per type gives the same validation. Installed only on the version it was written against;
# tests/agents/test_client_sdk_cache.py fails when the SDK changes, so the workaround is re-checked.
SDK_CACHE_VERSION = "3.6.1"
_sdk_create_model = sdk_serializers.create_model
_sdk_models: dict[tuple[Any, ...], Any] = {}


def _cached_create_model(model_name: str, /, **fields: Any) -> Any:
    config = fields.get("__config__")
    if set(fields) != {"body", "__config__"} or not isinstance(config, dict):
        return _sdk_create_model(model_name, **fields)  # not the serializers' shape: leave it alone
    try:
        key = (model_name, fields["body"], tuple(sorted(config.items())))
        model = _sdk_models.get(key)
    except TypeError:  # an unhashable annotation: build it every time, as the SDK does
        return _sdk_create_model(model_name, **fields)
    if model is None:
        model = _sdk_models[key] = _sdk_create_model(model_name, **fields)
    return model


# `unmarshal` also walks every request body against its type with `_coerce_iterables_for_type`, which
# only turns non-list iterables (tuples, generators) into lists, at a cost of typing introspection per
# node (a few ms for a turn carrying a chart). The app sends plain JSON values, for which it is a no-op.
_sdk_coerce = sdk_serializers._coerce_iterables_for_type
_JSON_SCALARS = (str, int, float, bool, type(None))


def _plain_json(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if type(value) is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if type(value) is list:
        return all(_plain_json(v) for v in value)
    return False


def _coerce_unless_plain(data: Any, typ: Any) -> Any:
    return data if _plain_json(data) else _sdk_coerce(data, typ)


# Building every request also resolves the type hints of its path- and query-parameter classes with
# `typing.get_type_hints` (string annotations evaluated anew each time: about 7% of the web process's
# CPU under load). A class's hints do not change once it is defined, so they are resolved once.
_sdk_get_type_hints = sdk_url.get_type_hints
_sdk_hints: dict[Any, dict[str, Any]] = {}


def _cached_type_hints(obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if args or kwargs or not isinstance(obj, type):
        return _sdk_get_type_hints(obj, *args, **kwargs)
    hints = _sdk_hints.get(obj)
    if hints is None:
        hints = _sdk_hints[obj] = _sdk_get_type_hints(obj)
    return dict(hints)  # a copy: the caller may do what it likes with it


# The async client runs its synchronous auth hook through `asyncio.to_thread` on every request (a thread
# hop, about 4% of a web worker's CPU under load). With an API key the hook only copies a key that is
# already in memory into a header (`Security`, no I/O), so it runs inline; a credentials provider
# (Vertex AI: a callable that may refresh a token over the network) still goes to the thread.
_sdk_adapter_before_request = sdk_hook_adapters.SyncToAsyncBeforeRequestAdapter.before_request


async def _auth_inline_before_request(self: Any, hook_ctx: Any, request: Any) -> Any:
    if isinstance(self._sync_hook, GoogleGenAIAuthHook) and isinstance(hook_ctx.security_source, SdkSecurity | None):
        return self._sync_hook.before_request(hook_ctx, request)
    return await _sdk_adapter_before_request(self, hook_ctx, request)


def sdk_serializer_cache_install() -> bool:
    """Install the cached `create_model` (and the plain-JSON shortcut, the cached type hints and the
    inline API-key hook) into the SDK's utilities; False on an SDK it was not written for."""
    if genai.__version__ != SDK_CACHE_VERSION:
        log.warning("google-genai %s is not %s: serializer cache not installed", genai.__version__, SDK_CACHE_VERSION)
        return False
    sdk_serializers.create_model = _cached_create_model
    sdk_serializers._coerce_iterables_for_type = _coerce_unless_plain
    sdk_url.get_type_hints = _cached_type_hints
    sdk_queryparams.get_type_hints = _cached_type_hints
    sdk_hook_adapters.SyncToAsyncBeforeRequestAdapter.before_request = _auth_inline_before_request
    return True


def sdk_serializer_cache_uninstall() -> None:
    """Restore the SDK's own functions (for the before/after benchmark)."""
    sdk_serializers.create_model = _sdk_create_model
    sdk_serializers._coerce_iterables_for_type = _sdk_coerce
    sdk_url.get_type_hints = _sdk_get_type_hints
    sdk_queryparams.get_type_hints = _sdk_get_type_hints
    sdk_hook_adapters.SyncToAsyncBeforeRequestAdapter.before_request = _sdk_adapter_before_request
    _sdk_models.clear()
    _sdk_hints.clear()


sdk_serializer_cache_install()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    thought_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            thought_tokens=self.thought_tokens + other.thought_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "thought_tokens": self.thought_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class FunctionCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class InteractionResult:
    """What the app needs from one interaction, free of SDK types."""

    id: str
    status: str
    text: str = ""
    function_calls: list[FunctionCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    request_bytes: int = 0
    latency_ms: int = 0
    error: str = ""
    # The model's thought and function_call steps exactly as received (signatures included), so a
    # stateless request can send them back: Gemini 3 refuses calls re-sent without their signature.
    model_steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requires_action(self) -> bool:
        return bool(self.function_calls)


@dataclass(frozen=True)
class StreamEvent:
    """A streamed text delta (`text`), or the final `result` once the interaction completes."""

    text: str = ""
    result: InteractionResult | None = None


@dataclass
class _WireMeter:
    request_bytes: int = 0


# Each call gets its own meter; the httpx event hook writes the size of the body as sent.
_meter: contextvars.ContextVar[_WireMeter | None] = contextvars.ContextVar("gemini_wire_meter", default=None)


def _record_request(request: Any) -> None:
    meter = _meter.get()
    if meter is not None:
        meter.request_bytes = len(request.content or b"")


async def _arecord_request(request: Any) -> None:
    _record_request(request)


def base_url() -> str:
    return settings.GEMINI_BASE_URL or "https://generativelanguage.googleapis.com"


def _api_key() -> str:
    return settings.GEMINI_API_KEY or settings.GEMINI_EMULATOR_KEY


def _async_limits() -> httpx2.Limits:
    # One web process streams many replies at once, each holding its connection for seconds; past
    # httpx's default of 100 connections the rest would wait in the pool until their attempt timed out.
    return httpx2.Limits(
        max_connections=settings.GEMINI_MAX_CONNECTIONS,
        max_keepalive_connections=min(100, settings.GEMINI_MAX_CONNECTIONS),
    )


def _http_options() -> types.HttpOptions:
    return types.HttpOptions(
        base_url=settings.GEMINI_BASE_URL or None,
        timeout=settings.GEMINI_TIMEOUT_SECONDS * 1000,
        retry_options=types.HttpRetryOptions(attempts=max(1, settings.GEMINI_RETRY_ATTEMPTS)),
        client_args={"event_hooks": {"request": [_record_request]}},
        async_client_args={"event_hooks": {"request": [_arecord_request]}, "limits": _async_limits()},
    )


_clients: dict[tuple[Any, ...], genai.Client] = {}


def _client(*, for_async: bool) -> genai.Client:
    # Async HTTP pools belong to one event loop, so async clients are kept per loop.
    loop_key = id(asyncio.get_running_loop()) if for_async else None
    key = (
        base_url(),
        _api_key(),
        settings.GEMINI_TIMEOUT_SECONDS,
        settings.GEMINI_RETRY_ATTEMPTS,
        settings.GEMINI_MAX_CONNECTIONS,
        loop_key,
    )
    client = _clients.get(key)
    if client is None:
        if len(_clients) > 32:  # loops come and go in tests; keep the cache bounded
            _clients.clear()
        client = genai.Client(api_key=_api_key(), http_options=_http_options())
        _clients[key] = client
    return client


def _to_error(exc: Exception) -> LlmError:
    if isinstance(exc, interaction_errors.APIStatusError):
        code = exc.status_code
        return LlmError(
            f"Gemini returned HTTP {code}",
            permanent=code < 500 and code not in _TRANSIENT_STATUS,
            status_code=code,
        )
    if isinstance(exc, model_errors.APIError):
        code = int(exc.code or 0)
        return LlmError(
            f"Gemini returned HTTP {code}",
            permanent=code < 500 and code not in _TRANSIENT_STATUS,
            status_code=code,
        )
    # A streamed body is read by the caller, outside the SDK's error wrapping: its transport (httpx2)
    # raises its own timeout and connection errors there.
    if isinstance(
        exc, interaction_errors.APITimeoutError | httpx.TimeoutException | httpx2.TimeoutException | TimeoutError
    ):
        return LlmError("Gemini did not answer in time", permanent=False)
    if isinstance(exc, interaction_errors.APIConnectionError | httpx.HTTPError | httpx2.HTTPError | OSError):
        return LlmError("Gemini could not be reached", permanent=False)
    return LlmError(f"Gemini call failed: {type(exc).__name__}", permanent=True)


_SDK_ERRORS = (
    interaction_errors.GeminiNextGenAPIClientError,
    model_errors.APIError,
    httpx.HTTPError,
    httpx2.HTTPError,
    OSError,
    TimeoutError,
)


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(
        input_tokens=raw.total_input_tokens or 0,
        output_tokens=raw.total_output_tokens or 0,
        cached_tokens=raw.total_cached_tokens or 0,
        thought_tokens=raw.total_thought_tokens or 0,
        total_tokens=raw.total_tokens or 0,
    )


def _usage_from_wire(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    return Usage(
        input_tokens=raw.get("total_input_tokens") or 0,
        output_tokens=raw.get("total_output_tokens") or 0,
        cached_tokens=raw.get("total_cached_tokens") or 0,
        thought_tokens=raw.get("total_thought_tokens") or 0,
        total_tokens=raw.get("total_tokens") or 0,
    )


def _result(interaction: Any, *, meter: _WireMeter, started: float) -> InteractionResult:
    calls = [
        FunctionCall(id=step.id, name=step.name, arguments=dict(step.arguments or {}))
        for step in (interaction.steps or [])
        if getattr(step, "type", None) == "function_call"
    ]
    errors = getattr(interaction, "errors", None) or []
    model_steps = [
        step.model_dump(mode="json", exclude_none=True)
        for step in (interaction.steps or [])
        if getattr(step, "type", None) in _RESENT_STEP_TYPES
    ]
    return InteractionResult(
        id=interaction.id,
        status=str(interaction.status),
        text=interaction.output_text or "",
        function_calls=calls,
        usage=_usage(interaction.usage),
        request_bytes=meter.request_bytes,
        latency_ms=int((time.monotonic() - started) * 1000),
        error="; ".join(str(getattr(e, "message", e)) for e in errors),
        model_steps=model_steps,
    )


_RESENT_STEP_TYPES = ("thought", "function_call")


@contextmanager
def _metered() -> Iterator[_WireMeter]:
    meter = _WireMeter()
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        # A stream closed from another task (the browser left mid-reply) ends in another context:
        # the token cannot be reset there, and that context's meter is not ours.
        with suppress(ValueError):
            _meter.reset(token)


def _create_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    # Omit unset keys: the wire body then carries only what the caller chose to send.
    return {key: value for key, value in kwargs.items() if value is not None}


def _raw_body_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`create` arguments for a streamed call: scalars (model, store, previous id) as typed fields, the
    structured ones (input, tools, system instruction, formats) in `extra_body`, the SDK's own way to
    send JSON fields as given. The wire body is the same JSON (tests/agents/test_client_sdk_cache.py);
    what is skipped is the SDK's typed round trip of the whole request (every step validated against the
    Interaction unions, then serialized back), which grows with the conversation and was the largest
    CPU item of a streamed turn (docs/benchmarks/stream.md). Only for the streamed call read from its
    raw lines: the SDK's automatic continuation (unary calls) re-sends `extra_body` on every hop."""
    typed: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for key, value in _create_kwargs(kwargs).items():
        if isinstance(value, dict | list):  # the SDK's json.dumps refuses anything that is not JSON, loudly
            raw[key] = value
        else:
            typed[key] = value
    if raw:
        typed["extra_body"] = raw
    return typed


def _sync_call(method: str, *args: Any, **kwargs: Any) -> InteractionResult:
    """Call one sync `client.interactions` method, metered, with SDK errors mapped to LlmError."""
    started = time.monotonic()
    with _metered() as meter:
        try:
            interaction = getattr(_client(for_async=False).interactions, method)(*args, **kwargs)
        except _SDK_ERRORS as exc:
            raise _to_error(exc) from exc
    return _result(interaction, meter=meter, started=started)


def interaction_create(**kwargs: Any) -> InteractionResult:
    """Create an interaction and wait for it (or for its `in_progress` state when background)."""
    return _sync_call("create", **_create_kwargs(kwargs))


# --- The chat budget: a hung model call is retried, and the patient hears back within the budget --------
# The SDK neither retries a timed-out Interactions call nor bounds its total time, so a hung call used to
# hold the patient for GEMINI_TIMEOUT_SECONDS (60 s). Chat calls instead get a short per-attempt timeout
# (time to first byte and between streamed chunks) and are retried while the budget lasts.
_MIN_ATTEMPT_SECONDS = 1.0


def chat_deadline() -> float:
    """A monotonic deadline one chat budget from now; pass it as `deadline=` to every call of one turn."""
    return time.monotonic() + settings.GEMINI_CHAT_BUDGET_SECONDS


def _attempt_timeout(deadline: float) -> float:
    return max(0.1, min(float(settings.GEMINI_CHAT_ATTEMPT_SECONDS), deadline - time.monotonic()))


def _retryable(exc: LlmError, deadline: float) -> bool:
    # Timeouts and dropped connections only: the SDK already retried 429/5xx with its own backoff.
    return not exc.permanent and exc.status_code is None and deadline - time.monotonic() >= _MIN_ATTEMPT_SECONDS


async def ainteraction_create(*, deadline: float | None = None, **kwargs: Any) -> InteractionResult:
    """Create an interaction and wait for it. With a `deadline` (a chat turn), a timed-out attempt is
    retried until then; without one (a long summary), one attempt of GEMINI_TIMEOUT_SECONDS."""
    if deadline is None:
        return await _acreate_once(timeout=float(settings.GEMINI_TIMEOUT_SECONDS), **kwargs)
    while True:
        try:
            return await _acreate_once(timeout=_attempt_timeout(deadline), **kwargs)
        except LlmError as exc:
            if not _retryable(exc, deadline):
                raise
            log.info("Gemini call failed (%s); retrying within the chat budget", exc)


async def _acreate_once(*, timeout: float, **kwargs: Any) -> InteractionResult:
    started = time.monotonic()
    with _metered() as meter:
        try:
            interaction = await _client(for_async=True).aio.interactions.create(
                timeout=timeout, **_create_kwargs(kwargs)
            )
        except _SDK_ERRORS as exc:
            raise _to_error(exc) from exc
    return _result(interaction, meter=meter, started=started)


async def ainteraction_stream(*, deadline: float | None = None, **kwargs: Any) -> AsyncIterator[StreamEvent]:
    """Stream an interaction: text deltas as they come, then one event carrying the final result.

    An attempt that times out (or drops) before any text reached the caller is retried within the
    chat budget; once text has been shown, a failure is raised rather than repeated."""
    deadline = deadline or chat_deadline()
    while True:
        shown = False
        try:
            async for event in _astream_once(timeout=_attempt_timeout(deadline), **kwargs):
                shown = shown or bool(event.text)
                yield event
            return
        except LlmError as exc:
            if shown or not _retryable(exc, deadline):
                raise
            log.info("Gemini stream failed (%s); retrying within the chat budget", exc)


async def _astream_once(*, timeout: float, **kwargs: Any) -> AsyncIterator[StreamEvent]:
    # The SDK builds, authenticates, sends and retries the request and raises its usual errors; the
    # events are read from the SSE lines here, because its typed event models cost far more CPU per
    # streamed chunk than the few fields the app needs (docs/benchmarks/stream.md).
    started = time.monotonic()
    text_parts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    thoughts: dict[int, dict[str, Any]] = {}
    interaction_id = ""
    status = "in_progress"
    usage = Usage()
    with _metered() as meter:
        try:
            async with _client(for_async=True).aio.interactions.with_streaming_response.create(
                stream=True, timeout=timeout, **_raw_body_kwargs(kwargs)
            ) as response:
                async for line in _sse_data_lines(response.iter_bytes()):
                    event = json.loads(line)
                    kind = event.get("event_type")
                    if kind == "step.delta":
                        delta = event.get("delta") or {}
                        if delta.get("type") == "text" and delta.get("text"):
                            text_parts.append(delta["text"])
                            yield StreamEvent(text=delta["text"])
                        elif delta.get("type") == "arguments_delta" and event.get("index") in calls:
                            calls[event["index"]]["arguments"] += delta.get("arguments") or ""
                        elif delta.get("type") == "thought_signature" and event.get("index") in thoughts:
                            # Kept byte for byte: it must go back exactly as received.
                            thoughts[event["index"]]["signature"] = delta.get("signature")
                    elif kind == "interaction.created":
                        interaction_id = event["interaction"]["id"]
                    elif kind == "step.start" and (event.get("step") or {}).get("type") == "function_call":
                        step = event["step"]
                        calls[event["index"]] = {"id": step.get("id", ""), "name": step.get("name", "")}
                        calls[event["index"]]["arguments"] = ""
                    elif kind == "step.start" and (event.get("step") or {}).get("type") == "thought":
                        thoughts[event["index"]] = {"type": "thought"}
                    elif kind == "interaction.status_update":
                        status = str(event.get("status") or status)
                    elif kind == "interaction.completed":
                        interaction = event.get("interaction") or {}
                        status = str(interaction.get("status") or status)
                        usage = _usage_from_wire(interaction.get("usage"))
                        interaction_id = interaction.get("id") or interaction_id
                    elif kind == "error":
                        code = (event.get("error") or {}).get("code")
                        raise LlmError(f"Gemini stream error: {code}", permanent=False)
        except _SDK_ERRORS as exc:
            raise _to_error(exc) from exc
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LlmError("Gemini sent a malformed stream event", permanent=False) from exc
    function_calls = [
        FunctionCall(id=c["id"], name=c["name"], arguments=_parse_arguments(c["arguments"])) for c in calls.values()
    ]
    by_index: dict[int, dict[str, Any]] = dict(thoughts)
    for index, call in zip(calls, function_calls, strict=True):
        by_index[index] = {"type": "function_call", "id": call.id, "name": call.name, "arguments": call.arguments}
    model_steps = [by_index[i] for i in sorted(by_index)]
    yield StreamEvent(
        result=InteractionResult(
            id=interaction_id,
            status=status,
            text="".join(text_parts),
            function_calls=function_calls,
            usage=usage,
            request_bytes=meter.request_bytes,
            latency_ms=int((time.monotonic() - started) * 1000),
            model_steps=model_steps,
        )
    )


async def _sse_data_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data:` payloads of a server-sent event stream, from its raw bytes.

    The stream's other lines (`event:` names repeat each event's `event_type`; blank lines end events)
    are skipped. Splitting the bytes here replaces httpx's text and line decoders, two generator layers
    per network chunk (about a third of the CPU of reading a streamed reply); JSON is UTF-8, and
    `json.loads` takes the bytes as they are."""
    rest = b""
    async for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()  # an unfinished line waits for the next chunk
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].rstrip(b"\r")
    if rest.startswith(b"data:"):
        yield rest[5:].rstrip(b"\r")


def _parse_arguments(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def interaction_get(interaction_id: str) -> InteractionResult:
    return _sync_call("get", interaction_id)


def interaction_cancel(interaction_id: str) -> InteractionResult:
    return _sync_call("cancel", interaction_id)


@dataclass(frozen=True)
class GenerateResult:
    text: str
    usage: Usage
    request_bytes: int


def content_generate(*, model: str, contents: list[dict[str, Any]], system_instruction: str) -> GenerateResult:
    """One generateContent call with the whole history re-sent (the pre-Interactions way)."""
    with _metered() as meter:
        try:
            response = _client(for_async=False).models.generate_content(
                model=model,
                contents=contents,
                config=types.GenerateContentConfig(system_instruction=system_instruction),
            )
        except _SDK_ERRORS as exc:
            raise _to_error(exc) from exc
    meta = response.usage_metadata
    prompt = (meta.prompt_token_count or 0) if meta else 0
    output = (meta.candidates_token_count or 0) if meta else 0
    usage = Usage(
        input_tokens=prompt,
        output_tokens=output,
        cached_tokens=(meta.cached_content_token_count or 0) if meta else 0,
        thought_tokens=(meta.thoughts_token_count or 0) if meta else 0,
        total_tokens=(meta.total_token_count or prompt + output) if meta else 0,
    )
    return GenerateResult(text=response.text or "", usage=usage, request_bytes=meter.request_bytes)


def endpoint_reachable() -> str | None:
    """None when the Gemini endpoint answers HTTP at all, else a short reason."""
    parts = urlsplit(base_url())
    try:
        httpx.get(f"{parts.scheme}://{parts.netloc}/", timeout=2.0)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None
