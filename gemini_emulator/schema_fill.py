"""Filling a JSON Schema (response_format) from what the conversation established.

Field names are matched by meaning (patient_name/name, chief_complaint/reason, medications[] ...).
Enum fields get the best-matching allowed value. A field that cannot be filled gets an empty value
that still validates ("" / [] / first enum / 0 / null when nullable). The result is checked with
jsonschema; if the fill does not validate, the minimal valid instance is returned instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import jsonschema

from gemini_emulator import drugs, vocab
from gemini_emulator.extract import Facts

# --- schema helpers ----------------------------------------------------------------------------


def resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """Follow local $refs (`#/$defs/X`, `#/definitions/X`) and single-member allOf wrappers."""
    seen = 0
    while isinstance(schema, dict) and seen < 32:
        seen += 1
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **extra} if extra else target
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and all_of:
            # Shallow merge of the members: enough for pydantic's wrappers and simple constraint stacks.
            merged: dict[str, Any] = {}
            for member in all_of:
                merged.update(resolve(member, root))
            schema = {**merged, **{k: v for k, v in schema.items() if k != "allOf"}}
            continue
        break
    return schema if isinstance(schema, dict) else {}


def _variants(schema: dict[str, Any], root: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Non-null alternatives of an anyOf/oneOf/type-list, and whether null is allowed."""
    alts = schema.get("anyOf") or schema.get("oneOf")
    nullable = schema.get("nullable") is True
    if isinstance(alts, list):
        out = []
        for a in alts:
            r = resolve(a, root)
            if r.get("type") == "null":
                nullable = True
            else:
                out.append(r)
        return out, nullable
    kind = schema.get("type")
    if isinstance(kind, list):
        nullable = nullable or "null" in kind
        return [{**schema, "type": k} for k in kind if k != "null"], nullable
    return [schema], nullable


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind.lower()
    if schema.get("enum"):
        v = schema["enum"][0]
        return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(type(v), "string")
    if "const" in schema:
        return "const"
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _string_for(s: dict[str, Any]) -> str:
    """The first simple string meeting minLength / maxLength / pattern / format ("" if possible)."""
    n = int(s.get("minLength") or 0)
    fmt = {"date": "1970-01-01", "date-time": "1970-01-01T00:00:00Z", "email": "unknown@example.invalid"}
    candidates = [fmt[s["format"]]] if s.get("format") in fmt else []
    candidates += ["", "x" * n, "X" * n, "A" * max(n, 1), "0" * max(n, 1), "1" * max(n, 1), "a" * max(n, 1)]
    candidates += ["Unknown", "unknown", "N/A", "none", "1970-01-01", "unknown@example.invalid"]
    candidates += [ch * k for k in range(max(n, 1), max(n, 1) + 12) for ch in "AXx0a1"]  # "^[A-Z]{2}$" -> "AA"
    hi = s.get("maxLength")
    for c in candidates:
        if len(c) < n or (hi is not None and len(c) > hi):
            continue
        try:
            if s.get("pattern") and not re.search(s["pattern"], c):
                continue
        except re.error:
            pass
        return c
    return "x" * n


def empty_instance(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """The smallest value that validates: "" / [] / {} with required keys / first enum / 0 / null."""
    schema = resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    variants, nullable = _variants(schema, root)
    if nullable:
        return None
    if not variants:
        return None
    s = variants[0]
    if s.get("enum"):
        return s["enum"][0]
    kind = _kind(s)
    if depth > 12:  # a schema that requires itself forever has no finite instance; stop somewhere
        return None
    if kind == "object":
        props = s.get("properties") or {}
        return {k: empty_instance(props.get(k, {}), root, depth + 1) for k in s.get("required") or []}
    if kind == "array":
        n = int(s.get("minItems") or 0)
        return [empty_instance(s.get("items") or {}, root, depth + 1) for _ in range(n)]
    if kind in ("integer", "number"):
        lo = s.get("minimum", s.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in s else 0))
        return int(lo) if kind == "integer" else float(lo)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string_for(s)


# --- matching field names to facts ---------------------------------------------------------------


def _tokens(name: str) -> list[str]:
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name)
    return [t for t in re.split(r"[^a-zA-Z0-9]+", name.lower()) if t]


def has(name: str, *keys: str) -> bool:
    toks = _tokens(name)
    joined = "_".join(toks)
    return any(k in toks or (("_" in k) and k in joined) for k in keys)


# Canonical status words and the enum spellings they match.
STATUS_SYNONYMS = {
    "confirmed": ("confirmed", "confirm", "active", "current", "taking", "verified", "unchanged", "continued", "yes"),
    "new": ("new", "added", "reported", "patient_reported", "unverified", "started"),
    "changed": ("changed", "modified", "updated", "dose_changed", "different"),
    "stopped": ("stopped", "discontinued", "inactive", "not_taking", "no_longer", "resolved", "ended"),
    "not_taking": ("not_taking", "not taking", "stopped", "discontinued", "inactive", "unconfirmed", "unknown"),
}
# A relation and the broader enum values it may be filed under.
RELATION_GROUPS = {
    "brother": ("sibling", "siblings"),
    "sister": ("sibling", "siblings"),
    "sibling": ("brother", "sister"),
    "son": ("child", "children"),
    "daughter": ("child", "children"),
    "grandmother": ("grandparent", "grandparents"),
    "grandfather": ("grandparent", "grandparents"),
    "mother": ("parent", "mom"),
    "father": ("parent", "dad"),
    "parents": ("parent", "mother", "father"),
    "aunt": ("extended", "relative"),
    "uncle": ("extended", "relative"),
    "cousin": ("extended", "relative"),
}
URGENCY_HIGH = ("emergency", "emergent", "immediate", "critical", "urgent", "high", "red", "stat", "er")
URGENCY_MID = ("soon", "semi_urgent", "moderate", "medium", "priority", "elevated", "yellow", "same_day", "urgent")
URGENCY_LOW = ("routine", "low", "non_urgent", "normal", "standard", "green", "none", "minimal")


def best_enum(values: list[Any], wanted: list[str]) -> Any:
    """The allowed value that best matches the wanted words (exact > contains); first value otherwise."""
    norm = [(v, "_".join(_tokens(str(v)))) for v in values]
    for w in wanted:
        wn = "_".join(_tokens(w))
        for v, vn in norm:
            if vn == wn:
                return v
    for w in wanted:
        wn = "_".join(_tokens(w))
        for v, vn in norm:
            if wn and (wn in vn or (len(vn) > 2 and vn in wn)):
                return v
    for v, vn in norm:  # nothing fits: a catch-all value beats an arbitrary first one
        if vn in ("other", "unknown", "unspecified", "not_specified", "none"):
            return v
    return values[0]


@dataclass
class Ctx:
    """What the filler knows: facts, the chart from function results, and the text of the report."""

    facts: Facts
    chart: dict[str, Any] = field(default_factory=dict)
    chart_turns: dict[str, int] = field(default_factory=dict)  # section -> user turn that answered it
    summary: str = ""
    report_bullets: list[str] = field(default_factory=list)
    offline_note: str = "Produced offline by the emulator."


def med_status(
    facts: Facts,
    chart: dict[str, Any],
    name: str,
    dose: str,
    from_chart: bool,
    chart_turns: dict[str, int] | None = None,
) -> str:
    chart_turns = chart_turns or {}
    chart_meds = {str(_item_name(m)).lower(): m for m in chart.get("medications", []) if _item_name(m)}
    mine = next((m for m in facts.medications if _same_drug(m.name, name)), None)
    in_chart = next((v for k, v in chart_meds.items() if _same_drug(k, name)), None)
    if mine is not None and mine.stopped:
        return "stopped"
    if from_chart and mine is None:
        # Only the patient's own reply right after the chart was read ("yes, still" / "no, not
        # anymore") gives a chart-only item a status; "" (silence) keeps it out of the summary.
        return chart_answer(facts, chart_turns, "medications", yes="confirmed", no="stopped")
    if in_chart is None:
        return "new"  # patient-reported, the chart does not list it
    chart_dose = _norm_dose(str(_item_get(in_chart, "dose", "strength", "dosage") or ""))
    if mine is not None and mine.dose and chart_dose and _norm_dose(mine.dose) not in chart_dose:
        return "changed"
    return "confirmed"


ALLERGY_GONE = re.compile(r"\b(?:outgrew|outgrown|grew out|no longer|not anymore|not any more|resolved)\b", re.I)
ALLERGY_NEVER = re.compile(r"\b(?:never (?:had|been)|not allergic|wrong|mistake|isn't right|not right)\b", re.I)


def chart_answer(facts: Facts, chart_turns: dict[str, int], section: str, *, yes: str, no: str) -> str:
    """What the patient's reply to the chart read out for `section` says: `yes`, `no`, or ""."""
    turn = chart_turns.get(section)
    answer = facts.answers.get(turn, "") if turn else ""
    return {"yes": yes, "no": no}.get(answer, "")


def allergy_status(
    facts: Facts,
    chart: dict[str, Any],
    substance: str,
    from_chart: bool,
    chart_turns: dict[str, int] | None = None,
) -> str:
    in_chart = any(
        _same_drug(str(_item_get(a, "substance", "name", "allergen") or _item_name(a)), substance)
        for a in chart.get("allergies", []) or []
    )
    if not from_chart:
        return "confirmed" if in_chart else "new"
    said = next((v for k, v in facts.allergy_remarks.items() if _same_drug(k, substance)), "")
    if ALLERGY_GONE.search(said):
        return "resolved"
    if ALLERGY_NEVER.search(said):
        return "denied"
    # Not remarked on: only a yes / no right after the chart was read counts ("" = never mentioned).
    return chart_answer(facts, chart_turns or {}, "allergies", yes="confirmed", no="denied")


def chart_dose(item: Any) -> str:
    dose = str(_item_get(item, "dose", "strength", "dosage") or "")
    if dose:
        return dose
    m = re.search(r"(\d+(?:\.\d+)?)\s*(mg|mcg|g|ml|units?)\b", _item_name(item), re.I)
    return f"{m.group(1)} {m.group(2).lower()}" if m else ""


def _norm_dose(d: str) -> str:
    return re.sub(r"\s+", "", d.lower())


def _canonical(name: str) -> str:
    """'Sulfonamides (substance)' and 'sulfa drugs' -> 'sulfa' (vocab.ALIASES), else the first word."""
    low = re.sub(r"\([^)]*\)", " ", name.lower()).strip()
    for canon, names in vocab.ALIASES.items():
        for n in (canon, *names):
            if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", low):
                return canon
    return low.split()[0].rstrip("s") if low.split() else ""


def _class_match(a: str, b: str) -> bool:
    """'water pill' and 'Hydrochlorothiazide 25 MG' name the same thing (vocab.DRUG_CLASSES)."""
    for said, members in vocab.DRUG_CLASSES.values():
        for x, y in ((a, b), (b, a)):
            if any(p in x for p in said) and any(re.search(rf"\b{re.escape(m)}\b", y) for m in members):
                return True
    return False


def _same_drug(a: str, b: str) -> bool:
    a, b = a.lower().strip(), b.lower().strip()
    if not a or not b:
        return False
    if a in b or b in a or _canonical(a) == _canonical(b) or _class_match(a, b):
        return True
    # One ingredient by brand, generic or salt ("benadryl" and "diphenhydrAMINE Hydrochloride 25 MG"),
    # from the drug-name library.
    ia, ib = drugs.ingredient(a), drugs.ingredient(b)
    return bool(ia and ia == ib)


def _item_name(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        v = _item_get(item, "name", "medication", "drug", "substance", "display", "code", "text", "title")
        return str(v) if v else ""
    return ""


def _item_get(item: Any, *keys: str) -> Any:
    if not isinstance(item, dict):
        return None
    for k in keys:
        if item.get(k) not in (None, ""):
            return item[k]
    return None


def _urgency_words(facts: Facts) -> list[str]:
    if facts.red_flags:
        return list(URGENCY_HIGH)
    if facts.severity == "severe" or (facts.severity_score or 0) >= 8:
        return list(URGENCY_MID) + list(URGENCY_LOW)
    return list(URGENCY_LOW)


def _age(dob: str) -> int:
    try:
        born = date.fromisoformat(dob)
    except ValueError:
        return 0
    today = date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _social_text(f: Facts) -> str:
    parts = [p for p in (f.tobacco, f.alcohol, f.occupation and f"occupation: {f.occupation}") if p]
    return "; ".join(parts)


def _insurance_text(f: Facts) -> str:
    return ", ".join(p for p in (f.insurer, f.member_id and f"member ID {f.member_id}") if p)


def intake_summary(f: Facts) -> str:
    bits = []
    if f.name:
        bits.append(f.name)
    if f.chief_complaint:
        bits.append(f"presents with {f.chief_complaint}")
    elif f.symptoms:
        bits.append("reports " + ", ".join(f.symptoms))
    if f.onset:
        bits.append(f"onset {f.onset}")
    if f.severity:
        bits.append(f"severity {f.severity}")
    if f.medications:
        bits.append("medications: " + ", ".join(_med_text(m) for m in f.medications))
    if f.allergies:
        bits.append(
            "allergies: " + ", ".join(a.substance + (f" ({a.reaction})" if a.reaction else "") for a in f.allergies)
        )
    elif f.no_allergies:
        bits.append("no known allergies")
    if f.red_flags:
        bits.append("red flags: " + ", ".join(f.red_flags))
    return ("; ".join(bits) + ".") if bits else ""


def _med_text(m: Any) -> str:
    return " ".join(p for p in (m.name, m.dose, m.frequency) if p)


def hpi_text(f: Facts) -> str:
    bits = []
    if f.symptoms:
        bits.append(", ".join(f.symptoms).capitalize())
    if f.onset:
        bits.append(f"onset {f.onset}")
    if f.severity:
        bits.append(f"severity {f.severity}")
    if f.course:
        bits.append(f.course)
    return ("; ".join(bits) + ".") if bits else ""


def _chart_coverage(ctx: Ctx) -> dict[str, str]:
    """The chart's first coverage entry, used when the patient confirms rather than repeats it."""
    cov = ctx.chart.get("coverage") or ctx.chart.get("insurance") or []
    first = cov[0] if isinstance(cov, list) and cov else cov
    if not isinstance(first, dict):
        return {}
    payer = str(_item_get(first, "payer", "insurer", "provider", "name", "company") or "")
    member = str(_item_get(first, "member_id", "memberId", "subscriber_id", "policy_number", "id") or "")
    if ctx.facts.insurer and payer and ctx.facts.insurer.lower() not in payer.lower():
        return {}  # the patient named a different insurer: the chart's id is not theirs
    return {"payer": payer, "member_id": member}


def follow_up(f: Facts) -> str:
    if f.red_flags:
        return "Seek emergency care now (call emergency services); red flags: " + ", ".join(f.red_flags) + "."
    if f.severity == "severe" or (f.severity_score or 0) >= 8:
        return "Same-day review by a clinician."
    if f.symptoms:
        return "Routine review by the clinician at the scheduled visit."
    return "Routine follow-up."


# --- filling -------------------------------------------------------------------------------------


def _list_source(name: str, ctx: Ctx) -> list[dict[str, Any]] | None:
    """Rows for an array field, as dicts of canonical keys, or None if the name means nothing."""
    f = ctx.facts
    if has(name, "medications", "medication", "meds", "drugs", "prescriptions", "medication_list"):
        rows = []
        chart_meds = ctx.chart.get("medications", []) or []
        for m in f.medications:
            in_chart = next((c for c in chart_meds if _same_drug(_item_name(c), m.name)), None)
            is_class = m.name in vocab.DRUG_CLASSES
            rows.append(
                {
                    # "my water pill" is filed under the chart's drug it matched.
                    "name": _item_name(in_chart) if (is_class and in_chart is not None) else m.name,
                    "dose": m.dose or (chart_dose(in_chart) if in_chart is not None else ""),
                    "frequency": m.frequency,
                    "status": med_status(f, ctx.chart, m.name, m.dose, False),
                    "turns": [m.turn] if m.turn else [],
                    "source": "patient",
                }
            )
        for cm in ctx.chart.get("medications", []) or []:
            nm = _item_name(cm)
            if not nm or any(_same_drug(nm, r["name"]) for r in rows):
                continue
            status = med_status(f, ctx.chart, nm, "", True, ctx.chart_turns)
            if status:  # the patient answered about it; chart items they never spoke of stay out
                rows.append(
                    {
                        "name": nm,
                        "dose": chart_dose(cm),
                        "frequency": str(_item_get(cm, "frequency", "sig", "instructions") or ""),
                        "status": status,
                        "turns": [ctx.chart_turns["medications"]],
                        "source": "chart",
                    }
                )
        return rows
    if has(name, "allergies", "allergy", "allergens", "allergy_list"):
        rows = [
            {
                "name": a.substance,
                "substance": a.substance,
                "reaction": a.reaction,
                "status": allergy_status(f, ctx.chart, a.substance, False),
                "turns": [a.turn] if a.turn else [],
            }
            for a in f.allergies
        ]
        for ca in ctx.chart.get("allergies", []) or []:
            nm = str(_item_get(ca, "substance", "name", "allergen", "code") or _item_name(ca))
            if not nm or any(_same_drug(nm, r["substance"]) for r in rows):
                continue
            status = allergy_status(f, ctx.chart, nm, True, ctx.chart_turns)
            if status:  # the patient answered or remarked on it; silence is not confirmation
                turn = ctx.chart_turns.get("allergies")
                rows.append(
                    {
                        "name": nm,
                        "substance": nm,
                        "reaction": str(_item_get(ca, "reaction") or ""),
                        "status": status,
                        "turns": [turn] if turn else [],
                    }
                )
        return rows
    if has(name, "family", "family_history"):
        return [
            {"relation": x.relation, "condition": x.condition, "name": x.condition, "turns": [x.turn]} for x in f.family
        ]
    if has(name, "symptoms", "symptom", "complaints"):
        return [
            {"name": s, "onset": f.onset, "severity": f.severity, "turns": f.turns.get("symptoms", [])}
            for s in f.symptoms
        ]
    if has(name, "surgeries", "surgical", "procedures", "operations"):
        return [{"name": s, "turns": f.turns.get("history", [])} for s in f.surgeries]
    if has(name, "conditions", "diagnoses", "problems", "past_medical_history", "medical_history", "history", "pmh"):
        return [{"name": c, "turns": f.turns.get("history", [])} for c in f.conditions + f.surgeries]
    if has(name, "red_flags", "red_flag", "warning_signs", "flags", "alerts"):
        return [{"name": r} for r in f.red_flags]
    if has(name, "follow_up", "recommended_follow_up", "recommendations", "next_steps", "plan", "actions"):
        return [{"name": follow_up(f)}] + [
            {"name": f"Confirm declined item with the patient: {d}."} for d in f.declined
        ]
    if has(name, "bullets", "bullet_points", "key_points", "highlights", "takeaways", "findings", "points"):
        src = ctx.report_bullets or [s for s in intake_summary(f).split("; ") if s]
        return [{"name": b} for b in src]
    if has(name, "declined", "declines", "refused", "skipped"):
        return [{"name": d} for d in f.declined]
    if has(name, "turns", "source_turns", "sources", "turn_ids", "evidence_turns", "turn_numbers"):
        every = sorted({t for lst in f.turns.values() for t in lst})
        return [{"int": t} for t in every]
    return None


def _scalar_for(name: str, ctx: Ctx, row: dict[str, Any] | None) -> Any:
    """A value for a scalar field by its name ("" when unknown)."""
    f = ctx.facts
    if row is not None:
        if has(name, "turns", "turn", "source_turns", "sources", "turn_ids", "source_turn"):
            return row.get("turns", [])
        for keys, key in (
            (("field", "field_name", "key", "path"), "field"),
            (("name", "medication", "drug", "title", "item", "text", "description", "value", "label"), "name"),
            (("substance", "allergen", "agent"), "substance"),
            (("reaction", "reactions", "symptom_reaction"), "reaction"),
            (("dose", "dosage", "strength", "amount"), "dose"),
            (("frequency", "how_often", "schedule", "sig", "timing", "freq"), "frequency"),
            (("status", "state", "verification"), "status"),
            (("relation", "relationship", "relative", "member", "who"), "relation"),
            (("condition", "diagnosis", "disease", "problem"), "condition"),
            (("onset", "since", "started", "duration"), "onset"),
            (("severity", "intensity"), "severity"),
            (("source", "origin"), "source"),
        ):
            if has(name, *keys) and key in row:
                return row[key]
        if "name" in row and has(name, "substance", "condition", "relation"):
            return row.get("name", "")
        return ""
    if has(name, "first_name", "given_name"):
        return f.name.split()[0] if f.name else ""
    if has(name, "last_name", "family_name", "surname"):
        return f.name.split()[-1] if len(f.name.split()) > 1 else ""
    if has(name, "patient_name", "full_name", "name", "patient"):
        return f.name
    if has(name, "dob", "date_of_birth", "birth_date", "birthdate", "birthday"):
        return f.dob
    if has(name, "age"):
        return _age(f.dob) if f.dob else 0
    if has(name, "phone", "telephone", "mobile", "cell"):
        return f.phone
    if has(name, "email", "e_mail"):
        return f.email
    if has(name, "member_id", "policy_number", "subscriber_id", "member_number", "policy_id"):
        return f.member_id or _chart_coverage(ctx).get("member_id", "")
    if has(name, "insurer", "insurance_provider", "payer", "carrier", "provider", "company", "plan"):
        return f.insurer or _chart_coverage(ctx).get("payer", "")
    if has(name, "insurance"):
        return _insurance_text(f)
    if has(
        name,
        "chief_complaint",
        "complaint",
        "reason",
        "reason_for_visit",
        "presenting_complaint",
        "main_concern",
        "concern",
    ):
        return f.chief_complaint or ", ".join(f.symptoms)
    if has(name, "history_of_present_illness", "hpi", "present_illness"):
        return hpi_text(f)
    if has(name, "onset", "duration", "since", "started"):
        return f.onset
    if has(name, "severity_score", "pain_score", "pain_scale", "score", "pain_level"):
        return f.severity_score if f.severity_score is not None else 0
    if has(name, "severity", "intensity"):
        return f.severity
    if has(name, "tobacco", "smoking", "smoker", "cigarettes"):
        return f.tobacco
    if has(name, "alcohol", "drinking"):
        return f.alcohol
    if has(name, "occupation", "job", "work", "employment"):
        return f.occupation
    if has(name, "social_history", "social", "lifestyle"):
        return _social_text(f)
    if has(name, "family_history", "family"):
        return "; ".join(f"{x.relation}: {x.condition}" for x in f.family)
    if has(name, "allergies", "allergy"):
        if f.no_allergies and not f.allergies:
            return "No known allergies"
        return ", ".join(a.substance + (f" ({a.reaction})" if a.reaction else "") for a in f.allergies)
    if has(name, "medications", "medication", "meds"):
        return ", ".join(_med_text(m) for m in f.medications)
    if has(name, "symptoms", "symptom"):
        return ", ".join(f.symptoms)
    if has(name, "conditions", "medical_history", "past_medical_history", "history", "pmh"):
        return ", ".join(f.conditions + f.surgeries)
    if has(name, "urgency", "urgency_level", "triage", "acuity", "priority", "level"):
        return _urgency_words(f)[0]
    if has(
        name,
        "follow_up",
        "recommended_follow_up",
        "recommendation",
        "recommendations",
        "next_steps",
        "plan",
        "disposition",
    ):
        return follow_up(f)
    if has(name, "red_flags", "red_flag", "flags"):
        return ", ".join(f.red_flags)
    if has(name, "summary", "narrative", "hpi", "overview", "brief", "assessment", "report"):
        return ctx.summary or intake_summary(f)
    if has(name, "disclaimer", "generated_by", "note_on_source", "provenance", "produced_by", "model_note"):
        return ctx.offline_note
    return ""


def _bool_for(name: str, ctx: Ctx) -> bool:
    f = ctx.facts
    if has(name, "red_flag", "red_flags", "urgent", "emergency", "needs_escalation", "escalate"):
        return bool(f.red_flags)
    if has(name, "smoker", "smokes", "tobacco"):
        return bool(f.tobacco) and "never" not in f.tobacco and "former" not in f.tobacco
    if has(name, "allergies", "has_allergies", "allergy"):
        return bool(f.allergies)
    if has(name, "declined", "refused"):
        return bool(f.declined)
    if has(name, "complete", "completed", "done"):
        return not f.empty()
    return False


def fill(schema: Any, ctx: Ctx, root: dict[str, Any] | None = None) -> Any:
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    value = _fill(schema, "", ctx, root, None)
    return finalize(schema, value, root)


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Any:
    """A checked validator per schema, built once: checking a schema costs far more than using it."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return None
    return cls(schema, format_checker=jsonschema.FormatChecker())


def _valid(value: Any, schema: Any, root: dict[str, Any]) -> bool:
    # Sub-schemas keep $refs into the root, so validate them with the root's $defs in scope.
    if isinstance(schema, dict) and schema is not root:
        schema = {**schema, "$defs": root.get("$defs", {}), "definitions": root.get("definitions", {})}
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except (TypeError, ValueError):
        return False
    return validator is not None and validator.is_valid(value)


def finalize(schema: Any, value: Any, root: dict[str, Any]) -> Any:
    """The filled value if it validates; otherwise repair field by field, then the minimal instance."""
    if _valid(value, schema, root):
        return value
    s = resolve(schema, root)
    if isinstance(value, dict) and isinstance(s.get("properties"), dict):
        fixed = {}
        for k, v in value.items():
            sub = s["properties"].get(k, {})
            fixed[k] = v if _valid(v, sub, root) else empty_instance(sub, root)
        if _valid(fixed, schema, root):
            return fixed
    return empty_instance(schema, root)


def _fill(schema: Any, name: str, ctx: Ctx, root: dict[str, Any], row: dict[str, Any] | None, depth: int = 0) -> Any:
    schema = resolve(schema, root)
    if depth > 8:  # recursive schemas ($ref to itself): stop with the minimal value
        return empty_instance(schema, root)
    if "const" in schema:
        return schema["const"]
    variants, nullable = _variants(schema, root)
    if not variants:
        return None
    s = variants[0]
    kind = _kind(s)
    if s.get("enum"):
        return _fill_enum(s["enum"], name, ctx, row)
    if kind == "object":
        props = s.get("properties") or {}
        if not props:
            return {}
        out: dict[str, Any] = {}
        deferred = []
        for pname, psch in props.items():
            if row is None and _is_field_sources(pname, psch, root):
                deferred.append((pname, psch))
                out[pname] = None  # keeps the schema's property order
                continue
            out[pname] = _fill(psch, pname, ctx, root, row, depth + 1)
        for pname, psch in deferred:
            # "sources": [{field, turns}] for every sibling field that was filled.
            rows = [
                {"field": k, "name": k, "turns": turns_for(k, ctx.facts)}
                for k, v in out.items()
                if k != pname and v not in ("", [], None, {}) and turns_for(k, ctx.facts)
            ]
            out[pname] = _fit_array(
                psch,
                [_fill_item(resolve(resolve(psch, root).get("items") or {}, root), r, ctx, root) for r in rows],
                root,
            )
        return out
    if kind == "array":
        items = resolve(s.get("items") or {}, root)
        rows = _list_source(name, ctx) if row is None else None
        if row is not None and has(name, "turns", "turn", "source_turns", "sources", "turn_ids"):
            rows = [{"int": t} for t in row.get("turns", [])]
        out_list = [] if rows is None else [_fill_item(items, r, ctx, root, depth + 1) for r in rows]
        return _fit_array(s, out_list, root)
    if kind in ("integer", "number"):
        v = _scalar_for(name, ctx, row)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            v = len(v) if isinstance(v, list) else 0
        if isinstance(v, list):
            v = v[0] if v else 0
        return int(v) if kind == "integer" else float(v)
    if kind == "boolean":
        return _bool_for(name, ctx)
    if kind == "null":
        return None
    v = _scalar_for(name, ctx, row)
    if isinstance(v, list):
        v = ", ".join(str(x) for x in v)
    v = "" if v is None else str(v)
    if not v and nullable:
        return None
    if s.get("format") == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return None if nullable else "1970-01-01"
    if isinstance(s.get("maxLength"), int):
        v = v[: s["maxLength"]].rstrip()
    return v


def _fit_array(schema: Any, values: list[Any], root: dict[str, Any]) -> list[Any]:
    s = resolve(schema, root)
    items = resolve(s.get("items") or {}, root)
    lo, hi = int(s.get("minItems") or 0), s.get("maxItems")
    if hi is not None:
        values = values[: int(hi)]
    while len(values) < lo:
        values.append(empty_instance(items, root))
    return values


def _is_field_sources(name: str, schema: Any, root: dict[str, Any]) -> bool:
    """An array of {field, turns} objects: provenance for the other fields of the same object."""
    s = resolve(schema, root)
    variants, _ = _variants(s, root)
    s = variants[0] if variants else s
    if _kind(s) != "array":
        return False
    items = resolve(s.get("items") or {}, root)
    props = items.get("properties") or {}
    return any(has(k, "field", "field_name", "key", "path") for k in props) and any(
        has(k, "turns", "turn", "turn_ids", "source_turns") for k in props
    )


# Which fact keys (Facts.turns) feed a summary field.
FIELD_FACTS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("patient_name", "name", "full_name", "first_name", "last_name"), ("name",)),
    (("dob", "date_of_birth", "birth_date"), ("dob",)),
    (("phone", "email", "contact"), ("phone", "email")),
    (("insurance", "coverage", "payer", "member_id"), ("insurance",)),
    (("history_of_present_illness", "hpi", "present_illness"), ("onset", "severity", "symptoms")),
    (("chief_complaint", "complaint", "reason", "reason_for_visit", "symptoms"), ("chief_complaint", "symptoms")),
    (("onset", "duration"), ("onset",)),
    (("severity", "pain_score"), ("severity",)),
    (("medications", "meds", "medication"), ("medications",)),
    (("allergies", "allergy"), ("allergies",)),
    (("family_history", "family"), ("family",)),
    (("past_history", "past_medical_history", "medical_history", "conditions", "surgeries"), ("history",)),
    (("social_history", "social", "tobacco", "alcohol", "occupation"), ("social",)),
    (("red_flags", "urgency", "urgency_level"), ("red_flags",)),
]


def turns_for(field_name: str, facts: Facts) -> list[int]:
    for names, keys in FIELD_FACTS:
        if has(field_name, *names):
            return sorted({t for k in keys for t in facts.turns.get(k, [])})
    return []


def _fill_item(items: dict[str, Any], row: dict[str, Any], ctx: Ctx, root: dict[str, Any], depth: int = 0) -> Any:
    kind = _kind(items) if not items.get("anyOf") else "object"
    if "int" in row:
        return row["int"] if kind in ("integer", "number") else str(row["int"])
    if items.get("enum"):
        return best_enum(items["enum"], [row.get("name", "")])
    if kind == "object" or items.get("anyOf"):
        return _fill(items, "", ctx, root, row, depth + 1)
    if kind in ("integer", "number"):
        t = row.get("turns") or [0]
        return t[0]
    text = row.get("name", "")
    extra = [row[k] for k in ("dose", "frequency") if row.get(k)]
    if row.get("relation"):
        text = f"{row['relation']}: {row['condition']}"
    elif row.get("reaction"):
        text = f"{text} ({row['reaction']})"
    elif extra:
        text = " ".join([text, *extra])
    return text


def _fill_enum(values: list[Any], name: str, ctx: Ctx, row: dict[str, Any] | None) -> Any:
    f = ctx.facts
    if row is not None and has(name, "status", "state", "verification"):
        st = str(row.get("status", ""))
        return best_enum(values, list(STATUS_SYNONYMS.get(st, (st,))))
    if row is not None:
        v = _scalar_for(name, ctx, row)
        if v:
            return best_enum(values, [str(v), *RELATION_GROUPS.get(str(v), ())])
    if has(name, "urgency", "urgency_level", "triage", "acuity", "priority", "level", "risk"):
        return best_enum(values, _urgency_words(f))
    if has(name, "severity", "intensity"):
        sev = f.severity
        if f.severity_score is not None:
            sev = "severe" if f.severity_score >= 7 else "moderate" if f.severity_score >= 4 else "mild"
        return best_enum(values, [sev] if sev else ["unknown", "none"])
    v = _scalar_for(name, ctx, None)
    return best_enum(values, [str(v)] if v else ["unknown", "none", "other"])
