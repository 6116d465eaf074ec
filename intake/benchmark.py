"""The seed article's comparison, reproduced: one scripted 10-turn intake sent three ways.

1. generateContent, re-sending the whole history every turn;
2. Interactions, stateless (store=false), history sent as steps;
3. Interactions, chained with previous_interaction_id.

Each turn records the request bytes as they crossed the wire and the tokens the server reported.
The same system instruction (the app's per-step instruction) goes with every request of every mode.
Tools are not declared in any mode, so the comparison isolates how history travels, as the
article's experiment did; in the app a tool declaration adds the same constant to each mode.
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
    "Hi, my name is Dana Whitfield and I was born on 3 March 1982.",
    "My cell is 415-555-0139 and my email is dana.whitfield@example.org.",
    "I have Blue Shield of California, member number XKP482913.",
    "I've been having sharp pain in my lower back.",
    "It started about two weeks ago after I moved furniture. It's around 5 out of 10 and worse in the morning.",
    "I take atorvastatin 20 mg every night and ibuprofen 400 mg when the pain is bad.",
    "I'm allergic to sulfa drugs, they gave me a rash.",
    "I had my gallbladder removed in 2015 and I have high cholesterol.",
    "My mother had breast cancer and my father has type 2 diabetes.",
    "I quit smoking five years ago, I drink a glass of wine on weekends, and I'm a school teacher.",
)

MODES = ("generate_content", "interactions_stateless", "interactions_chained")


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


def _instruction(turn: int) -> str:
    return plan.system_instruction(step_index=plan.next_index(turn))


def _run_generate_content(turns: int) -> ModeResult:
    result = ModeResult("generate_content")
    contents: list[dict[str, Any]] = []
    for i, text in enumerate(SCRIPT[:turns]):
        contents.append({"role": "user", "parts": [{"text": text}]})
        reply = client.content_generate(
            model=settings.GEMINI_MODEL, contents=contents, system_instruction=_instruction(i)
        )
        contents.append({"role": "model", "parts": [{"text": reply.text}]})
        u = reply.usage
        result.turns.append(
            TurnMeasure(i + 1, reply.request_bytes, u.input_tokens, u.output_tokens, u.cached_tokens, u.total_tokens)
        )
    return result


def _run_interactions(turns: int, *, chained: bool) -> ModeResult:
    result = ModeResult("interactions_chained" if chained else "interactions_stateless")
    steps: list[dict[str, Any]] = []
    previous = ""
    for i, text in enumerate(SCRIPT[:turns]):
        kwargs: dict[str, Any] = {"model": settings.GEMINI_MODEL, "system_instruction": _instruction(i)}
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
    if not 1 <= turns <= len(SCRIPT):
        raise ValueError(f"turns must be between 1 and {len(SCRIPT)}")
    collected: dict[str, list[ModeResult]] = {mode: [] for mode in MODES}
    for _ in range(runs):
        collected["generate_content"].append(_run_generate_content(turns))
        collected["interactions_stateless"].append(_run_interactions(turns, chained=False))
        collected["interactions_chained"].append(_run_interactions(turns, chained=True))
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
        "turns": turns,
        "runs": runs,
        "model": settings.GEMINI_MODEL,
        "modes": {mode: [asdict(t) for t in result.turns] for mode, result in modes.items()},
        "totals": {
            mode: {k: result.total(k) for k in ("request_bytes", "input_tokens", "cached_tokens", "total_tokens")}
            for mode, result in modes.items()
        },
        "comparisons": comparisons,
        "chained_flatness": round(max(chained_bytes) / max(1, min(chained_bytes)), 2),
    }


def benchmark_table(report: dict[str, Any]) -> str:
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

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    labels = {
        "generate_content": "generateContent (history re-sent)",
        "interactions_stateless": "Interactions, stateless steps",
        "interactions_chained": "Interactions, chained",
    }
    for mode in MODES:
        turns = [t["turn"] for t in report["modes"][mode]]
        ax1.plot(turns, [t["request_bytes"] for t in report["modes"][mode]], marker="o", label=labels[mode])
        ax2.plot(turns, [t["input_tokens"] for t in report["modes"][mode]], marker="o", label=labels[mode])
    ax1.set(title="Request payload per turn", xlabel="turn", ylabel="bytes on the wire")
    ax2.set(title="Input tokens reported per turn", xlabel="turn", ylabel="tokens")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
