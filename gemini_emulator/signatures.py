"""Thought steps and their signatures, as Gemini 3 sends and checks them.

Source: ai.google.dev/gemini-api/docs/thought-signatures ("Gemini 3 returns thought signatures for
all model responses with a function call ... you must pass back thought signatures during function
calling, otherwise you will get a validation error (4xx)"), and the wire notes' recorded reply
`[{"type":"thought","signature":...}, {"type":"function_call",...}]`.

A signature here is an HMAC over the model steps that follow the thought, keyed by the emulator's
seed: a program that re-sends the steps exactly as received passes, one that drops, edits or
invents a signature gets the 400 Google gives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from gemini_emulator import catalog
from gemini_emulator.wire import bad

MODEL_STEP_TYPES = {"thought", "function_call", "model_output"}


def _key(seed: int) -> bytes:
    return hashlib.sha256(f"gemini-emulator-thought|{seed}".encode()).digest()


def _signed_payload(model: str, following: list[dict[str, Any]]) -> bytes:
    calls = [s for s in following if s.get("type") == "function_call"]
    body = [{"id": c.get("id"), "name": c.get("name"), "arguments": c.get("arguments")} for c in calls]
    if not calls:  # a thought before text signs the text
        body = [s.get("content") for s in following if s.get("type") == "model_output"]
    return json.dumps([model, body], sort_keys=True, separators=(",", ":")).encode()


def sign(model: str, following: list[dict[str, Any]], seed: int) -> str:
    mac = hmac.new(_key(seed), _signed_payload(model, following), hashlib.sha256).digest()
    return base64.b64encode(b"emu1" + mac[:28]).decode()


def _valid(signature: str, model: str, following: list[dict[str, Any]], seed: int) -> bool:
    return hmac.compare_digest(signature, sign(model, following, seed))


def _segment_after(steps: list[dict[str, Any]], i: int) -> list[dict[str, Any]]:
    """The model steps after a thought at `i`, up to the next thought or non-model step."""
    out = []
    for s in steps[i + 1 :]:
        if s.get("type") not in MODEL_STEP_TYPES or s.get("type") == "thought":
            break
        out.append(s)
    return out


def with_thoughts(model: str, steps: list[dict[str, Any]], seed: int, *, think: bool) -> list[dict[str, Any]]:
    """The model's output with a signed thought step before each run of calls (and, when the model
    thinks, before its text), re-signing any thought the model layer produced."""
    out: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        kind = step.get("type")
        prev = out[-1].get("type") if out else None
        needs = (kind == "function_call" and prev not in ("thought", "function_call")) or (
            kind == "model_output" and think and prev != "thought" and i == 0
        )
        if needs:
            out.append({"type": "thought"})
        out.append(dict(step))
    for i, step in enumerate(out):
        if step.get("type") == "thought" and "summary" not in step:
            step["signature"] = sign(model, _segment_after(out, i), seed)
    return out


def check_history(model: str | None, steps: list[dict[str, Any]], seed: int) -> None:
    """Refuse re-sent function calls whose thought signature is missing or not one we issued.

    Only Gemini 3 models enforce it (the docs: Gemini 2.5 and Gemini 3 Pro Image do not)."""
    if not catalog.is_gemini3(model) or "image" in (model or ""):
        return
    for i, step in enumerate(steps):
        kind = step.get("type")
        signature = step.get("signature") if kind == "thought" else None
        if signature and not _valid(signature, model or "", _segment_after(steps, i), seed):
            raise bad(f"Invalid value at 'input[{i}].signature': the thought signature is not valid.")
        if kind != "function_call":
            continue
        j = i - 1
        while j >= 0 and steps[j].get("type") == "function_call":
            j -= 1
        if j < 0 or steps[j].get("type") != "thought" or not steps[j].get("signature"):
            raise bad(
                f"Function call is missing a thought_signature at 'input[{i}]' ({step.get('name')}). "
                "Re-send the thought step exactly as received before the function call."
            )


def thought_tokens(model: str | None, gen: dict[str, Any] | None, steps: list[dict[str, Any]], salt: str) -> int:
    """Thought tokens for one interaction: the level's budget, varied a little per request."""
    if not any(s.get("type") == "thought" for s in steps):
        return 0
    level = (gen or {}).get("thinking_level") or catalog.default_thinking_level(model)
    budget = catalog.THOUGHT_TOKENS_BY_LEVEL.get(level, 0)
    if budget == 0:
        return 8 if any(s.get("type") == "function_call" for s in steps) else 0
    jitter = int(hashlib.sha256(salt.encode()).hexdigest()[:4], 16) % max(1, budget // 4)
    return budget - budget // 8 + jitter


def thinks(model: str | None, gen: dict[str, Any] | None) -> bool:
    level = (gen or {}).get("thinking_level") or catalog.default_thinking_level(model)
    return catalog.is_gemini3(model) and level != "minimal"
