"""In-memory interaction store with retention, chain rebuilding and per-interaction event logs."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TERMINAL = {"completed", "failed", "cancelled", "incomplete", "budget_exceeded", "requires_action"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    # Random (not seeded) so ids never collide across emulator restarts; the model stays seeded.
    return "v1_" + secrets.token_hex(10)


@dataclass
class Record:
    id: str
    model: str | None
    agent: str | None
    status: str
    input_raw: Any
    input_steps: list[dict[str, Any]]
    previous_interaction_id: str | None
    echo: dict[str, Any]
    stored: bool = True
    background: bool = False
    output_steps: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    born: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # --- event log -------------------------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> dict[str, Any]:
        event["event_id"] = f"e{len(self.events) + 1}"
        self.events.append(event)
        self._changed.set()
        self._changed = asyncio.Event()
        return event

    def waiter(self) -> asyncio.Event:
        return self._changed

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def touch(self, status: str | None = None) -> None:
        if status:
            self.status = status
        self.updated = time.time()

    # --- views -------------------------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        """The short interaction object carried by lifecycle SSE events."""
        out: dict[str, Any] = {"id": self.id, "status": self.status, "object": "interaction"}
        if self.model:
            out["model"] = self.model
        if self.agent:
            out["agent"] = self.agent
        out["created"] = iso(self.created)
        out["updated"] = iso(self.updated)
        return out

    def to_json(self, *, with_input_steps: bool, include_input: bool) -> dict[str, Any]:
        out = self.header()
        out["role"] = "model"
        steps = list(self.input_steps) if with_input_steps else []
        out["steps"] = steps + list(self.output_steps)
        if self.usage is not None:
            out["usage"] = self.usage
        if self.previous_interaction_id:
            out["previous_interaction_id"] = self.previous_interaction_id
        out.update(self.echo)
        if self.errors:
            out["errors"] = self.errors
        if include_input and self.input_raw is not None:
            out["input"] = self.input_raw
        return out


class Store:
    def __init__(self, retention_seconds: float) -> None:
        self.retention = retention_seconds
        self._items: dict[str, Record] = {}

    def __len__(self) -> int:
        return len(self._items)

    def put(self, rec: Record) -> None:
        if rec.stored:
            self._items[rec.id] = rec

    def get(self, interaction_id: str) -> Record | None:
        rec = self._items.get(interaction_id)
        if rec is not None and self._expired(rec):
            self.delete(interaction_id)
            return None
        return rec

    def delete(self, interaction_id: str) -> Record | None:
        rec = self._items.pop(interaction_id, None)
        if rec is not None and rec.task is not None and not rec.task.done():
            rec.task.cancel()
        return rec

    def clear(self) -> None:
        for key in list(self._items):
            self.delete(key)

    def sweep(self) -> int:
        old = [k for k, r in self._items.items() if self._expired(r)]
        for k in old:
            self.delete(k)
        return len(old)

    def _expired(self, rec: Record) -> bool:
        return time.monotonic() - rec.born > self.retention

    def history(self, interaction_id: str) -> list[dict[str, Any]]:
        """The conversation up to and including `interaction_id`, oldest first.

        The chain is followed through `previous_interaction_id`; if an ancestor was deleted or has
        expired, the history stops there (what came before is lost, visibly).
        """
        chain: list[Record] = []
        seen: set[str] = set()
        cur: str | None = interaction_id
        while cur and cur not in seen:
            seen.add(cur)
            rec = self.get(cur)
            if rec is None:
                break
            chain.append(rec)
            cur = rec.previous_interaction_id
        steps: list[dict[str, Any]] = []
        for rec in reversed(chain):
            steps.extend(rec.input_steps)
            steps.extend(rec.output_steps)
        return steps
