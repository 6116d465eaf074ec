"""Implicit caching: cached tokens are the longest prefix this request shares with an earlier one.

Source: ai.google.dev/gemini-api/docs/interactions/caching. Implicit caching is on for Gemini 2.5
and newer, for stateful and stateless requests alike; a hit needs a shared *prefix* of at least the
model's minimum size, so "put large and common contents at the beginning of your prompt". The
prompt is read in order: system instruction, tool declarations, then the conversation's steps.

The emulator compares prefixes a segment at a time (the instruction, the tools, each step), not a
token at a time: a request that changes its system instruction shares nothing with the one before,
which is exactly what a program that varies its instruction per turn pays for.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

from gemini_emulator.usage import step_tokens, text_tokens


class PrefixCache:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._max = max_entries

    def hit(
        self,
        model: str,
        *,
        system_instruction: str | None,
        tools: list[dict[str, Any]],
        steps: list[dict[str, Any]],
        minimum: int,
    ) -> int:
        """Cached tokens for this request (0 below `minimum`), remembering its prefixes for later ones."""
        h = hashlib.sha256(model.encode())
        total = best = 0
        keys: list[tuple[str, str]] = []
        segments: list[tuple[bytes, int]] = [
            ((system_instruction or "").encode(), text_tokens(system_instruction or "")),
            (json.dumps(tools, sort_keys=True).encode(), text_tokens(json.dumps(tools))) if tools else (b"", 0),
        ]
        for step in steps:
            segments.append((json.dumps(step, sort_keys=True, default=str).encode(), step_tokens(step, _Sink())))
        for raw, tokens in segments:
            h.update(len(raw).to_bytes(8, "big"))
            h.update(raw)
            total += tokens
            key = (model, h.hexdigest())
            if key in self._seen:
                best = total
                self._seen.move_to_end(key)
            keys.append(key)
        for key in keys:
            self._seen[key] = None
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return best if best >= minimum else 0

    def clear(self) -> None:
        self._seen.clear()


class _Sink(dict):
    """A by-modality counter that discards what it is given."""

    def __missing__(self, key: str) -> int:
        return 0

    def __setitem__(self, key: str, value: int) -> None:
        pass
