"""Turning the app's step instruction into a polite second-person question.

Contract (docs/emulator.md): the app puts a line `Next: <imperative sentence>` in
`system_instruction`, e.g. `Next: Ask for the patient's phone number and email address.`
Without a `Next:` line the last imperative "Ask ..." sentence is used.
"""

from __future__ import annotations

import re

NEXT_RE = re.compile(r"^\s*next\s*:\s*(.+?)\s*$", re.I | re.M)
ASK_RE = re.compile(
    r"(?:^|(?<=[.!?\n]))\s*(?:then\s+|and\s+|finally\s+|next\s+|also\s+)?"
    r"((?:please\s+)?(?:ask|confirm|verify|collect|obtain|request|find out|check|get)\b[^.!?\n]*[.!?]?)",
    re.I,
)

# Third person / "the patient" -> second person. Order matters (longest first).
_PRONOUNS: list[tuple[str, str]] = [
    (r"\bthe patient's\b", "your"),
    (r"\bpatient's\b", "your"),
    (r"\bthe patient\b", "you"),
    (r"\bthe user's\b", "your"),
    (r"\bthe user\b", "you"),
    (r"\bhis or her\b", "your"),
    (r"\bhe or she\b", "you"),
    (r"\bhim or her\b", "you"),
    (r"\bthey're\b", "you're"),
    (r"\bthey've\b", "you've"),
    (r"\bthey'd\b", "you'd"),
    (r"\bthey'll\b", "you'll"),
    (r"\bthemselves\b", "yourself"),
    (r"\btheirs\b", "yours"),
    (r"\btheir\b", "your"),
    (r"\bthem\b", "you"),
    (r"\bthey\b", "you"),
]
_AGREE: list[tuple[str, str]] = [
    (r"\byou has\b", "you have"),
    (r"\byou is\b", "you are"),
    (r"\byou was\b", "you were"),
    (r"\byou does\b", "you do"),
    (r"\byou doesn't\b", "you don't"),
    (r"\byou isn't\b", "you aren't"),
    (r"\byou wasn't\b", "you weren't"),
    (r"\byou hasn't\b", "you haven't"),
]
_VERB_S = re.compile(
    r"\byou (take|use|need|smoke|drink|get|feel|live|work|experience|want|prefer|see|know|follow|"
    r"consume|exercise|sleep|eat|notice|remember|carry|receive|visit|have)s\b"
)


# Clauses addressed to the model, not the patient ("..., confirming the chart list").
MODEL_CLAUSE = re.compile(
    r",?\s*(?:and\s+)?(?:confirm|confirming|check|checking|verify|verifying|compare|comparing|"
    r"cross-check\w*|reconcil\w*|matching)\b[^,.;]*?\b(?:chart|charts|record|records|ehr|file)\b[^,.;]*",
    re.I,
)


def second_person(text: str) -> str:
    out = text
    for pat, rep in _PRONOUNS + _AGREE:
        out = re.sub(pat, rep, out, flags=re.I)
    out = _VERB_S.sub(lambda m: f"you {m.group(1)}", out)
    return out


def find_instruction(system_instruction: str | None) -> str:
    """The sentence that says what to ask next ("" when there is none)."""
    if not system_instruction:
        return ""
    nexts = NEXT_RE.findall(system_instruction)
    if nexts:
        return nexts[-1].strip()
    asks = ASK_RE.findall(system_instruction)
    return asks[-1].strip() if asks else ""


# The step instruction may also travel with the turn (the newer contract): a `Next: ...` line of the
# input, or an imperative about "the patient" (an instruction to the model, never a patient's words),
# or a `next` field of a function result.
INPUT_NEXT_RE = re.compile(r"^\s*[\[(]?\s*(?:next|next step|instruction|step)\s*:\s*(.+?)\s*[\])]?\s*$", re.I | re.M)
THIRD_PERSON_ASK_RE = re.compile(
    r"^\s*((?:ask|confirm|verify|collect|obtain|find out|check)\b[^\n]*?"
    r"\b(?:the patient|patient's|the user|their|they|them)\b[^\n]*?[.!?]?)\s*$",
    re.I | re.M,
)
RESULT_KEYS = ("next", "next_step", "next_question", "instruction", "ask")
IMPERATIVE_RE = re.compile(r"^\s*(?:please\s+)?(?:ask|confirm|verify|collect|obtain|find out|tell|thank)\b", re.I)


def split_input(text: str) -> tuple[str, str]:
    """(the instruction in a user input's text, the text without it)."""
    for rx in (INPUT_NEXT_RE, THIRD_PERSON_ASK_RE):
        found = rx.findall(text)
        if found:
            return found[-1].strip(), rx.sub("", text).strip()
    return "", text


def result_instruction(payload: object) -> str:
    """The imperative sentence a function result carries for the model ("" when none)."""
    if not isinstance(payload, dict):
        return ""
    for key in RESULT_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    for value in payload.values():
        if isinstance(value, str) and IMPERATIVE_RE.match(value):
            return value.strip()
    return ""


def _clean(rest: str) -> str:
    return rest.strip().rstrip(".!?;: ").strip()


def to_question(instruction: str) -> str:
    """`Ask for the patient's phone number.` -> `Could you tell me your phone number?`"""
    s = re.sub(r"^\s*(?:please\s+|now\s+|then\s+)", "", instruction.strip(), flags=re.I)
    stripped = MODEL_CLAUSE.sub("", s).strip()
    if len(stripped.split()) >= 3:  # keep the sentence if the clause was all of it
        s = stripped
    s = second_person(s)
    low = s.lower()
    m = re.match(
        r"(?:politely\s+|briefly\s+|gently\s+)?ask\s+(?:you\s+|politely\s+|briefly\s+|gently\s+)*(.*)$", s, re.I | re.S
    )
    if m:
        rest = _clean(m.group(1))
        rl = rest.lower()
        if rl.startswith("for "):
            return f"Could you tell me {rest[4:]}?"
        if rl.startswith("to "):
            return f"Could you please {rest[3:]}?"
        if rl.startswith("about "):
            return f"Could you tell me about {rest[6:]}?"
        if re.match(r"(?:whether|if)\b", rl):
            return f"Could you tell me {rest}?"
        if re.match(r"(?:which|what|how|when|where|who|whom|whose|why)\b", rl):
            return f"Could you tell me {rest}?"
        if re.match(r"(?:do|does|did|are|is|have|has|can|could|would|will)\s+you\b", rl):
            return rest[0].upper() + rest[1:] + "?"
        if rest:
            return f"Could you tell me {rest}?"
        return "Is there anything else you'd like to tell me?"
    for verb, lead in (
        ("confirm", "Could you confirm"),
        ("verify", "Could you confirm"),
        ("collect", "Could you tell me"),
        ("obtain", "Could you tell me"),
        ("request", "Could you share"),
        ("get", "Could you tell me"),
        ("find out", "Could you tell me"),
        ("check", "Could you tell me"),
        ("clarify", "Could you clarify"),
    ):
        if low.startswith(verb + " "):
            return f"{lead} {_clean(s[len(verb) + 1 :])}?"
    if low.startswith("thank you"):  # "Thank the patient and tell them the intake is complete."
        rest = re.sub(
            r"^thank you\s*(?:and\s+)?(?:tell|let)?\s*(?:you\s+)?(?:know\s+)?(?:that\s+)?", "", _clean(s), flags=re.I
        )
        return "Thank you." + (f" {rest[:1].upper()}{rest[1:]}." if rest else "")
    if low.startswith(("tell ", "explain ", "let ", "inform ", "thank ", "say ")):
        body = re.sub(r"^(?:tell|inform|let)\s+you\s+(?:know\s+)?(?:that\s+)?", "", _clean(s), flags=re.I)
        return body[0].upper() + body[1:] + "."
    return _clean(s)[:1].upper() + _clean(s)[1:] + ("?" if not s.rstrip().endswith(".") else ".")


# An intake assistant given no explicit "what to ask next" walks the usual intake topics in order,
# as a real model told only "you are an intake assistant" would. Each topic: whether the facts
# already cover it, and the instruction the model gives itself.
INTAKE_PERSONA_RE = re.compile(r"\bintake\b", re.I)
_INTAKE_TOPICS: tuple[tuple[str, str], ...] = (
    ("identity", "Ask for the patient's full name and date of birth."),
    ("contact", "Ask for the best phone number and email to reach the patient."),
    ("insurance", "Ask for the insurance company and member ID."),
    ("complaint", "Ask what brings the patient in today."),
    ("course", "Ask when it started, how severe it is and whether it is getting better or worse."),
    ("medications", "Ask which medications the patient takes, with dose and how often."),
    ("allergies", "Ask about any allergies and the reactions to them."),
    ("history", "Ask about past illnesses, ongoing conditions and surgeries."),
    ("family", "Ask about illnesses that run in the patient's family."),
    ("social", "Ask about tobacco, alcohol and the patient's work."),
)


def _topic_covered(topic: str, facts: object) -> bool:
    f = facts  # an extract.Facts; typed loosely so this module stays free of the extractor
    covered = {
        "identity": bool(getattr(f, "name", "") and getattr(f, "dob", "")),
        "contact": bool(getattr(f, "phone", "") or getattr(f, "email", "")),
        "insurance": bool(getattr(f, "insurer", "") or getattr(f, "member_id", "")),
        "complaint": bool(getattr(f, "chief_complaint", "") or getattr(f, "symptoms", [])),
        "course": bool(getattr(f, "onset", "") or getattr(f, "severity", "") or getattr(f, "course", "")),
        "medications": bool(getattr(f, "medications", []) or getattr(f, "no_medications", False)),
        "allergies": bool(getattr(f, "allergies", []) or getattr(f, "no_allergies", False)),
        "history": bool(getattr(f, "conditions", []) or getattr(f, "surgeries", []) or getattr(f, "no_history", False)),
        "family": bool(getattr(f, "family", []) or getattr(f, "no_family_history", False)),
        "social": bool(getattr(f, "tobacco", "") or getattr(f, "alcohol", "") or getattr(f, "occupation", "")),
    }
    return covered[topic]


def persona_instruction(system_instruction: str | None, facts: object) -> str:
    """For an intake persona with no `Next:` line: the first intake topic not yet covered."""
    if not system_instruction or not INTAKE_PERSONA_RE.search(system_instruction):
        return ""
    for topic, instruction in _INTAKE_TOPICS:
        if not _topic_covered(topic, facts):
            return instruction
    return "Ask whether there is anything else the patient would like the clinic to know."
