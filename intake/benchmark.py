"""The seed article's comparison, reproduced: one scripted 10-turn intake sent three ways.

1. generateContent, re-sending the whole history every turn;
2. Interactions, stateless (store=false), history sent as steps;
3. Interactions, chained with previous_interaction_id.

Each turn records the request bytes as they crossed the wire and the tokens the server reported.
Every mode sends the same system instruction with every request. Two instruction setups are run:

- "article": the seed article's experiment, one short fixed instruction for every turn;
- "app": this app's real per-step instruction (rules plus the `Next:` line, about 300-400 bytes).

The instruction is interaction-scoped, so chained turns must re-send it: its size is the floor of
every chained request, and the larger the floor, the smaller the relative saving. Tools are not
declared in any mode, so the comparison isolates how history travels, as the article did.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

from agents import client
from intake import plan

# A plausible patient, answering the ten plan steps in order.
SCRIPT = (
    "Hi, my name is Dana Whitfield and I was born on the 3rd of March 1982, thanks for asking.",
    "My cell phone is 415-555-0139 and my email address is dana.whitfield@example.org.",
    "I have Blue Shield of California through work, and my member number is XKP482913.",
    "I've been having a sharp pain in my lower back that won't go away, so I want it checked.",
    "It started two weeks ago after I moved furniture. It's about 5 out of 10, worse mornings.",
    "I take atorvastatin 20 mg every night, and ibuprofen 400 mg when the back pain is bad.",
    "I'm allergic to sulfa drugs, they gave me a bad rash years ago. No food allergies at all.",
    "I had my gallbladder removed in 2015, and I have high cholesterol, which is controlled.",
    "My mother had breast cancer in her sixties, and my father has type 2 diabetes right now.",
    "I quit smoking five years ago, I have a glass of wine on weekends and I teach school.",
)

MODES = ("generate_content", "interactions_stateless", "interactions_chained")
ARTICLE_INSTRUCTION = "You are a healthcare intake assistant."
SETUPS = ("article", "app")


@dataclass
class TurnMeasure:
    turn: int
    request_bytes: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    total_tokens: int


@dataclass
class ModeResult:
    mode: str
    turns: list[TurnMeasure] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(t, attr) for t in self.turns)


def _instruction(turn: int, setup: str) -> str:
    if setup == "article":
        return ARTICLE_INSTRUCTION
    return plan.system_instruction()  # one stable text per intake


def _run_generate_content(turns: int, setup: str) -> ModeResult:
    result = ModeResult("generate_content")
    contents: list[dict[str, Any]] = []
    for i, text in enumerate(SCRIPT[:turns]):
        contents.append({"role": "user", "parts": [{"text": text}]})
        reply = client.content_generate(
            model=settings.GEMINI_MODEL, contents=contents, system_instruction=_instruction(i, setup)
        )
        contents.append({"role": "model", "parts": [{"text": reply.text}]})
        u = reply.usage
        result.turns.append(
            TurnMeasure(i + 1, reply.request_bytes, u.input_tokens, u.output_tokens, u.cached_tokens, u.total_tokens)
        )
    return result


def _run_interactions(turns: int, setup: str, *, chained: bool) -> ModeResult:
    result = ModeResult("interactions_chained" if chained else "interactions_stateless")
    steps: list[dict[str, Any]] = []
    previous = ""
    for i, text in enumerate(SCRIPT[:turns]):
        kwargs: dict[str, Any] = {"model": settings.GEMINI_MODEL, "system_instruction": _instruction(i, setup)}
        if chained:
            kwargs.update(input=text, store=True, previous_interaction_id=previous or None)
        else:
            steps.append({"type": "user_input", "content": [{"type": "text", "text": text}]})
            kwargs.update(input=list(steps), store=False)
        reply = client.interaction_create(**kwargs)
        if chained:
            previous = reply.id
        else:
            steps.append({"type": "model_output", "content": [{"type": "text", "text": reply.text}]})
        u = reply.usage
        result.turns.append(
            TurnMeasure(i + 1, reply.request_bytes, u.input_tokens, u.output_tokens, u.cached_tokens, u.total_tokens)
        )
    return result


def _average(runs: list[ModeResult]) -> ModeResult:
    """Per-turn mean over runs (rounded), so one table shows the typical run."""
    averaged = ModeResult(runs[0].mode)
    for index in range(len(runs[0].turns)):
        per_turn = [run.turns[index] for run in runs]
        averaged.turns.append(
            TurnMeasure(
                turn=index + 1,
                **{
                    name: round(statistics.mean(getattr(t, name) for t in per_turn))
                    for name in ("request_bytes", "input_tokens", "output_tokens", "cached_tokens", "total_tokens")
                },
            )
        )
    return averaged


def _reduction(new: int, old: int) -> float:
    return round(100.0 * (1 - new / old), 1) if old else 0.0


def benchmark_payload(*, turns: int = 10, runs: int = 3) -> dict[str, Any]:
    """Both instruction setups; see the module docstring."""
    if not 1 <= turns <= len(SCRIPT):
        raise ValueError(f"turns must be between 1 and {len(SCRIPT)}")
    if runs < 1:
        raise ValueError("runs must be at least 1")
    return {
        "turns": turns,
        "runs": runs,
        "model": settings.GEMINI_MODEL,
        "setups": {setup: _benchmark_setup(turns=turns, runs=runs, setup=setup) for setup in SETUPS},
    }


def _benchmark_setup(*, turns: int, runs: int, setup: str) -> dict[str, Any]:
    collected: dict[str, list[ModeResult]] = {mode: [] for mode in MODES}
    for _ in range(runs):
        collected["generate_content"].append(_run_generate_content(turns, setup))
        collected["interactions_stateless"].append(_run_interactions(turns, setup, chained=False))
        collected["interactions_chained"].append(_run_interactions(turns, setup, chained=True))
    modes = {mode: _average(results) for mode, results in collected.items()}
    base = modes["generate_content"]
    comparisons = {}
    for mode in ("interactions_stateless", "interactions_chained"):
        m = modes[mode]
        billable_base = base.total("input_tokens") - base.total("cached_tokens")
        billable = m.total("input_tokens") - m.total("cached_tokens")
        comparisons[mode] = {
            "payload_reduction_pct": _reduction(m.total("request_bytes"), base.total("request_bytes")),
            "input_token_reduction_pct": _reduction(m.total("input_tokens"), base.total("input_tokens")),
            "uncached_input_token_reduction_pct": _reduction(billable, billable_base),
            "total_token_reduction_pct": _reduction(m.total("total_tokens"), base.total("total_tokens")),
            "final_turn_payload_ratio": round(base.turns[-1].request_bytes / max(1, m.turns[-1].request_bytes), 1),
        }
    chained_bytes = [t.request_bytes for t in modes["interactions_chained"].turns]
    return {
        "system_instruction_bytes": [len(_instruction(i, setup).encode()) for i in range(turns)],
        "modes": {mode: [asdict(t) for t in result.turns] for mode, result in modes.items()},
        "totals": {
            mode: {k: result.total(k) for k in ("request_bytes", "input_tokens", "cached_tokens", "total_tokens")}
            for mode, result in modes.items()
        },
        "comparisons": comparisons,
        "chained_flatness": round(max(chained_bytes) / max(1, min(chained_bytes)), 2),
    }


def benchmark_table(report: dict[str, Any]) -> str:
    parts = []
    for setup, result in report["setups"].items():
        parts.append(
            f"== setup: {setup} (system instruction {min(result['system_instruction_bytes'])}-"
            f"{max(result['system_instruction_bytes'])} bytes per request) =="
        )
        parts.append(_setup_table(result))
    return "\n\n".join(parts)


def _setup_table(report: dict[str, Any]) -> str:
    lines = ["turn | gC bytes | stateless bytes | chained bytes | gC in-tok | stateless in-tok | chained in-tok"]
    lines.append("-" * len(lines[0]))
    g, s, c = (report["modes"][m] for m in MODES)
    for a, b, d in zip(g, s, c, strict=True):
        lines.append(
            f"{a['turn']:>4} | {a['request_bytes']:>8} | {b['request_bytes']:>15} | {d['request_bytes']:>13} | "
            f"{a['input_tokens']:>9} | {b['input_tokens']:>16} | {d['input_tokens']:>14}"
        )
    for mode, numbers in report["comparisons"].items():
        lines.append("")
        lines.append(f"{mode} against generate_content:")
        lines.extend(f"  {key}: {value}" for key, value in numbers.items())
    lines.append(f"\nchained largest/smallest turn payload: {report['chained_flatness']}")
    return "\n".join(lines)


def benchmark_chart(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(SETUPS), 2, figsize=(11, 4 * len(SETUPS)), squeeze=False)
    for row, setup in enumerate(SETUPS):
        _chart_row(report["setups"][setup], setup, axes[row][0], axes[row][1])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _chart_row(report: dict[str, Any], setup: str, ax1: Any, ax2: Any) -> None:
    labels = {
        "generate_content": "generateContent (history re-sent)",
        "interactions_stateless": "Interactions, stateless steps",
        "interactions_chained": "Interactions, chained",
    }
    for mode in MODES:
        turns = [t["turn"] for t in report["modes"][mode]]
        ax1.plot(turns, [t["request_bytes"] for t in report["modes"][mode]], marker="o", label=labels[mode])
        uncached = [t["input_tokens"] - t["cached_tokens"] for t in report["modes"][mode]]
        ax2.plot(turns, uncached, marker="o", label=labels[mode])
    ax1.set(title=f"Request payload per turn ({setup} instruction)", xlabel="turn", ylabel="bytes on the wire")
    ax2.set(
        title=f"Uncached input tokens per turn ({setup} instruction)", xlabel="turn", ylabel="input - cached tokens"
    )
    ax1.legend(fontsize=8)
