"""generateContent / streamGenerateContent: translate Google's camelCase wire format to and from
the same offline model the Interactions API uses. Both proto-JSON spellings are accepted."""

from __future__ import annotations

import json
import secrets
from typing import Any

from gemini_emulator import model, sse
from gemini_emulator.wire import bad, check_schema


def _get(d: Any, *keys: str) -> Any:
    if not isinstance(d, dict):
        return None
    for k in keys:
        if k in d:
            return d[k]
    return None


def _part_block(part: dict[str, Any]) -> dict[str, Any] | None:
    if "text" in part:
        return {"type": "text", "text": str(part["text"])}
    inline = _get(part, "inlineData", "inline_data")
    if inline:
        mime = _get(inline, "mimeType", "mime_type") or "application/octet-stream"
        return {"type": _kind(mime), "data": _get(inline, "data") or "", "mime_type": mime}
    file = _get(part, "fileData", "file_data")
    if file:
        mime = _get(file, "mimeType", "mime_type") or "application/octet-stream"
        return {"type": _kind(mime), "uri": _get(file, "fileUri", "file_uri") or "", "mime_type": mime}
    return None


def _kind(mime: str) -> str:
    for k in ("image", "audio", "video"):
        if mime.startswith(k + "/"):
            return k
    return "document"


def contents_to_steps(contents: Any) -> list[dict[str, Any]]:
    if isinstance(contents, (str, dict)):
        contents = [contents]
    if not isinstance(contents, list):
        raise bad("Invalid value for 'contents': expected a list of Content objects.")
    steps: list[dict[str, Any]] = []
    for i, c in enumerate(contents):
        if isinstance(c, str):
            c = {"role": "user", "parts": [{"text": c}]}
        if not isinstance(c, dict) or not isinstance(c.get("parts"), list):
            raise bad(f"Invalid value at 'contents[{i}].parts': expected a list of parts.")
        role = c.get("role") or "user"
        blocks = []
        for j, p in enumerate(c["parts"]):
            if not isinstance(p, dict):
                raise bad(f"Invalid value at 'contents[{i}].parts[{j}]': expected an object.")
            fc = _get(p, "functionCall", "function_call")
            fr = _get(p, "functionResponse", "function_response")
            if fc:
                steps.append(
                    {
                        "type": "function_call",
                        "id": fc.get("id") or fc.get("name", "call"),
                        "name": fc.get("name", ""),
                        "arguments": fc.get("args") or {},
                    }
                )
                continue
            if fr:
                steps.append(
                    {
                        "type": "function_result",
                        "call_id": fr.get("id") or fr.get("name", "call"),
                        "name": fr.get("name"),
                        "result": fr.get("response", {}),
                    }
                )
                continue
            if p.get("thought"):
                continue
            block = _part_block(p)
            if block is not None:
                blocks.append(block)
        if blocks:
            steps.append({"type": "model_output" if role == "model" else "user_input", "content": blocks})
    return steps


def parse_request(body: Any, *, seed: int) -> model.ModelInput:
    if not isinstance(body, dict):
        raise bad("Invalid request body: expected a JSON object.")
    if "contents" not in body:
        raise bad("Missing required field 'contents'.")
    steps = contents_to_steps(body["contents"])
    if not steps:
        raise bad("Invalid value for 'contents': at least one part is required.")
    sys_inst = _get(body, "systemInstruction", "system_instruction")
    if isinstance(sys_inst, dict):
        parts = sys_inst.get("parts", [])
        if not isinstance(parts, list):
            raise bad("Invalid value for 'system_instruction.parts': expected a list of parts.")
        sys_inst = "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
    elif sys_inst is not None and not isinstance(sys_inst, str):
        raise bad("Invalid value for 'system_instruction': expected a Content object.")
    raw_tools = _get(body, "tools") or []
    if not isinstance(raw_tools, list):
        raise bad("Invalid value for 'tools': expected a list.")
    tools = []
    for i, t in enumerate(raw_tools):
        if not isinstance(t, dict):
            raise bad(f"Invalid value at 'tools[{i}]': expected an object.")
        decls = _get(t, "functionDeclarations", "function_declarations") or []
        if not isinstance(decls, list):
            raise bad(f"Invalid value for 'tools[{i}].function_declarations': expected a list.")
        for j, fd in enumerate(decls):
            where = f"tools[{i}].function_declarations[{j}]"
            if not isinstance(fd, dict) or not isinstance(fd.get("name"), str) or not fd["name"]:
                raise bad(f"Invalid value at '{where}': a function declaration needs a name.")
            params = _get(fd, "parametersJsonSchema", "parameters_json_schema") or _get(fd, "parameters")
            tools.append(
                {
                    "type": "function",
                    "name": fd["name"],
                    "description": str(fd.get("description", "")),
                    "parameters": check_schema(params, f"{where}.parameters") if params else {},
                }
            )
    gen = _get(body, "generationConfig", "generation_config") or {}
    if not isinstance(gen, dict):
        raise bad("Invalid value for 'generation_config': expected an object.")
    schema = _get(gen, "responseJsonSchema", "response_json_schema")
    if schema is not None:
        schema = check_schema(schema, "generation_config.response_json_schema")
    elif _get(gen, "responseSchema", "response_schema") is not None:
        schema = check_schema(_get(gen, "responseSchema", "response_schema"), "generation_config.response_schema")
    if schema is None and _get(gen, "responseMimeType", "response_mime_type") == "application/json":
        schema = {}
    max_tokens = _get(gen, "maxOutputTokens", "max_output_tokens")
    # Split so the last user turn is "new" and the rest is the re-sent history.
    cut = max((i for i, s in enumerate(steps) if s["type"] in ("user_input", "function_result")), default=0)
    while cut > 0 and steps[cut - 1]["type"] == "function_result":
        cut -= 1
    return model.ModelInput(
        history=steps[:cut],
        new_steps=steps[cut:],
        system_instruction=sys_inst if isinstance(sys_inst, str) else None,
        tools=tools,
        response_schema=schema,
        generation_config=_generation_config(gen, max_tokens),
        seed=seed,
    )


def _generation_config(gen: dict[str, Any], max_tokens: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"max_output_tokens": max_tokens} if isinstance(max_tokens, int) else {}
    thinking = _get(gen, "thinkingConfig", "thinking_config")
    level = _get(thinking, "thinkingLevel", "thinking_level") if isinstance(thinking, dict) else None
    if isinstance(level, str):
        out["thinking_level"] = level.lower()
    return out


def _parts(result: model.ModelResult) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for step in result.steps:
        if step["type"] == "model_output":
            for b in step.get("content", []):
                if b.get("type") == "text":
                    parts.append({"text": b["text"]})
        elif step["type"] == "function_call":
            parts.append({"functionCall": {"id": step["id"], "name": step["name"], "args": step["arguments"]}})
    return parts


def _usage_meta(usage: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "promptTokenCount": usage["total_input_tokens"],
        "candidatesTokenCount": usage["total_output_tokens"],
        "totalTokenCount": usage["total_input_tokens"] + usage["total_output_tokens"] + usage["total_thought_tokens"],
    }
    if usage["total_thought_tokens"]:
        meta["thoughtsTokenCount"] = usage["total_thought_tokens"]
    if usage.get("total_cached_tokens"):
        meta["cachedContentTokenCount"] = usage["total_cached_tokens"]
    return meta


def _finish(result: model.ModelResult) -> str:
    return "MAX_TOKENS" if result.status == "incomplete" else "STOP"


def response(result: model.ModelResult, usage: dict[str, Any], model_name: str) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": _parts(result)}, "finishReason": _finish(result), "index": 0}
        ],
        "usageMetadata": _usage_meta(usage),
        "modelVersion": model_name,
        "responseId": secrets.token_hex(8),
    }


def stream_chunks(result: model.ModelResult, usage: dict[str, Any], model_name: str) -> list[dict[str, Any]]:
    rid = secrets.token_hex(8)
    pieces: list[dict[str, Any]] = []
    for part in _parts(result):
        if "text" in part:
            pieces.extend({"text": t} for t in sse.text_chunks(part["text"], words=6))
        else:
            pieces.append(part)
    chunks = []
    for i, piece in enumerate(pieces):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": [piece]}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [cand], "modelVersion": model_name, "responseId": rid}
        if i == len(pieces) - 1:
            cand["finishReason"] = _finish(result)
            chunk["usageMetadata"] = _usage_meta(usage)
        chunks.append(chunk)
    return chunks


__all__ = ["contents_to_steps", "json", "parse_request", "response", "stream_chunks"]
