"""The simulated Deep Research agent: progress notes while it "works", then a cited markdown report."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote_plus

from gemini_emulator import extract, vocab
from gemini_emulator.extract import step_text

TOOL_USE_TOKENS = 1200  # what the simulated searches "cost", reported as tool-use tokens

STOP = vocab.STOP_WORDS | vocab.word_set(
    "brief evidence find give into latest out regarding report research summarize summary us write"
)


def query_text(history: list[dict[str, Any]], input_steps: list[dict[str, Any]]) -> str:
    texts = [step_text(s) for s in input_steps if s.get("type") == "user_input"]
    return " ".join(t for t in texts if t).strip() or "the requested topic"


def _keywords(query: str) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z'-]+", query.lower())
    out: list[str] = []
    for w in words:
        if w not in STOP and len(w) > 2 and w not in out:
            out.append(w)
    return out[:6] or ["health"]


def _entities(query: str) -> tuple[list[str], list[str], list[str]]:
    facts = extract.Facts()
    # Research questions are questions: read them as statements to find what they name.
    extract.read_message(query.replace("?", "."), facts, 1, [])
    return facts.conditions, facts.symptoms, [m.name for m in facts.medications]


def _topic(query: str) -> str:
    conditions, symptoms, drugs = _entities(query)
    named = conditions + symptoms + drugs
    return _join(named[:3]) if named else " ".join(_keywords(query)[:4])


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _findings(query: str) -> list[str]:
    """Cautious, generic findings shaped by what the query names (conditions, symptoms, drugs)."""
    conditions, symptoms, drugs = _entities(query)
    topic = _topic(query)
    out = [f"Clinical guidelines recommend a structured assessment before treatment decisions about {topic} [1]."]
    if len(drugs) >= 2:
        out.append(
            f"Using {drugs[0]} together with {drugs[1]} calls for a review of interactions, kidney function "
            "and blood pressure, with monitoring after any change [2]."
        )
    elif drugs:
        out.append(
            f"{drugs[0].capitalize()} should be reviewed for dose, adherence, side effects and interactions [2]."
        )
    else:
        out.append("Medication reconciliation at each visit reduces avoidable harm [2].")
    if conditions:
        out.append(
            f"Long-term control of {conditions[0]} depends on follow-up, patient education and lifestyle measures [2]."
        )
    if symptoms:
        out.append(f"New or worsening {symptoms[0]} should prompt a timely clinical review [3].")
    out.append("Red-flag symptoms such as chest pain, breathing difficulty or confusion need urgent care [3].")
    out.append("Evidence quality varies; local protocols and clinician judgement should guide individual care [4].")
    return out[:5]


def progress_notes(query: str) -> list[str]:
    topic = _topic(query)
    return [
        f"Planning the research on {topic}.",
        f"Searching guidelines and reviews about {topic}.",
        "Reading and comparing the sources found.",
        "Writing the report with citations.",
    ]


def _sources(query: str, seed: int) -> list[tuple[str, str]]:
    kws = _keywords(query)
    q = quote_plus(" ".join(kws[:4]))
    slug = "".join(kws[:2])
    pool = [
        ("PubMed search", f"https://pubmed.ncbi.nlm.nih.gov/?term={q}"),
        ("MedlinePlus health topics", f"https://medlineplus.gov/{slug}.html"),
        ("CDC", f"https://www.cdc.gov/search/?query={q}"),
        ("NICE guidance", f"https://www.nice.org.uk/search?q={q}"),
        (
            "World Health Organization",
            f"https://www.who.int/home/search-results?indexCatalogue=genericsearchindex1&searchQuery={q}",
        ),
        ("Cochrane Library", f"https://www.cochranelibrary.com/search?q={q}"),
    ]
    h = int(hashlib.sha256(f"{seed}|{query}".encode()).hexdigest(), 16)
    start = h % len(pool)
    return [pool[(start + i) % len(pool)] for i in range(4)]


def build_report(query: str, *, seed: int) -> dict[str, Any]:
    """A text content block: markdown report + url_citation annotations (byte offsets)."""
    topic = _topic(query)
    sources = _sources(query, seed)
    lines = [
        f"# Research report: {topic}",
        "",
        "_Produced offline by the Gemini Interactions emulator: this is simulated research, not medical advice._",
        "",
        "## Summary",
        f"This report reviews what is commonly recommended about {topic}. Current guidance emphasises a careful "
        f"history, review of medications and allergies, and escalation when red-flag symptoms appear [1].",
        "",
        "## Key findings",
        *[f"- {f}" for f in _findings(query)],
        "",
        "## Considerations",
        "Findings come from general sources; check them against the patient's record and local guidance [4].",
        "",
        "## Sources",
    ]
    for i, (title, url) in enumerate(sources, 1):
        lines.append(f"{i}. [{title}]({url})")
    text = "\n".join(lines) + "\n"
    annotations = []
    raw = text.encode()
    for i, (title, url) in enumerate(sources, 1):
        marker = f"[{i}]".encode()
        pos = raw.find(marker)
        if pos >= 0:
            annotations.append(
                {"type": "url_citation", "url": url, "title": title, "start_index": pos, "end_index": pos + len(marker)}
            )
    return {"type": "text", "text": text, "annotations": annotations}
