"""The model behind the protocol: one interface, three plug-ins.

`respond(inp) -> ModelResult` is the whole contract between the protocol layer (server.py: routes,
validation, store, streaming, usage, signatures) and a model:

- `general`: the offline model (model.py): rules and vocabularies, deterministic.
- `scripted`: replies set per test through `POST /_emulator/script`; each request takes the next
  one (falling back to `general` when the script is empty). For unit-level flows.
- `realistic`: the general model, then made to behave like an LLM where it matters to a client:
  parallel calls when several declared functions can be filled at once, an extra hop after a result,
  an occasional off-script reply (no call where one was expected), and valid but unusual JSON, with
  a malformed first structured answer now and then (code that parses it must repair or retry). The
  choices are seeded: a test run is repeatable.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from gemini_emulator import model
from gemini_emulator.model import ModelInput, ModelResult

MODES = ("general", "realistic", "scripted")


@dataclass
class RealisticRates:
    parallel: float = 1.0  # add a call for every other function the turn can fill
    extra_hop: float = 0.35  # after a result, call once more before answering
    off_script: float = 0.1  # answer in text where the general model would call
    unusual_json: float = 0.5  # reorder keys, indent, escape non-ASCII
    broken_json: float = 0.25  # the first structured answer of a conversation is fenced and truncated


class Scripted:
    def __init__(self) -> None:
        self.queue: deque[list[dict[str, Any]]] = deque()

    def push(self, replies: list[list[dict[str, Any]]]) -> None:
        self.queue.extend(replies)

    def clear(self) -> None:
        self.queue.clear()

    def respond(self, inp: ModelInput) -> ModelResult:
        if not self.queue:
            return model.generate(inp)
        steps = [dict(s) for s in self.queue.popleft()]
        calls = any(s.get("type") == "function_call" for s in steps)
        return ModelResult(steps, status="requires_action" if calls else "completed")


def _rng(inp: ModelInput, salt: str) -> random.Random:
    # Seeded by the whole conversation, so each conversation makes its own choices, repeatably.
    seen = json.dumps([inp.history, inp.new_steps], sort_keys=True, default=str)
    digest = hashlib.sha256(f"{inp.seed}|{salt}|{seen}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _functions(inp: ModelInput) -> list[dict[str, Any]]:
    return [t for t in inp.tools if t.get("type") == "function"]


def _calls(result: ModelResult) -> list[dict[str, Any]]:
    return [s for s in result.steps if s.get("type") == "function_call"]


def _called_this_turn(inp: ModelInput) -> set[str]:
    names: set[str] = set()
    for step in reversed(inp.history + inp.new_steps):
        if step.get("type") == "user_input":
            break
        if step.get("type") == "function_call":
            names.add(step.get("name", ""))
    return names


def _try_call(inp: ModelInput, tool: dict[str, Any]) -> dict[str, Any] | None:
    """Would the general model call this one function here, on its own? Then that call."""
    alone = ModelInput(
        history=inp.history,
        new_steps=inp.new_steps,
        system_instruction=inp.system_instruction,
        tools=[tool],
        generation_config=inp.generation_config,
        seed=inp.seed,
    )
    calls = _calls(model.generate(alone))
    if calls:
        return calls[0]
    # The general model's own tool choice is cautious; an LLM calls any function whose required
    # arguments the conversation already answers.
    params = tool.get("parameters") or {}
    if not params.get("properties"):
        return None
    filled = model.generate(
        ModelInput(history=inp.history, new_steps=inp.new_steps, response_schema=params, seed=inp.seed)
    )
    text = "".join(b.get("text", "") for s in filled.steps for b in s.get("content") or [] if isinstance(b, dict))
    try:
        arguments = json.loads(text)
    except ValueError:
        return None
    if not isinstance(arguments, dict) or not any(_given(v) for v in arguments.values()):
        return None
    if any(not _given(arguments.get(k)) for k in params.get("required", [])):
        return None
    arguments = {k: v for k, v in arguments.items() if _given(v)}
    digest = hashlib.sha256(json.dumps([tool.get("name"), arguments], sort_keys=True).encode()).hexdigest()
    return {"type": "function_call", "id": f"call_{digest[:16]}", "name": tool.get("name"), "arguments": arguments}


def _given(value: Any) -> bool:
    return value not in (None, "", [], {})


def _unusual(text: str, rng: random.Random) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text

    def shuffle(v: Any) -> Any:
        if isinstance(v, dict):
            items = list(v.items())
            rng.shuffle(items)
            return {k: shuffle(x) for k, x in items}
        if isinstance(v, list):
            return [shuffle(x) for x in v]
        return v

    return json.dumps(shuffle(value), indent=rng.choice([None, 2, 4]), ensure_ascii=True)


class Realistic:
    def __init__(self, rates: RealisticRates | None = None) -> None:
        self.rates = rates or RealisticRates()

    def respond(self, inp: ModelInput) -> ModelResult:
        result = model.generate(inp)
        if inp.response_schema is not None:
            return self._structured(inp, result)
        latest = inp.new_steps[-1].get("type") if inp.new_steps else None
        calls = _calls(result)
        if latest == "user_input" and calls:
            rng = _rng(inp, "off-script")
            if rng.random() < self.rates.off_script:
                # An LLM sometimes just answers instead of calling the tool it was told to use.
                text = "Thanks, I've got that. Could you tell me a little more?"
                return ModelResult([{"type": "model_output", "content": [{"type": "text", "text": text}]}])
            return self._parallel(inp, result, rng)
        if latest == "function_result" and not calls:
            rng = _rng(inp, "extra-hop")
            if rng.random() < self.rates.extra_hop:
                done = _called_this_turn(inp)
                for tool in _functions(inp):
                    if tool.get("name") in done:
                        continue
                    call = _try_call(inp, tool)
                    if call is not None:
                        return ModelResult([call], status="requires_action")
        return result

    def _parallel(self, inp: ModelInput, result: ModelResult, rng: random.Random) -> ModelResult:
        if rng.random() >= self.rates.parallel:
            return result
        steps = list(result.steps)
        named = {c.get("name") for c in _calls(result)}
        for tool in _functions(inp):
            if tool.get("name") in named:
                continue
            call = _try_call(inp, tool)
            if call is not None:
                call = dict(call, id=f"{call['id']}_{len(steps)}")
                steps.append(call)
                named.add(tool.get("name"))
        return ModelResult(steps, status="requires_action")

    def _structured(self, inp: ModelInput, result: ModelResult) -> ModelResult:
        rng = _rng(inp, "json")
        text = "".join(
            b.get("text", "") for s in result.steps if s.get("type") == "model_output" for b in s.get("content", [])
        )
        asked_before = any(s.get("type") == "model_output" and _looks_json(s) for s in inp.history)
        if not asked_before and rng.random() < self.rates.broken_json:
            broken = "```json\n" + text[: max(1, len(text) * 2 // 3)]
            return ModelResult([{"type": "model_output", "content": [{"type": "text", "text": broken}]}])
        if rng.random() < self.rates.unusual_json:
            text = _unusual(text, rng)
        return ModelResult([{"type": "model_output", "content": [{"type": "text", "text": text}]}])


def _looks_json(step: dict[str, Any]) -> bool:
    text = "".join(b.get("text", "") for b in step.get("content") or [] if isinstance(b, dict))
    return text.lstrip().startswith(("{", "```json"))


class ModelHost:
    """The plug-in the server calls; the mode can be switched at run time through /_emulator/mode."""

    def __init__(self, mode: str = "general", rates: RealisticRates | None = None) -> None:
        self.scripted = Scripted()
        self.realistic = Realistic(rates)
        self.mode = mode

    def respond(self, inp: ModelInput) -> ModelResult:
        if self.scripted.queue:
            return self.scripted.respond(inp)
        if self.mode == "realistic":
            return self.realistic.respond(inp)
        return model.generate(inp)
