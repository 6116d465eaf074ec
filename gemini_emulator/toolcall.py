"""Deciding when to call a declared function tool, and with which arguments.

A tool fits when words from its name, description, parameter names and enum values overlap the
topic of the current instruction and the latest user message. Enum values are the strongest
signal (an instruction about medications + a `sections` enum containing `medications`).
Arguments are built from the parameters schema and validated with jsonschema before use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from gemini_emulator import vocab
from gemini_emulator.extract import Facts
from gemini_emulator.schema_fill import resolve

# Besides the shared function words: words of requests and tool plumbing that say nothing of the topic.
STOP = vocab.STOP_WORDS | vocab.word_set(
    """all also any ask call can chart could current currently data did do does each fetch field fields function
    get gets given had has have i id if info information item items know like list lists look lookup more name
    need needed new next no not now often one only other per read record records return returns section sections
    see should some still take takes taking tell them they today tool type up use used user using value values
    want we when whether who will would yes you"""
)
SYNONYMS = {
    "med": "medication",
    "meds": "medication",
    "medicine": "medication",
    "drug": "medication",
    "prescription": "medication",
    "pill": "medication",
    "dose": "medication",
    "dosage": "medication",
    "allergic": "allergy",
    "allergen": "allergy",
    "reaction": "allergy",
    "intolerance": "allergy",
    "problems": "condition",
    "diagnosis": "condition",
    "diagnose": "condition",
    "diagnosed": "condition",
    "history": "condition",
    "illness": "condition",
    "disease": "condition",
    "surgery": "procedure",
    "operation": "procedure",
    "vaccine": "immunization",
    "vaccination": "immunization",
    "shot": "immunization",
    "lab": "observation",
    "result": "observation",
    "vital": "observation",
    "test": "observation",
    "forecast": "weather",
    "insurance": "coverage",
    "insurer": "coverage",
    "payer": "coverage",
    "policy": "coverage",
    "member": "coverage",
    "plan": "coverage",
    "temperature": "weather",
}


def stem(word: str) -> str:
    w = word.lower()
    if w in SYNONYMS:  # plural-specific synonyms ("problems" = conditions, "the problem" = the complaint)
        return SYNONYMS[w]
    for suf in ("ies", "es", "s"):
        if len(w) > 4 and w.endswith(suf):
            w = w[: -len(suf)] + ("y" if suf == "ies" else "")
            break
    return SYNONYMS.get(w, w)


def words(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[A-Za-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")):
        if w.lower() in STOP or len(w) < 3:
            continue
        out.add(stem(w))
    return out


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    topic: frozenset[str]


def _enum_values(schema: Any, root: dict[str, Any], out: list[str]) -> None:
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return
    for v in schema.get("enum", []):
        if isinstance(v, str):
            out.append(v)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _enum_values(schema[key], root, out)
    for sub in (schema.get("properties") or {}).values():
        _enum_values(sub, root, out)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            _enum_values(sub, root, out)


def _score(tool: dict[str, Any], topic: set[str]) -> tuple[int, set[str]]:
    params = tool.get("parameters") or {}
    enums: list[str] = []
    _enum_values(params, params, enums)
    enum_hits = {stem(e) for e in enums if stem(e) in topic or words(e) & topic}
    name_hits = words(tool.get("name", "").replace("_", " ")) & topic
    text = " ".join([tool.get("description", ""), " ".join((params.get("properties") or {}).keys())])
    text_hits = (words(text) & topic) - name_hits
    return 2 * len(enum_hits | name_hits) + len(text_hits), enum_hits | name_hits | text_hits


def hint_lines(system_instruction: str, tools: list[dict[str, Any]]) -> str:
    """System-instruction lines that point at one or two of a tool's enum values
    ("Chart sections for this step: medications."); lines listing every option are not hints."""
    values: set[str] = set()
    for tool in tools:
        enums: list[str] = []
        params = tool.get("parameters") or {}
        _enum_values(params, params, enums)
        values |= {e.lower() for e in enums}
    out = []
    for line in (system_instruction or "").splitlines():
        if re.match(r"\s*next\s*:", line, re.I):
            continue
        named = {v for v in values if re.search(rf"\b{re.escape(v)}\b", line, re.I)}
        if 1 <= len(named) <= 2:
            out.append(line)
    return " ".join(out)


def choose(
    tools: list[dict[str, Any]],
    *,
    instruction: str,
    latest_user: str,
    facts: Facts,
    already: list[dict[str, Any]],
    hints: str = "",
) -> ToolCall | None:
    """The best fitting function call for this turn, or None. `already`: calls that rule out a repeat."""
    topic = words(instruction) | words(latest_user) | words(hints)
    if not topic:
        return None
    best: tuple[int, dict[str, Any], set[str]] | None = None
    for tool in tools:
        if tool.get("type") != "function" or not tool.get("name"):
            continue
        score, hits = _score(tool, topic)
        if score >= 2 and (best is None or score > best[0]):
            best = (score, tool, hits)
    if best is None:
        return None
    _, tool, hits = best
    args = build_arguments(tool.get("parameters") or {}, topic, latest_user, facts)
    new_vals = {str(v) for v in _flatten(args) if v not in ("", None)}
    for prev in already:
        if prev.get("name") != tool["name"]:
            continue
        prev_vals = {str(v) for v in _flatten(prev.get("arguments")) if v not in ("", None)}
        if prev.get("arguments") == args or new_vals <= prev_vals:
            return None  # this topic was already looked up: do not loop
    return ToolCall(name=tool["name"], arguments=args, topic=frozenset(hits))


def _flatten(v: Any) -> list[Any]:
    if isinstance(v, dict):
        return [x for val in v.values() for x in _flatten(val)]
    if isinstance(v, list):
        return [x for val in v for x in _flatten(val)]
    return [v]


def _best_enum(values: list[Any], topic: set[str]) -> list[Any]:
    return [v for v in values if isinstance(v, str) and (stem(v) in topic or words(v) & topic)]


def _place(text: str) -> str:
    m = re.search(r"\b(?:in|at|for|near|from)\s+([A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)?)", text)
    return m.group(1) if m else ""


def _value(name: str, schema: dict[str, Any], root: dict[str, Any], topic: set[str], text: str, facts: Facts) -> Any:
    schema = resolve(schema, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in schema:
        hits = _best_enum(schema["enum"], topic)
        return hits[0] if hits else schema["enum"][0]
    if kind == "array":
        items = resolve(schema.get("items") or {}, root)
        if "enum" in items:
            hits = _best_enum(items["enum"], topic)
            if not hits:
                hits = list(items["enum"][: max(1, schema.get("minItems", 1))])
            return hits
        return [] if not schema.get("minItems") else [_value(name, items, root, topic, text, facts)]
    if kind == "object":
        return _object(schema, root, topic, text, facts, required_only=True)
    if kind == "integer" or kind == "number":
        lo = schema.get("minimum", 0)
        n = name.lower()
        val = 10 if any(k in n for k in ("limit", "max", "count", "size")) else lo
        if "maximum" in schema:
            val = min(val, schema["maximum"])
        return max(val, lo) if kind == "number" else int(max(val, lo))
    if kind == "boolean":
        return bool(name.lower().startswith("include"))
    n = name.lower()
    if "email" in n:
        return facts.email
    if "phone" in n:
        return facts.phone
    if n in ("name", "patient_name", "full_name"):
        return facts.name
    if any(k in n for k in ("location", "city", "place", "address", "region")):
        return _place(text) or "unknown"
    if "date" in n or "dob" in n:
        return facts.dob
    if any(k in n for k in ("query", "term", "search", "topic", "keyword", "q", "section", "category", "kind")):
        return " ".join(sorted(topic))[:80]
    return " ".join(sorted(topic))[:80]


def _object(
    schema: dict[str, Any], root: dict[str, Any], topic: set[str], text: str, facts: Facts, *, required_only: bool
) -> dict[str, Any]:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out: dict[str, Any] = {}
    for pname, psch in props.items():
        rs = resolve(psch, root)
        has_enum = "enum" in rs or "enum" in resolve(rs.get("items") or {}, root)
        if pname in required or has_enum or not required_only:
            val = _value(pname, psch, root, topic, text, facts)
            if pname in required or val not in ("", [], None):
                out[pname] = val
    return out


def build_arguments(params: dict[str, Any], topic: set[str], text: str, facts: Facts) -> dict[str, Any]:
    if not params:
        return {}
    args = _object(params, params, topic, text, facts, required_only=True)
    try:
        jsonschema.validate(args, params)
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        args = {k: v for k, v in args.items() if k in set(params.get("required") or [])}
        try:
            jsonschema.validate(args, params)
        except (jsonschema.ValidationError, jsonschema.SchemaError):
            from gemini_emulator.schema_fill import empty_instance

            args = empty_instance(params, params)
    return args
