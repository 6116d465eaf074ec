"""The red-flag suite through both layers: the deterministic layer and the offline model's judgement.

`manage.py eval_redflags --with-model` runs every suite message through the offline model
(`gemini_emulator`, in this process, no server): the same system instruction and tool declarations the
intake sends each turn, the patient's earlier messages as earlier turns, the message as the new input.
The model's per-turn judgement is the `urgency` of its `record_answers` call (the schema field "How
urgent the symptoms sound"), exactly what the app reads from the model. A message is raised by the two
layers together when either says emergent (any layer raises, none lowers).

What the emergency path needs is the deterministic layer: it runs before any model call and the fixed
emergency message is shown at once. An emergency only the model raises is caught, but after the model
call (`waits on the model`), so the report counts those separately.

This module is an evaluation tool, not app code: it imports the emulator package directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from intake import redflag_eval, redflags

EARLIER_REPLY = "Thank you. Is there anything else you would like to tell me?"


def _step(role: str, text: str) -> dict[str, Any]:
    return {"type": role, "content": [{"type": "text", "text": text}]}


def model_urgency(text: str, history: Iterable[str] = ()) -> str:
    """The offline model's urgency for the latest message ("routine" when it did not say)."""
    from agents.tools import tool_declarations
    from gemini_emulator.model import ModelInput, generate
    from intake import plan

    steps: list[dict[str, Any]] = []
    for earlier in history:
        steps += [_step("user_input", earlier), _step("model_output", EARLIER_REPLY)]
    result = generate(
        ModelInput(
            history=steps,
            new_steps=[_step("user_input", text)],
            system_instruction=plan.system_instruction(),
            tools=tool_declarations(),
        )
    )
    level = "routine"
    for step in result.steps:
        if step.get("type") == "function_call" and step.get("name") == "record_answers":
            level = redflags.max_urgency(level, str((step.get("arguments") or {}).get("urgency") or ""))
    return level


@dataclass(slots=True)
class LayersReport:
    # split ("tuning" / "held-out" / "vignettes") -> Rate
    rules: dict[str, redflag_eval.Rate] = field(default_factory=lambda: defaultdict(redflag_eval.Rate))
    model: dict[str, redflag_eval.Rate] = field(default_factory=lambda: defaultdict(redflag_eval.Rate))
    both: dict[str, redflag_eval.Rate] = field(default_factory=lambda: defaultdict(redflag_eval.Rate))
    waits: dict[str, redflag_eval.Rate] = field(default_factory=lambda: defaultdict(redflag_eval.Rate))
    fa_rules: dict[str, redflag_eval.Rate] = field(default_factory=lambda: defaultdict(redflag_eval.Rate))
    fa_model: dict[str, redflag_eval.Rate] = field(default_factory=lambda: defaultdict(redflag_eval.Rate))
    fa_both: dict[str, redflag_eval.Rate] = field(default_factory=lambda: defaultdict(redflag_eval.Rate))
    model_only: list[str] = field(default_factory=list)  # tuning ids caught by the model alone


def run(cases: Iterable[redflag_eval.Case]) -> LayersReport:
    """Score both layers. Emergencies count as raised when any emergency is raised (the 911 message shows)."""
    rep = LayersReport()
    for case in cases:
        split = "vignettes" if case.vignette else ("held-out" if case.held_out else "tuning")
        rules = redflags.evaluate(case.text, history=case.history).is_emergency
        model = model_urgency(case.text, case.history) == "emergent"
        if case.expect == "emergent":
            rep.rules[split].add(rules)
            rep.model[split].add(model)
            rep.both[split].add(rules or model)
            rep.waits[split].add(model and not rules)
            if model and not rules and split == "tuning":
                rep.model_only.append(case.id)
        else:
            key = split if split != "vignettes" else "vignettes (non-emergent, self-care)"
            rep.fa_rules[key].add(rules)
            rep.fa_model[key].add(model)
            rep.fa_both[key].add(rules or model)
    return rep


def format_layers(rep: LayersReport) -> str:
    lines = ["Both layers: deterministic rules + the offline model's per-turn urgency (record_answers)", ""]
    lines.append(f"{'emergencies raised (any category)':<40} {'rules':<18} {'model':<18} {'either':<18} waits on model")
    for split in ("tuning", "held-out", "vignettes"):
        if rep.rules[split].total:
            lines.append(
                f"  {split:<38} {rep.rules[split]!s:<18} {rep.model[split]!s:<18} {rep.both[split]!s:<18} "
                f"{rep.waits[split].hit}"
            )
    lines.append(f"{'false alarms (emergent on a look-alike)':<40} {'rules':<18} {'model':<18} either")
    for split, rate in rep.fa_rules.items():
        lines.append(f"  {split:<38} {rate!s:<18} {rep.fa_model[split]!s:<18} {rep.fa_both[split]}")
    lines.append("")
    lines.append(
        "'waits on model': emergencies the rules miss and the model raises; the app shows the emergency "
        "message before any model call only for what the rules raise."
    )
    return "\n".join(lines)
