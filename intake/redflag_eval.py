"""The red-flag suite: score `redflags.evaluate` on messages written as patients type them.

Pure (no ORM). The suite is data in `evals/redflags/`:
- `batch_*.jsonl`: first-person emergencies (`"expect": "emergent"`, with the `category` that must be
  raised) and look-alikes that are not emergencies (`"expect": "routine"`, with the `kind`: history,
  family, negation, hypothetical, figure of speech, look-alike). An optional `history` holds the
  patient's earlier messages (signs spread over two messages).
- `semigran2015.jsonl`: the 45 standardized vignettes of Semigran et al., BMJ 2015 (15 emergent,
  15 non-emergent, 15 self-care), each retold as a patient would type it.
Batches named in `HELD_OUT` were written with the others but never used to tune the vocabulary.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from intake import redflags

SUITE_DIR = Path(__file__).resolve().parent.parent / "evals" / "redflags"
HELD_OUT = frozenset({"A", "N", "Q", "R", "S", "W", "Z1", "Z2"})  # never tuned against; see evals/redflags/README.md
VIGNETTES_FILE = "semigran2015.jsonl"


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    text: str
    expect: str  # "emergent" | "routine" | "non_emergent" | "self_care"
    category: str = ""  # emergent cases: the category that must be raised
    kind: str = ""  # look-alikes: history, family, negation, ...; vignettes: the diagnosis
    history: tuple[str, ...] = ()
    # A Semigran vignette (from VIGNETTES_FILE). Told by its file, not by its id's letter: the
    # vignettes' ids ("S01") share their letter with batch S ("S001").
    vignette: bool = False

    @property
    def batch(self) -> str:
        # "R001" is batch R; batches after Z are named by the prefix before "-" ("Z1-001" is Z1).
        return self.id.split("-", 1)[0] if "-" in self.id else self.id[0]

    @property
    def held_out(self) -> bool:
        return self.batch in HELD_OUT and not self.vignette


def load_suite(directory: Path = SUITE_DIR) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                cases.append(
                    Case(
                        id=row["id"],
                        text=row["text"],
                        expect=row["expect"],
                        category=row.get("category", ""),
                        kind=row.get("kind") or row.get("diagnosis", ""),
                        history=tuple(row.get("history", ())),
                        vignette=path.name == VIGNETTES_FILE,
                    )
                )
    return cases


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    urgency: redflags.Urgency
    keys: tuple[str, ...]  # emergent categories raised

    @property
    def passed(self) -> bool:
        if self.case.expect == "emergent":
            return (self.case.category in self.keys) if self.case.category else bool(self.keys)
        return not self.keys


def run(cases: Iterable[Case]) -> list[Outcome]:
    out = []
    for case in cases:
        result = redflags.evaluate(case.text, history=case.history)
        out.append(Outcome(case=case, urgency=result.urgency, keys=result.keys))
    return out


@dataclass(slots=True)
class Rate:
    hit: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.hit += ok
        self.total += 1

    @property
    def pct(self) -> float:
        return 100.0 * self.hit / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.hit}/{self.total} ({self.pct:.1f}%)"


@dataclass(slots=True)
class Report:
    recall_by_category: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    recall: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))  # "tuning" | "held-out"
    # An emergency raised under another category still shows the patient the 911 message.
    recall_any: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    false_alarms: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    false_alarms_by_kind: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    vignettes: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    # Per batch: each fresh batch is scored once before tuning on it, so its first run is on record.
    recall_by_batch: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    false_alarms_by_batch: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    failures: list[Outcome] = field(default_factory=list)


def score(outcomes: Iterable[Outcome]) -> Report:
    report = Report()
    for o in outcomes:
        c = o.case
        split = "held-out" if c.held_out else "tuning"
        if c.vignette:
            if c.expect == "emergent":
                report.vignettes["emergent raised to emergent"].add(bool(o.keys))
                report.vignettes["emergent raised to urgent or emergent"].add(o.urgency != "routine")
            else:
                report.vignettes[f"{c.expect} raised to emergent (over-triage)"].add(bool(o.keys))
        elif c.expect == "emergent":
            report.recall[split].add(o.passed)
            report.recall_any[split].add(bool(o.keys))
            report.recall_by_category[c.category].add(o.passed)
            report.recall_by_batch[c.batch].add(o.passed)
        else:
            report.false_alarms[split].add(not o.passed)
            report.false_alarms_by_kind[c.kind].add(not o.passed)
            report.false_alarms_by_batch[c.batch].add(not o.passed)
        if not o.passed and not (c.vignette and c.expect == "emergent"):
            report.failures.append(o)
    return report


def cpu_ms_per_message(cases: list[Case], *, repeats: int = 3) -> list[float]:
    """CPU time of `evaluate` per message, in ms, after the pipeline is built (the build is once per process)."""
    redflags.warm_up()
    samples = []
    for _ in range(repeats):
        redflags.clear_cache()  # time the analysis itself, not the cache
        for case in cases:
            start = time.process_time_ns()
            redflags.evaluate(case.text, history=case.history)
            samples.append((time.process_time_ns() - start) / 1e6)
    return samples


def differences_from_reference(cases: Iterable[Case]) -> list[Case]:
    """The cases whose result (urgency, categories, signs, the patient's words, message) differs between
    the fast path (`redflags.evaluate`) and the slow reference pipeline (`redflags.reference_evaluate`)."""
    return [
        case
        for case in cases
        if redflags.evaluate(case.text, history=case.history)
        != redflags.reference_evaluate(case.text, history=case.history)
    ]


def format_differences(cases: list[Case], different: list[Case]) -> str:
    """Held-out cases are counted, never named (their messages stay unseen)."""
    tuning = [c.id for c in different if not c.held_out]
    held_out = sum(c.held_out for c in different)
    return (
        f"Fast path vs reference pipeline: {len(different)} of {len(cases)} messages differ "
        f"(tuning: {len(tuning)}{' ' + ', '.join(tuning) if tuning else ''}; held-out: {held_out})"
    )


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


TARGET_RECALL = 100.0  # % of emergent messages raised to the right category
TARGET_FALSE_ALARMS = 3.0  # % of look-alikes raised to emergent
TARGET_CPU_MS = 5.0  # per message


def meets_targets(report: Report) -> bool:
    tuning = report.recall["tuning"], report.false_alarms["tuning"]
    return tuning[0].pct >= TARGET_RECALL and tuning[1].pct <= TARGET_FALSE_ALARMS


def format_report(
    report: Report, *, cpu_ms: list[float], build_s: float, failures: bool = False, held_out_failures: bool = False
) -> str:
    lines = ["Red-flag suite (deterministic layer: intake/redflags.py on medspaCy)", ""]
    lines.append("Emergent recall by category (all batches)")
    for key, rate in sorted(report.recall_by_category.items()):
        lines.append(f"  {key:<22} {rate}")
    lines.append("")
    for split in ("tuning", "held-out"):
        lines.append(f"Emergent recall, {split:<9} {report.recall[split]}")
        lines.append(f"  raised as any emergency {report.recall_any[split]}")
    for split in ("tuning", "held-out"):
        lines.append(f"False alarms on look-alikes, {split:<9} {report.false_alarms[split]}")
    lines.append("False alarms by kind of look-alike (all batches)")
    for kind, rate in sorted(report.false_alarms_by_kind.items()):
        lines.append(f"  {kind:<22} {rate}")
    lines.append("By batch: emergent recall, false alarms (held out: " + ", ".join(sorted(HELD_OUT)) + ")")
    for batch in sorted(report.recall_by_batch):
        lines.append(f"  {batch}  {report.recall_by_batch[batch]!s:<16} {report.false_alarms_by_batch[batch]}")
    lines.append("")
    lines.append("Semigran et al. 2015 vignettes, retold as patients type them")
    for name, rate in report.vignettes.items():
        lines.append(f"  {name:<44} {rate}")
    lines.append("")
    lines.append(format_cpu(cpu_ms=cpu_ms, build_s=build_s))
    lines.append("")
    verdict = "meets" if meets_targets(report) else "MISSES"
    lines.append(
        f"Tuning set {verdict} the targets (recall {TARGET_RECALL:g}%, false alarms <= {TARGET_FALSE_ALARMS:g}%)."
    )
    shown = [o for o in report.failures if held_out_failures or not o.case.held_out]
    if failures and shown:
        lines.append("")
        lines.append("Failures" + ("" if held_out_failures else " (held-out batch not listed, so it stays unseen)"))
        for o in shown:
            got = ",".join(o.keys) or o.urgency
            lines.append(f"  {o.case.id} expected {o.case.category or o.case.expect}, got {got}: {o.case.text}")
    return "\n".join(lines)


def format_cpu(*, cpu_ms: list[float], build_s: float) -> str:
    # Process CPU time, not wall time; still, a loaded machine runs each instruction slower (shared caches,
    # hyper-threads), so the load average is printed with the figures.
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"CPU per message: p50 {percentile(cpu_ms, 50):.2f} ms, p95 {percentile(cpu_ms, 95):.2f} ms, "
        f"max {max(cpu_ms):.2f} ms ({len(cpu_ms)} evaluations; target < {TARGET_CPU_MS:g} ms)\n"
        f"  each message read from scratch (no cache), process CPU time; load average {load} (1/5/15 min) "
        f"on {os.cpu_count()} CPUs\n"
        f"Pipeline build, once per process: {build_s:.2f} s CPU"
    )


def build_seconds() -> float:
    """CPU seconds to import spaCy/medspaCy and build the pipeline (0 if this process already has it)."""
    start = time.process_time()
    redflags.warm_up()
    return time.process_time() - start
