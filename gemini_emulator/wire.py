"""Request validation and normalisation for the Interactions wire format.

Errors raise `ApiError` with a real HTTP status and a message that names the offending field,
the way Google's 400s do. Unknown top-level keys are accepted and ignored.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from gemini_emulator import catalog

CONTENT_TYPES = {"text", "image", "audio", "video", "document"}
STEP_TYPES = {"user_input", "model_output", "function_call", "function_result", "thought"}
TOOL_TYPES = {
    "function",
    "code_execution",
    "url_context",
    "google_search",
    "google_maps",
    "file_search",
    "mcp_server",
    "retrieval",
    "computer_use",
    "tool_search",
}
STATUS_CODES = {
    400: "invalid_request",
    401: "authentication",
    403: "permission_denied",
    404: "not_found",
    409: "conflict",
    429: "rate_limit_exceeded",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    """An error reply: HTTP status plus an {"error": {"code", "message"}} body."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or STATUS_CODES.get(status, "error")

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def bad(message: str) -> ApiError:
    return ApiError(400, message, "invalid_request")


@dataclass
class CreateRequest:
    model: str | None
    agent: str | None
    input_raw: Any
    input_steps: list[dict[str, Any]]
    previous_interaction_id: str | None = None
    system_instruction: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    response_format: Any = None
    generation_config: dict[str, Any] | None = None
    agent_config: dict[str, Any] | None = None
    store: bool = True
    stream: bool = False
    background: bool = False
    echo: dict[str, Any] = field(default_factory=dict)  # request fields echoed on the resource


def _opt(body: dict[str, Any], key: str, kind: type, noun: str, default: Any = None) -> Any:
    """An optional top-level field of one JSON type (absent or null -> default), else a 400 naming it."""
    v = body.get(key)
    if v is None:
        return default
    if not isinstance(v, kind):
        raise bad(f"Invalid value for '{key}': expected {noun}.")
    return v


def _opt_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    return bool(_opt(body, key, bool, "a boolean", default))


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    return _opt(body, key, str, "a string")


def _check_content(block: Any, where: str) -> dict[str, Any]:
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, dict):
        raise bad(f"Invalid value at '{where}': expected a content object.")
    kind = block.get("type", "text" if "text" in block else None)
    if kind not in CONTENT_TYPES:
        raise bad(f"Invalid value at '{where}.type': unknown content type {kind!r}.")
    out = dict(block, type=kind)
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise bad(f"Missing or invalid '{where}.text': a text block needs a string 'text'.")
    else:
        data, uri = block.get("data"), block.get("uri")
        if data is None and uri is None:
            raise bad(f"Invalid value at '{where}': a {kind} block needs 'data' (base64) or 'uri'.")
        if data is not None and not isinstance(data, str):
            raise bad(f"Invalid value for '{where}.data': expected a base64 string.")
        if data is not None:
            _check_base64(data, f"{where}.data")
        if uri is not None and not isinstance(uri, str):
            raise bad(f"Invalid value for '{where}.uri': expected a string.")
        mime = block.get("mime_type")
        # Google refuses a mime type the content type does not support (the SDK's Literal lists).
        if mime is not None and mime not in catalog.MIME_TYPES[kind]:
            raise bad(f"Invalid value for '{where}.mime_type': {mime!r} is not a supported {kind} type.")
        if data is not None and mime is None:
            raise bad(f"Missing '{where}.mime_type': inline {kind} data needs its mime type.")
    return out


def _check_base64(data: str, where: str) -> None:
    """Inline data must be valid standard base64 (Google answers 400 'Invalid value ... base64')."""
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"Invalid value for '{where}': not valid base64.") from None


def _check_step(step: Any, where: str) -> dict[str, Any]:
    if not isinstance(step, dict) or "type" not in step:
        raise bad(f"Invalid value at '{where}': expected a step object with a 'type' field.")
    kind = step["type"]
    if kind in CONTENT_TYPES:  # a bare content block inside a list of content
        return {"type": "user_input", "content": [_check_content(step, where)]}
    if kind not in STEP_TYPES:
        raise bad(f"Invalid value at '{where}.type': unknown step type {kind!r}.")
    out = dict(step)
    if kind in ("user_input", "model_output"):
        content = step.get("content", [])
        if isinstance(content, str):
            content = [content]
        if not isinstance(content, list):
            raise bad(f"Invalid value for '{where}.content': expected a list of content blocks.")
        out["content"] = [_check_content(c, f"{where}.content[{i}]") for i, c in enumerate(content)]
    elif kind == "function_result":
        if not isinstance(step.get("call_id"), str):
            raise bad(f"Missing or invalid '{where}.call_id': a function_result needs the call id.")
        if "result" not in step:
            raise bad(f"Missing '{where}.result': a function_result needs a result.")
    elif kind == "thought":
        sig = step.get("signature")
        if sig is not None and not isinstance(sig, str):
            raise bad(f"Invalid value for '{where}.signature': expected a base64 string.")
    elif kind == "function_call":
        for key in ("id", "name"):
            if not isinstance(step.get(key), str):
                raise bad(f"Missing or invalid '{where}.{key}'.")
        if not isinstance(step.get("arguments", {}), dict):
            raise bad(f"Invalid value for '{where}.arguments': expected an object.")
    return out


def normalize_input(raw: Any) -> list[dict[str, Any]]:
    """Any accepted `input` shape -> a list of steps."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"type": "user_input", "content": [{"type": "text", "text": raw}]}]
    if isinstance(raw, dict):
        if raw.get("type") in STEP_TYPES:
            return [_check_step(raw, "input")]
        return [{"type": "user_input", "content": [_check_content(raw, "input")]}]
    if isinstance(raw, list):
        if not raw:
            raise bad("Invalid value for 'input': the list is empty.")
        if all(isinstance(x, dict) and x.get("type") in CONTENT_TYPES for x in raw):
            blocks = [_check_content(x, f"input[{i}]") for i, x in enumerate(raw)]
            return [{"type": "user_input", "content": blocks}]
        return [_check_step(x, f"input[{i}]") for i, x in enumerate(raw)]
    raise bad("Invalid value for 'input': expected a string, a content object or a list of steps.")


def lower_types(schema: Any) -> Any:
    """OpenAPI-style schemas (type: "OBJECT", nullable) -> JSON Schema (type: "object")."""
    if isinstance(schema, list):
        return [lower_types(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "type" and isinstance(v, str):
            out[k] = v.lower()
        elif k in ("properties", "$defs", "definitions") and isinstance(v, dict):
            out[k] = {pk: lower_types(pv) for pk, pv in v.items()}
        elif k in ("anyOf", "any_of"):
            out["anyOf"] = lower_types(v)
        else:
            out[k] = lower_types(v) if isinstance(v, (dict, list)) else v
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        out.pop("nullable")
    return out


def check_schema(schema: Any, where: str) -> dict[str, Any]:
    """A usable JSON Schema or a 400 naming the field (Google rejects schemas it cannot use)."""
    if not isinstance(schema, dict):
        raise bad(f"Invalid value for '{where}': expected a JSON Schema object.")
    lowered = lower_types(schema)
    try:
        jsonschema.Draft202012Validator.check_schema(lowered)
    except jsonschema.SchemaError as e:
        path = ".".join(str(p) for p in e.path)
        raise bad(f"Invalid JSON Schema at '{where}{'.' + path if path else ''}': {e.message[:160]}") from None
    return lowered


def _check_tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("Invalid value for 'tools': expected a list.")
    tools = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict) or not isinstance(t.get("type"), str):
            raise bad(f"Invalid value at 'tools[{i}]': expected an object with a 'type' field.")
        if t["type"] not in TOOL_TYPES:
            raise bad(f"Invalid value at 'tools[{i}].type': unknown tool type {t['type']!r}.")
        if t["type"] == "function":
            if not isinstance(t.get("name"), str) or not t["name"]:
                raise bad(f"Missing 'tools[{i}].name': a function tool needs a name.")
            params = t.get("parameters")
            if params is not None:
                t = {**t, "parameters": check_schema(params, f"tools[{i}].parameters")}
        tools.append(t)
    return tools


TYPED_FORMATS = {"text", "audio", "image", "video"}


def is_typed_format(item: dict[str, Any]) -> bool:
    """`{"type": "text", "mime_type": ..., "schema": ...}` (typed) rather than a raw JSON Schema."""
    return "schema" in item or "mime_type" in item or item.get("type") in TYPED_FORMATS


def _check_response_format(raw: Any) -> Any:
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    for i, item in enumerate(items):
        where = f"response_format[{i}]" if isinstance(raw, list) else "response_format"
        if not isinstance(item, dict):
            raise bad(f"Invalid value for '{where}': expected an object.")
        if not is_typed_format(item):
            # Since the May 2026 schema change the field is polymorphic: a bare JSON Schema is refused.
            raise bad(
                f"Invalid value for '{where}': expected a typed format such as "
                "{'type': 'text', 'mime_type': 'application/json', 'schema': {...}}, not a bare JSON Schema."
            )
        if item.get("type", "text") not in TYPED_FORMATS:
            raise bad(f"Invalid value for '{where}.type': unknown format type {item.get('type')!r}.")
        if item.get("schema") is not None:
            check_schema(item["schema"], f"{where}.schema")
    return raw


def _check_enum(gen: dict[str, Any], key: str, allowed: Any) -> None:
    if key in gen and gen[key] not in allowed:
        raise bad(f"Invalid value for 'generation_config.{key}': {gen[key]!r} is not one of {sorted(allowed)}.")


def _check_agent_config(cfg: Any, agent: str | None) -> None:
    if not isinstance(cfg, dict):
        raise bad("Invalid value for 'agent_config': expected an object.")
    kind = cfg.get("type")
    if kind not in catalog.AGENT_CONFIG_TYPES:
        raise bad(f"Invalid value for 'agent_config.type': unknown agent config type {kind!r}.")
    if agent and agent.startswith("deep-research"):
        if kind != "deep-research":
            raise bad(f"Invalid value for 'agent_config.type': {agent} takes 'deep-research', not {kind!r}.")
        extra = sorted(set(cfg) - catalog.DEEP_RESEARCH_CONFIG_KEYS)
        if extra:
            raise bad(f"Invalid JSON payload received. Unknown name {extra[0]!r} at 'agent_config'.")


@dataclass(frozen=True)
class ToolChoice:
    """`generation_config.tool_choice`: a mode and, optionally, the function names allowed."""

    mode: str = "auto"
    allowed: tuple[str, ...] | None = None


def tool_choice(gen: dict[str, Any] | None) -> ToolChoice:
    """The tool choice a request asks for (a mode string or {"allowed_tools": {mode, tools}})."""
    raw = (gen or {}).get("tool_choice")
    if raw is None:
        return ToolChoice()
    if isinstance(raw, str):
        if raw not in catalog.TOOL_CHOICE_MODES:
            raise bad(f"Invalid value for 'generation_config.tool_choice': {raw!r} is not a tool choice mode.")
        return ToolChoice(raw)
    if isinstance(raw, dict) and isinstance(raw.get("allowed_tools"), dict):
        allowed = raw["allowed_tools"]
        mode = allowed.get("mode", "auto")
        names = allowed.get("tools")
        if mode not in catalog.TOOL_CHOICE_MODES:
            raise bad(f"Invalid value for 'generation_config.tool_choice.allowed_tools.mode': {mode!r}.")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise bad("Invalid value for 'generation_config.tool_choice.allowed_tools.tools': expected names.")
        return ToolChoice(mode, tuple(names) if names is not None else None)
    raise bad("Invalid value for 'generation_config.tool_choice': expected a mode or {'allowed_tools': {...}}.")


def parse_create(body: Any) -> CreateRequest:
    if not isinstance(body, dict):
        raise bad("Invalid request body: expected a JSON object.")
    model, agent = _opt_str(body, "model"), _opt_str(body, "agent")
    if model and agent:
        raise bad("Only one of 'model' or 'agent' may be set.")
    if not model and not agent:
        raise bad("Missing required field 'model' (or 'agent').")
    if model and model.startswith("models/"):
        model = model[len("models/") :]
    if model and not catalog.model_known(model):
        msg = f"models/{model} is not found for API version v1beta, or is not supported for interactions."
        raise ApiError(404, msg)
    if agent and agent not in catalog.AGENTS:
        raise ApiError(404, f"agents/{agent} is not found for API version v1beta.")
    for key, hint in catalog.REMOVED_FIELDS.items():
        if key in body:
            raise bad(f"Invalid JSON payload received. Unknown name {key!r}: the field was removed; {hint}.")
    prev = _opt_str(body, "previous_interaction_id")
    if "input" not in body and not body.get("continuation_token"):
        raise bad("Missing required field 'input'.")
    steps = normalize_input(body.get("input"))
    gen = body.get("generation_config")
    if gen is not None and not isinstance(gen, dict):
        raise bad("Invalid value for 'generation_config': expected an object.")
    if agent and gen is not None:
        raise bad("'generation_config' cannot be used with 'agent'; use 'agent_config'.")
    if gen:
        for key in ("temperature", "top_p"):
            if key in gen and not isinstance(gen[key], (int, float)):
                raise bad(f"Invalid value for 'generation_config.{key}': expected a number.")
        if "max_output_tokens" in gen and not isinstance(gen["max_output_tokens"], int):
            raise bad("Invalid value for 'generation_config.max_output_tokens': expected an integer.")
        _check_enum(gen, "thinking_level", catalog.THINKING_LEVELS)
        _check_enum(gen, "thinking_summaries", catalog.THINKING_SUMMARIES)
        if "tool_choice" in gen:
            tool_choice(gen)  # validates
    agent_config = body.get("agent_config")
    if agent_config is not None:
        _check_agent_config(agent_config, agent)
    req = CreateRequest(
        model=model,
        agent=agent,
        input_raw=body.get("input"),
        input_steps=steps,
        previous_interaction_id=prev,
        system_instruction=_opt_str(body, "system_instruction"),
        tools=_check_tools(body.get("tools")),
        response_format=_check_response_format(body.get("response_format")),
        generation_config=gen,
        agent_config=agent_config,
        store=_opt_bool(body, "store", True),
        stream=_opt_bool(body, "stream", False),
        background=_opt_bool(body, "background", False),
    )
    if req.background and not req.store:
        raise bad("'background' requires 'store' to be true.")
    for key in (
        "system_instruction",
        "tools",
        "response_format",
        "generation_config",
        "agent_config",
        "service_tier",
        "labels",
        "safety_settings",
        "webhook_config",
    ):
        if body.get(key) is not None:
            req.echo[key] = body[key]
    return req


def response_schema(response_format: Any) -> dict[str, Any] | None:
    """The JSON Schema a `response_format` asks for, if any (raw schema, typed form, or a list)."""
    if response_format is None:
        return None
    items = response_format if isinstance(response_format, list) else [response_format]
    for item in items:
        if not isinstance(item, dict):
            continue
        if is_typed_format(item):
            if item.get("type", "text") == "text" and isinstance(item.get("schema"), dict):
                return lower_types(item["schema"])
            if item.get("mime_type") == "application/json" and item.get("schema") is None:
                return {}
            continue
        return lower_types(item)  # a raw JSON Schema
    return None
