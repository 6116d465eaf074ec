"""Deterministic token accounting.

The approximation (documented in docs/emulator.md): text costs ceil(chars / 4) tokens; an image
costs 258 tokens, audio 640, video 2580, a document 258 per PDF page (258 if it cannot be read);
a function call or result costs its JSON text; a thought step costs 16 thought tokens. History
rebuilt from the store counts as input *and* as cached input, like Google's implicit caching.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

MEDIA_TOKENS = {"image": 258, "audio": 640, "video": 2580, "document": 258}
THOUGHT_TOKENS = 16


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def content_tokens(block: Any, by_modality: dict[str, int]) -> int:
    """Tokens for one content block, added to `by_modality` as a side effect."""
    if isinstance(block, str):
        n = text_tokens(block)
        by_modality["text"] += n
        return n
    if not isinstance(block, dict):
        return 0
    kind = block.get("type", "text")
    if kind == "text":
        n = text_tokens(str(block.get("text", "")))
        by_modality["text"] += n
        return n
    if kind in MEDIA_TOKENS:
        n = MEDIA_TOKENS[kind]
        pages = block.get("_pages")  # set by the emulator when it could read a PDF
        if kind == "document" and isinstance(pages, int) and pages > 0:
            n = 258 * pages
        by_modality[kind] += n
        return n
    n = text_tokens(json.dumps(block, sort_keys=True))
    by_modality["text"] += n
    return n


def step_tokens(step: dict[str, Any], by_modality: dict[str, int]) -> int:
    kind = step.get("type")
    if kind in ("user_input", "model_output"):
        content = step.get("content") or []
        if isinstance(content, (str, dict)):
            content = [content]
        return sum(content_tokens(c, by_modality) for c in content)
    if kind == "thought":
        return 0
    if kind == "function_call":
        payload = json.dumps({"name": step.get("name"), "arguments": step.get("arguments")}, sort_keys=True)
    elif kind == "function_result":
        payload = json.dumps(step.get("result"), sort_keys=True, default=str)
    else:
        payload = json.dumps(step, sort_keys=True, default=str)
    n = text_tokens(payload)
    by_modality["text"] += n
    return n


def _modality_list(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"modality": m, "tokens": n} for m, n in sorted(counts.items()) if n]


def compute_usage(
    *,
    history: list[dict[str, Any]],
    new_input: list[dict[str, Any]],
    preamble: str,
    output: list[dict[str, Any]],
) -> dict[str, Any]:
    """Usage for one interaction: history (cached) + preamble + new input in, output steps out."""
    cached_mod: dict[str, int] = defaultdict(int)
    input_mod: dict[str, int] = defaultdict(int)
    out_mod: dict[str, int] = defaultdict(int)
    cached = sum(step_tokens(s, cached_mod) for s in history)
    for m, n in cached_mod.items():
        input_mod[m] += n
    fresh = sum(step_tokens(s, input_mod) for s in new_input)
    pre = text_tokens(preamble)
    input_mod["text"] += pre
    thought = sum(THOUGHT_TOKENS for s in output if s.get("type") == "thought")
    out = sum(step_tokens(s, out_mod) for s in output if s.get("type") != "thought")
    total_in = cached + fresh + pre
    return {
        "total_input_tokens": total_in,
        "total_output_tokens": out,
        "total_thought_tokens": thought,
        "total_cached_tokens": cached,
        "total_tool_use_tokens": 0,
        "total_tokens": total_in + out + thought,
        "input_tokens_by_modality": _modality_list(input_mod),
        "output_tokens_by_modality": _modality_list(out_mod),
        "cached_tokens_by_modality": _modality_list(cached_mod),
    }
