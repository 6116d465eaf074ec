"""Built-in (server-side) tools: Google Search, URL context and code execution, offline.

Real Gemini runs these tools itself and reports them as steps in the reply: a `*_call` step with
its arguments, a `*_result` step, then the answer, with `url_citation` annotations on the text for
search grounding. Sources: the Interactions docs' google-search, url-context and code-execution
pages, and the pinned SDK's step types (`googlesearchcallstep.py`, `urlcontextresultstep.py`,
`codeexecutionresultstep.py`, `urlcitation.py`). The step shapes here are those types exactly.

Offline, search reads a small bundled index of public health pages, URL context can read only the
pages of that index (any other URL is reported with status "error", as an unreachable page is),
and code execution evaluates arithmetic only (a safe AST walk; nothing is ever `exec`-ed).
"""

from __future__ import annotations

import ast
import hashlib
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from gemini_emulator.extract import step_text


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    text: str


# A small offline index: public patient-information pages, summarised in our own words.
INDEX: tuple[Page, ...] = (
    Page(
        "https://medlineplus.gov/highbloodpressure.html",
        "High Blood Pressure | MedlinePlus",
        "High blood pressure (hypertension) often has no symptoms. It raises the risk of heart disease, stroke and "
        "kidney disease. Treatment includes less salt, exercise, and medicines such as ACE inhibitors, "
        "thiazide diuretics and calcium channel blockers.",
    ),
    Page(
        "https://medlineplus.gov/diabetestype2.html",
        "Type 2 Diabetes | MedlinePlus",
        "Type 2 diabetes means blood sugar is too high. HbA1c shows the average over about three months; many adults "
        "aim for below 7%. Metformin is usually the first medicine, with diet and activity.",
    ),
    Page(
        "https://medlineplus.gov/asthma.html",
        "Asthma | MedlinePlus",
        "Asthma inflames and narrows the airways, causing wheezing, cough and shortness of breath. Quick-relief "
        "inhalers such as albuterol treat attacks; inhaled steroids prevent them.",
    ),
    Page(
        "https://medlineplus.gov/migraine.html",
        "Migraine | MedlinePlus",
        "Migraine causes throbbing headaches, often with nausea and sensitivity to light. Triptans such as "
        "sumatriptan treat attacks; a sudden worst-ever headache needs emergency care.",
    ),
    Page(
        "https://medlineplus.gov/druginfo/meds/a682159.html",
        "Ibuprofen | MedlinePlus Drug Information",
        "Ibuprofen (Advil, Motrin) is an NSAID for pain and fever. It can upset the stomach and raise blood pressure, "
        "and it interacts with blood thinners and some blood pressure medicines.",
    ),
    Page(
        "https://medlineplus.gov/druginfo/meds/a696005.html",
        "Metformin | MedlinePlus Drug Information",
        "Metformin lowers blood sugar in type 2 diabetes. Common side effects are stomach upset and diarrhoea; it is "
        "taken with meals, usually once or twice daily.",
    ),
    Page(
        "https://medlineplus.gov/allergy.html",
        "Allergy | MedlinePlus",
        "Allergies are reactions to substances such as pollen, foods, latex, insect stings or medicines like "
        "penicillin. Severe reactions (anaphylaxis) need epinephrine and emergency care.",
    ),
    Page(
        "https://www.cdc.gov/flu/symptoms/index.html",
        "Flu Symptoms | CDC",
        "Flu causes fever, cough, sore throat, body aches and tiredness. Seek care for trouble breathing, chest pain, "
        "confusion or symptoms that improve and then return worse.",
    ),
    Page(
        "https://www.cdc.gov/heart-disease/signs-symptoms/index.html",
        "Heart Attack Symptoms | CDC",
        "Heart attack symptoms include chest pain or pressure, pain spreading to the arm, jaw or back, shortness of "
        "breath, sweating and nausea. Call 911 at once.",
    ),
    Page(
        "https://www.nhs.uk/conditions/stroke/symptoms/",
        "Stroke symptoms | NHS",
        "Think FAST: face drooping, arm weakness, speech problems, time to call emergency services. Stroke is a "
        "medical emergency.",
    ),
)

_WORD = re.compile(r"[a-z][a-z0-9-]+")
_STOP = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by can do does for from how i in is it me my of on or please search show tell the "
        "to up what when where which who why with you your about look find latest current google",
    )
)
_URL = re.compile(r"https?://[^\s<>\"')\]]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def search(query: str, limit: int = 3) -> list[Page]:
    wanted = _words(query)
    # A word in the page title counts twice: titles say what a page is about.
    scored = [(2 * len(wanted & _words(p.title)) + len(wanted & _words(p.text)), i, p) for i, p in enumerate(INDEX)]
    return [p for score, _, p in sorted(scored, key=lambda t: (-t[0], t[1])) if score > 0][:limit]


# --- arithmetic for code execution --------------------------------------------------------------

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_FUNCS = {"sqrt": math.sqrt, "round": round, "abs": abs}


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
        return _FUNCS[node.func.id](*[_eval(a) for a in node.args])
    raise ValueError("not arithmetic")


_TIMES, _DIVIDE = "\u00d7", "\u00f7"  # the multiplication and division signs people type
_EXPR = re.compile(r"(?:sqrt\()?[\d(][\d\s.+\-*/%()^x" + _TIMES + _DIVIDE + r"]*[\d)]")


def arithmetic_in(text: str) -> str | None:
    """The longest arithmetic expression in a message ("what is 17 * 23?" -> "17 * 23")."""
    candidates = sorted((m.group(0).strip() for m in _EXPR.finditer(text)), key=len, reverse=True)
    for raw in candidates:
        expr = raw.replace("^", "**").replace(_TIMES, "*").replace("x", "*").replace(_DIVIDE, "/")
        if not re.search(r"[+\-*/%]", expr):
            continue
        try:
            _eval(ast.parse(expr, mode="eval"))
        except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
            continue
        return expr
    return None


# --- the turn -------------------------------------------------------------------------------------


def _declared(tools: list[dict[str, Any]]) -> set[str]:
    return {t.get("type", "") for t in tools}


def respond(tools: list[dict[str, Any]], new_steps: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The built-in tool steps and the grounded answer for this turn, or None when no built-in fits."""
    users = [s for s in new_steps if s.get("type") == "user_input"]
    if not users or new_steps[-1].get("type") != "user_input":
        return None
    text = step_text(users[-1])
    declared = _declared(tools)
    call_id = "call_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    urls = _URL.findall(text)
    if "url_context" in declared and urls:
        return _url_context(urls, call_id)
    expr = arithmetic_in(text) if "code_execution" in declared else None
    if expr is not None:
        return _code_execution(expr, call_id)
    if "google_search" in declared and _wants_search(text):
        return _google_search(text, call_id)
    return None


def _wants_search(text: str) -> bool:
    # A question or a request to look something up; small talk is answered without a search.
    lowered = text.lower()
    return "?" in text or any(w in lowered for w in ("search", "look up", "find", "latest", "current", "news"))


def _google_search(text: str, call_id: str) -> list[dict[str, Any]]:
    query = " ".join(w for w in _WORD.findall(text.lower()) if w not in _STOP)[:120] or text[:120]
    pages = search(text)
    chips = "".join(f"<a class='chip' href='{p.url}'>{p.title}</a>" for p in pages)
    steps: list[dict[str, Any]] = [
        {"type": "google_search_call", "id": call_id, "arguments": {"queries": [query]}, "search_type": "web_search"},
        {
            "type": "google_search_result",
            "call_id": call_id,
            "result": [{"search_suggestions": f"<div class='search-suggestions'>{chips}</div>"}],
        },
    ]
    if not pages:
        answer = "I searched but found nothing relevant in the offline index. (offline emulator)"
        steps.append({"type": "model_output", "content": [{"type": "text", "text": answer}]})
        return steps
    parts: list[str] = []
    annotations: list[dict[str, Any]] = []
    offset = 0
    for page in pages:
        sentence = page.text.split(". ")[0].rstrip(".") + "."
        size = len(sentence.encode())
        # Byte offsets into the UTF-8 answer, end exclusive (as grounding segments are).
        annotations.append(
            {
                "type": "url_citation",
                "url": page.url,
                "title": page.title,
                "start_index": offset,
                "end_index": offset + size,
            }
        )
        parts.append(sentence)
        offset += size + 1  # the joining space
    answer = " ".join(parts)
    steps.append({"type": "model_output", "content": [{"type": "text", "text": answer, "annotations": annotations}]})
    return steps


def _url_context(urls: list[str], call_id: str) -> list[dict[str, Any]]:
    known = {p.url: p for p in INDEX}
    results = [{"url": u, "status": "success" if u in known else "error"} for u in urls]
    read = [known[u] for u in urls if u in known]
    if read:
        answer = " ".join(f"{p.title}: {p.text}" for p in read)
    else:
        answer = "I could not retrieve that page (the offline emulator reads only its bundled pages)."
    return [
        {"type": "url_context_call", "id": call_id, "arguments": {"urls": urls}},
        {"type": "url_context_result", "call_id": call_id, "result": results},
        {"type": "model_output", "content": [{"type": "text", "text": answer}]},
    ]


def _code_execution(expr: str, call_id: str) -> list[dict[str, Any]]:
    value = _eval(ast.parse(expr, mode="eval"))
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    code = f"print({expr})"
    return [
        {"type": "code_execution_call", "id": call_id, "arguments": {"code": code, "language": "python"}},
        {"type": "code_execution_result", "call_id": call_id, "result": shown + "\n"},
        {"type": "model_output", "content": [{"type": "text", "text": f"The result is {shown}."}]},
    ]
