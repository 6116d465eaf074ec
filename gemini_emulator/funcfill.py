"""Filling a declared function's parameters from the patient's latest message.

A function whose properties are all optional is treated as a form the model fills with what the
latest message said (nothing more: every property left out means "not said"). Each property is read
by what its name and description talk about (a person's name, a date of birth, medicines, allergies,
a symptom, an urgency level...), never by the exact field names of one app; a property about none
of those gets generic rules (an enum value the text mentions, a number next to the property's own
words, a date, a place after "from" / "to", a name after "named" / "called"). The result is checked
against the schema; parts that do not validate are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gemini_emulator import extract, instruct, vocab
from gemini_emulator.extract import Facts
from gemini_emulator.schema_fill import URGENCY_HIGH, URGENCY_MID, _kind, _valid, _variants, best_enum, resolve
from gemini_emulator.toolcall import words as topic_words

# What a property may be about: the words of its name and description that say so.
CONCEPTS: dict[str, frozenset[str]] = {
    k: vocab.word_set(v)
    for k, v in {
        "person_name": "name fullname full patient legal given surname first last person",
        "dob": "dob birth birthday born birthdate",
        "phone": "phone telephone mobile cell",
        "email": "email mail",
        "payer": "payer insurer carrier company insurance plan",
        "member_id": "member subscriber policy",
        "insurance": "insurance coverage",
        "complaint": "complaint reason concern problem visit brings symptom symptoms chief",
        "hpi": "onset severity course started duration present illness hpi worse better",
        "medications": "medication medications meds medicine medicines drug drugs prescription prescriptions",
        "allergies": "allergy allergies allergic allergen allergens",
        "conditions": "past conditions condition surgeries surgery diagnoses diagnosis operations illnesses medical",
        "family": "family relatives hereditary",
        "tobacco": "tobacco smoking smoke smoker cigarettes vaping",
        "alcohol": "alcohol drinking drinks",
        "occupation": "occupation job work employment profession",
        "none": "none negatives denies nothing",
        "declined": "declined decline refused skipped skip",
        "confirmed": "confirmed confirm correct agrees accurate right",
        "urgency": "urgency triage acuity priority emergency",
        "warning_signs": "warning signs alarm danger flags red",
    }.items()
}
# Topic keys of the extractor (what a decline or a "none" is about) -> the concept of the property.
TOPIC_CONCEPTS = {
    "name": "person_name",
    "dob": "dob",
    "contact": "phone",
    "insurance": "insurance",
    "complaint": "complaint",
    "onset": "hpi",
    "severity": "hpi",
    "medications": "medications",
    "allergies": "allergies",
    "history": "conditions",
    "family": "family",
    "social": "tobacco",
    "phone": "phone",
    "email": "email",
    "tobacco": "tobacco",
    "alcohol": "alcohol",
    "occupation": "occupation",
}
# Other words a schema may use for the same topic.
TOPIC_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("identity", "demographics", "personal"),
    "dob": ("identity", "demographics", "birth"),
    "contact": ("contact_details", "phone", "email"),
    "insurance": ("coverage", "payer"),
    "complaint": ("chief_complaint", "reason", "symptoms"),
    "onset": ("history_of_present_illness", "hpi"),
    "severity": ("history_of_present_illness", "hpi"),
    "history": ("past_history", "medical_history", "conditions"),
    "family": ("family_history",),
    "social": ("social_history", "lifestyle"),
    "phone": ("contact", "contact_details"),
    "email": ("contact", "contact_details"),
    "tobacco": ("social", "social_history", "lifestyle"),
    "alcohol": ("social", "social_history", "lifestyle"),
    "occupation": ("social", "social_history", "lifestyle"),
}
NONE_FLAGS = {
    "allergies": "no_allergies",
    "medications": "no_medications",
    "history": "no_history",
    "family": "no_family_history",
    "email": "no_email",
}
# Concepts that describe one field of a list item (a medicine's dose, an allergy's reaction).
ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "drug", "medication", "medicine", "substance", "allergen", "condition", "title", "item"),
    "dose": ("dose", "dosage", "strength", "amount"),
    "frequency": ("frequency", "often", "schedule", "timing", "how_often", "sig"),
    "taking": ("taking", "active", "current", "currently", "still"),
    "reaction": ("reaction", "reactions", "happens", "symptom"),
    "relation": ("relation", "relationship", "relative", "who", "member"),
    "condition": ("condition", "disease", "illness", "diagnosis"),
    "status": ("status", "state"),
}


@dataclass
class Said:
    """The latest message, what it says, and what it answers."""

    text: str
    facts: Facts  # this message alone
    asked: list[str]  # extractor topics of the question just asked
    question: str  # the model's message just before
    warning_clauses: list[str]


def _tokens(text: str) -> list[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")
    return [t for t in re.split(r"[^a-zA-Z0-9]+", text.lower()) if t]


def concept_of(name: str, schema: dict[str, Any]) -> str:
    """The concept a property is about: its name's words count double, its description's once."""
    name_toks = _tokens(name)
    desc_toks = _tokens(str(schema.get("description") or ""))
    best, score = "", 0
    for concept, keys in CONCEPTS.items():
        s = 2 * sum(t in keys for t in name_toks) + sum(t in keys for t in desc_toks[:24])
        if s > score:
            best, score = concept, s
    # "pet_name", "company_name": the name of something else, unless the description says a person's
    person = re.search(r"\b(?:patient|person|your|caller|full name|legal name)\b", str(schema.get("description", "")))
    if best == "person_name" and any(t not in CONCEPTS["person_name"] for t in name_toks) and not person:
        return ""
    if best == "person_name" and set(name_toks) & ID_WORDS:
        return ""  # "patient_id" is the patient's identifier, not their name
    return best if score >= 2 else ""


def _warning_clauses(text: str) -> list[str]:
    """The patient's own words for each emergency sign in the message."""
    out: list[str] = []
    for sentence in extract.split_sentences(text):
        for clause in extract.split_clauses(sentence):
            for rx in extract.RED_FLAG_RE.values():
                m = rx.search(clause)
                if (
                    m
                    and not extract._negated(clause, m.start())
                    and not extract.not_current(sentence)
                    and clause.strip(" .!") not in out
                ):
                    out.append(clause.strip(" .!"))
    return out


def read_latest(conv: list[dict[str, Any]], prior: Facts | None = None) -> Said:
    """The latest user message read on its own. `prior`: what the conversation established (what
    "it" and "the dose" refer to); read from the earlier messages when not given."""
    msgs = extract.user_messages(conv)
    if not msgs:
        return Said("", Facts(), [], "", [])
    contexts = extract.model_text_before(conv)
    earlier = prior
    if earlier is None:
        earlier = Facts()
        for i, (turn, text, asked) in enumerate(msgs[:-1]):
            extract.read_message(text, earlier, turn, asked, context=contexts[i] if i < len(contexts) else "")
    turn, text, asked = msgs[-1]
    question = contexts[len(msgs) - 1] if len(contexts) >= len(msgs) else ""
    lf = Facts()
    # Every message since the model last spoke is new to it (one saved before a reload comes with
    # the next): each is read, in order, with its own turn number.
    unanswered = msgs[-_messages_since_model(conv) :] if len(msgs) > 1 else msgs
    texts = []
    for n, said_text, said_asked in unanswered:
        own = instruct.split_input(said_text)[1] if n != turn else said_text
        if own.strip():
            extract.read_message(own, lf, n, said_asked, context=question, prior=earlier)
            texts.append(own)
    text = "\n".join(texts) or text
    return Said(text, lf, asked, question, _warning_clauses(text) if lf.red_flags else [])


def _messages_since_model(conv: list[dict[str, Any]]) -> int:
    """How many user texts came after the model's last words (at least the latest one)."""
    n = 0
    for step in reversed(conv):
        kind = step.get("type")
        if kind == "model_output":
            break
        if kind == "user_input" and extract.step_text(step).strip():
            n += 1
    return max(n, 1)


# --- values by concept -------------------------------------------------------------------------


def _item_rows(concept: str, f: Facts) -> list[dict[str, Any]]:
    if concept == "medications":
        return [
            {
                "name": m.name,
                "dose": m.dose,
                "frequency": m.frequency,
                "taking": not m.stopped,
                "status": "stopped" if m.stopped else "taking",
            }
            for m in f.medications
        ]
    if concept == "allergies":
        return [{"name": a.substance, "reaction": a.reaction} for a in f.allergies]
    if concept == "family":
        return [{"name": x.condition, "relation": x.relation, "condition": x.condition} for x in f.family]
    if concept == "conditions":
        return [{"name": c, "condition": c} for c in f.conditions + f.surgeries]
    return []


def _row_text(concept: str, row: dict[str, Any]) -> str:
    if concept == "family":
        return f"{row['relation']}: {row['condition']}"
    if concept == "allergies" and row.get("reaction"):
        return f"{row['name']} ({row['reaction']})"
    if concept == "medications":
        return " ".join(p for p in (row["name"], row["dose"], row["frequency"]) if p) + (
            "" if row["taking"] else " (stopped)"
        )
    return str(row.get("name", ""))


def _item_field(name: str, schema: dict[str, Any]) -> str:
    toks = _tokens(name) + _tokens(str(schema.get("description") or ""))[:6]
    for field, keys in ITEM_FIELDS.items():
        if any(t in keys for t in _tokens(name)):
            return field
    for field, keys in ITEM_FIELDS.items():
        if any(t in keys for t in toks):
            return field
    return ""


def _fill_row(item: dict[str, Any], root: dict[str, Any], concept: str, row: dict[str, Any]) -> Any:
    s = _first_variant(item, root)
    kind = _kind(s)
    if kind != "object":
        return _row_text(concept, row) if kind == "string" else None
    out: dict[str, Any] = {}
    for pname, psch in (s.get("properties") or {}).items():
        ps = _first_variant(psch, root)
        field = _item_field(pname, ps)
        value = row.get(field)
        if field == "name" and concept == "family" and "condition" in row:
            value = row["condition"]
        if value in (None, ""):
            continue
        pk = _kind(ps)
        if ps.get("enum"):
            value = best_enum(ps["enum"], [str(value)])
        elif pk == "boolean":
            value = bool(value)
        elif pk == "string":
            value = str(value)
        else:
            continue
        out[pname] = value
    return out or None


def _first_variant(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """The first non-null alternative, keeping the wrapper's description (pydantic puts it on the anyOf)."""
    s = resolve(schema, root)
    variants, _ = _variants(s, root)
    if not variants:
        return s
    first = variants[0]
    if s.get("description") and not first.get("description"):
        first = {**first, "description": s["description"]}
    return first


def _described_keys(description: str, siblings: dict[str, str]) -> list[str]:
    """Keys a free-text list's description names as its values ("topic keys: identity, contact, ...")."""
    known = set(TOPIC_CONCEPTS) | {a for v in TOPIC_ALIASES.values() for a in v} | set(siblings)
    return [w for w in dict.fromkeys(re.findall(r"[a-z][a-z_]+", description.lower())) if w in known]


def _topic_values(
    topics: list[str], items: dict[str, Any], siblings: dict[str, str], description: str = ""
) -> list[str]:
    """Topic keys as the schema spells them: an enum value, a key its description names, or the name
    of the matching sibling property."""
    out: list[str] = []
    named_keys = _described_keys(description, siblings) if not items.get("enum") else []
    if len(named_keys) >= 2:
        items = {**items, "enum": named_keys}
    for topic in topics:
        concept = TOPIC_CONCEPTS.get(topic, "")
        if items.get("enum"):
            wanted = [topic, *TOPIC_ALIASES.get(topic, ()), concept, *[k for k, c in siblings.items() if c == concept]]
            value = best_enum(items["enum"], wanted)
        else:
            named = [k for k, c in siblings.items() if c == concept]
            if not named and concept == "tobacco":
                named = [k for k, c in siblings.items() if c in ("alcohol", "occupation")]
            value = named[0] if named else topic
        if value not in out:
            out.append(value)
    return out


def _value(
    concept: str, name: str, s: dict[str, Any], root: dict[str, Any], said: Said, siblings: dict[str, str]
) -> Any:
    f = said.facts
    kind = _kind(s)
    if kind == "array":
        items = _first_variant(s.get("items") or {}, root)
        if concept in ("medications", "allergies", "family", "conditions"):
            rows = [_fill_row(items, root, concept, r) for r in _item_rows(concept, f)]
            return [r for r in rows if r is not None]
        desc = str(s.get("description") or "")
        if concept == "none":
            return _topic_values([t for t, flag in NONE_FLAGS.items() if getattr(f, flag)], items, siblings, desc)
        if concept == "declined":
            return _topic_values([t for t in f.declined if t in TOPIC_CONCEPTS], items, siblings, desc)
        if concept == "warning_signs":
            return said.warning_clauses
        if concept == "complaint":
            return list(f.symptoms)
        return _generic(name, s, root, said)
    if kind == "object":
        return _object(s, root, said)
    if kind == "boolean":
        if concept == "confirmed":
            return _confirmed(name, s, said)
        return _generic(name, s, root, said)
    if s.get("enum") and concept == "urgency":
        if f.red_flags:
            return best_enum(s["enum"], list(URGENCY_HIGH))
        if f.severity == "severe" or (f.severity_score or 0) >= 8:
            return best_enum(s["enum"], list(URGENCY_MID))
        return None
    if kind != "string" or s.get("enum"):
        return _generic(name, s, root, said)
    text = {
        "person_name": f.name,
        "dob": f.dob,
        "phone": f.phone,
        "email": f.email,
        "payer": f.insurer,
        "member_id": f.member_id,
        "insurance": ", ".join(p for p in (f.insurer, f.member_id and f"member ID {f.member_id}") if p),
        "complaint": f.chief_complaint or ", ".join(f.symptoms),
        "hpi": "; ".join(
            [
                *f.hpi_notes,
                *([f.severity] if f.severity_score is not None and f.severity not in " ".join(f.hpi_notes) else []),
            ]
        )
        if f.hpi_notes
        else "; ".join(p for p in (f.onset and f"started {f.onset}", f.severity, f.course) if p),
        "tobacco": f.tobacco,
        "alcohol": f.alcohol,
        "occupation": f.occupation,
        "medications": ", ".join(_row_text("medications", r) for r in _item_rows("medications", f)),
        "allergies": ", ".join(_row_text("allergies", r) for r in _item_rows("allergies", f)),
        "conditions": ", ".join(f.conditions + f.surgeries),
        "family": ", ".join(_row_text("family", r) for r in _item_rows("family", f)),
        "warning_signs": "; ".join(said.warning_clauses),
    }.get(concept)
    if text is None:
        return _generic(name, s, root, said)
    return text


def _confirmed(name: str, s: dict[str, Any], said: Said) -> bool | None:
    """True when the message only says "yes, that's right" to the question the property is about."""
    f = said.facts
    if not f.affirmed or not f.empty() or f.red_flags:
        return None  # a "yes, but ..." carries a correction
    about = topic_words(name.replace("_", " ") + " " + str(s.get("description") or ""))
    return True if about & topic_words(said.question) else None


# --- generic rules ---------------------------------------------------------------------------

PLACE = r"([A-Z][a-zA-Z.'-]+(?:\s+[A-Z][a-zA-Z.'-]+){0,2})"
NUMBER_WORDS = vocab.NUMBER_WORDS


def _own_words(name: str, s: dict[str, Any]) -> set[str]:
    return {t for t in _tokens(name) + _tokens(str(s.get("description") or "")) if len(t) > 2} - vocab.STOP_WORDS


def _mentioned(value: str, text: str) -> bool:
    words = re.escape(str(value).replace("_", " ").lower()).replace(r"\ ", r"[\s_-]+")
    return bool(re.search(rf"\b{words}(?:s|es)?\b", text.lower()))


def _number_near(keys: set[str], text: str) -> float | None:
    num = r"(\d+(?:\.\d+)?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"
    for key in sorted(keys, key=len, reverse=True):
        stem = re.escape(key[:-1] if key.endswith("s") and len(key) > 4 else key)
        for pat in (rf"\b{num}\s+(?:\w+\s+){{0,2}}?{stem}\w*", rf"\b{stem}\w*\s+(?:is\s+|of\s+|:\s*)?{num}\b"):
            m = re.search(pat, text, re.I)
            if m:
                raw = m.group(1).lower()
                return float(NUMBER_WORDS.get(raw, raw)) if raw in NUMBER_WORDS or raw[0].isdigit() else None
    return None


ID_WORDS = {"id", "identifier", "mrn", "number", "code", "reference", "ref", "no"}
# A record or order identifier as people type one: letters and digits, often with dashes ("SJ-2026-4412").
_IDENT = re.compile(r"(?<![\w-])(?=[\w.-]*\d)(?:(?=[\w.-]*[A-Za-z-])[A-Za-z0-9][\w.-]{2,}|\d{4,})[A-Za-z0-9](?![\w-])")


def _identifier_in(text: str) -> str | None:
    for m in _IDENT.finditer(text):
        token = m.group(0)
        if extract._dates(token) or re.fullmatch(r"[\d().+ -]{7,}", token):
            continue  # a date or a phone number is not an identifier
        return token
    return None


def _generic(name: str, s: dict[str, Any], root: dict[str, Any], said: Said) -> Any:
    text = said.text
    kind = _kind(s)
    keys = _own_words(name, s)
    if s.get("enum"):
        hits = [v for v in s["enum"] if isinstance(v, str) and _mentioned(v, text)]
        return hits[0] if hits else None
    if kind == "array":
        items = _first_variant(s.get("items") or {}, root)
        if items.get("enum"):
            return [v for v in items["enum"] if isinstance(v, str) and _mentioned(v, text)]
        return None
    if kind == "boolean":
        base = {k for k in keys if k not in ("has", "needs", "is", "was")}
        for k in sorted(base, key=len, reverse=True):
            m = re.search(rf"\b{re.escape(k[:5])}\w*", text, re.I)
            if m:
                return not extract._negated(text, m.start())
        return None
    if kind in ("integer", "number"):
        n = _number_near(keys, text)
        if n is None:
            return None
        return int(n) if kind == "integer" else n
    if kind != "string":
        return None
    low_name = " ".join(_tokens(name))
    if s.get("format") in ("date", "date-time") or "date" in low_name.split():
        dates = [d for _, d in extract._dates(text)]
        return dates[0] if dates else None
    if s.get("format") == "email":
        return said.facts.email or None
    desc = str(s.get("description") or "").lower()
    where = " ".join([low_name, desc])
    if re.search(r"\b(?:origin|from|departure|departing|leaving)\b", where):
        m = re.search(rf"\bfrom\s+{PLACE}", text)
        return m.group(1) if m else None
    if re.search(r"\b(?:destination|to|arrival|arriving|going)\b", where):
        m = re.search(rf"\b(?:to|into)\s+{PLACE}", text)
        return m.group(1) if m else None
    if re.search(r"\b(?:city|location|place|town|address|where)\b", where):
        m = re.search(rf"\b(?:in|at|near|from)\s+{PLACE}", text)
        return m.group(1) if m else None
    words = set(low_name.split())
    if words & ID_WORDS and not words & {"phone", "telephone", "mobile"}:
        return _identifier_in(text)
    if "name" in low_name.split() or re.search(r"\bname\b", desc):
        m = re.search(r"\b(?:named|called|name is|name's)\s+([A-Z][a-zA-Z'-]+)", text) or re.search(
            r"\bmy\s+[a-z]+\s+([A-Z][a-zA-Z'-]+)\b", text
        )
        return m.group(1) if m else None
    return None


def _object(s: dict[str, Any], root: dict[str, Any], said: Said) -> dict[str, Any]:
    props = s.get("properties") or {}
    resolved = {k: _first_variant(v, root) for k, v in props.items()}
    siblings = {k: concept_of(k, v) for k, v in resolved.items()}
    out: dict[str, Any] = {}
    for pname, ps in resolved.items():
        value = _value(siblings[pname], pname, ps, root, said, siblings)
        if value in (None, "", [], {}):
            continue
        if _valid(value, props[pname], root):
            out[pname] = value
    return out


def is_form(tool: dict[str, Any]) -> bool:
    """A function with properties and no required ones: the model fills in what it heard."""
    params = tool.get("parameters") or {}
    return (
        tool.get("type") == "function"
        and bool(params.get("properties"))
        and not params.get("required")
        and bool(tool.get("name"))
    )


def fill_required(params: dict[str, Any], said: Said) -> dict[str, Any]:
    """Arguments for a function with required parameters, when the latest message supplies every one
    of them (a request that names what the function needs); {} otherwise."""
    required = params.get("required") or []
    if not required or not said.text.strip():
        return {}
    args = _object(resolve(params, params), params, said)
    if not all(k in args for k in required):
        return {}
    return args if _valid(args, params, params) else {}


def refine(params: dict[str, Any], args: dict[str, Any], said: Said) -> dict[str, Any]:
    """Topic-built arguments with every value the latest message states put in their place."""
    if not said.text.strip():
        return args
    heard = _object(resolve(params, params), params, said)
    merged = {**args, **heard}
    return merged if _valid(merged, params, params) else args


def fill(params: dict[str, Any], said: Said) -> dict[str, Any]:
    """The arguments for a form-like function: only what the latest message said."""
    if not said.text.strip():
        return {}
    args = _object(resolve(params, params), params, said)
    return args if _valid(args, params, params) else {}
