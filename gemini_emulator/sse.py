"""Server-sent events: building the Interactions event sequence and framing it on the wire."""

from __future__ import annotations

import json
import re
from typing import Any

from gemini_emulator.store import Record


def frame(event: dict[str, Any]) -> bytes:
    """One SSE message: an `event:` line naming the type and a single-line JSON `data:`."""
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event.get('event_type', 'message')}\ndata: {data}\n\n".encode()


def frame_data(payload: dict[str, Any]) -> bytes:
    """A bare `data:` message (generateContent's streaming format)."""
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


_CHUNK = re.compile(r"\S+\s*|\s+")


def text_chunks(text: str, words: int = 4) -> list[str]:
    """Split text into small deltas at word boundaries (whitespace kept, so joins are exact)."""
    parts = _CHUNK.findall(text)
    if not parts:
        return [text] if text else []
    return ["".join(parts[i : i + words]) for i in range(0, len(parts), words)]


def emit_start(rec: Record) -> None:
    rec.emit({"event_type": "interaction.created", "interaction": rec.header()})
    rec.emit({"event_type": "interaction.status_update", "interaction_id": rec.id, "status": "in_progress"})


def emit_step(rec: Record, index: int, step: dict[str, Any]) -> None:
    """step.start / step.delta* / step.stop for one output step."""

    def start(head: dict[str, Any]) -> None:
        rec.emit({"event_type": "step.start", "index": index, "step": head})

    def delta(body: dict[str, Any]) -> None:
        rec.emit({"event_type": "step.delta", "index": index, "delta": body})

    kind = step.get("type")
    if kind == "model_output":
        start({"type": "model_output"})
        for block in step.get("content", []):
            if block.get("type") == "text":
                for piece in text_chunks(block.get("text", "")):
                    delta({"type": "text", "text": piece})
                if block.get("annotations"):
                    delta({"type": "text_annotation_delta", "annotations": block["annotations"]})
            else:
                delta({k: v for k, v in block.items() if k in ("type", "data", "uri", "mime_type")})
    elif kind == "thought":
        start({"type": "thought"})
        for s in step.get("summary") or []:
            delta({"type": "thought_summary", "content": s})
        if step.get("signature"):
            delta({"type": "thought_signature", "signature": step["signature"]})
    elif kind == "function_call":
        start({"type": "function_call", "id": step["id"], "name": step["name"], "arguments": {}})
        args = json.dumps(step.get("arguments", {}), ensure_ascii=False)
        for piece in _split_fixed(args, 24):
            delta({"type": "arguments_delta", "arguments": piece})
    else:
        start(step)
    rec.emit({"event_type": "step.stop", "index": index})


def _split_fixed(s: str, n: int) -> list[str]:
    return [s[i : i + n] for i in range(0, len(s), n)] or [""]


def emit_finish(rec: Record) -> None:
    if rec.status == "failed" and rec.errors:
        rec.emit({"event_type": "error", "error": rec.errors[-1]})
    done = rec.header()
    if rec.usage is not None:
        done["usage"] = rec.usage
    rec.emit({"event_type": "interaction.completed", "interaction": done})
