"""Fact extraction from patient messages: general rules + vocabularies (see vocab.py).

`read_conversation` walks a whole step history and returns `Facts`, remembering which user turn
(1-based, or the transcript's own "Turn N" labels) each fact came from.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gemini_emulator import drugs, meds, spoken, vocab

# --- small helpers -----------------------------------------------------------------------------


def _alts(forms: Any) -> str:
    return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))


def _compile(forms: Any) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{_alts(forms)})(?![\w-])", re.IGNORECASE)


def _inflected(phrase: str) -> str:
    """A several-word phrase matching its inflections: "hurt myself" ~ "hurting myself",
    "throat closing" ~ "throat closes", "passed out" ~ "passing out". Single words stay exact."""
    words = phrase.split()
    if len(words) < 2:
        return re.escape(phrase)
    out = []
    for w in words:
        stem = re.sub(r"(?:ing|ed|es|s|e)$", "", w) if len(w) > 4 and w.isalpha() else w
        out.append(re.escape(stem) + (r"(?:e|es|ed|ing|s|d)?" if stem != w or (len(w) > 3 and w.isalpha()) else ""))
    return r"\s+".join(out)


def _compile_inflected(forms: Any) -> re.Pattern[str]:
    alts = "|".join(_inflected(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])", re.IGNORECASE)


SYMPTOM_RE = {k: _compile_inflected(v) for k, v in vocab.SYMPTOMS.items()}
RED_FLAG_RE = {k: _compile_inflected(v) for k, v in vocab.RED_FLAG_PHRASES.items()}
DRUG_RE = re.compile(
    rf"(?<![\w-])(?:{_alts(vocab.DRUGS)}|[a-z]{{3,}}(?:{'|'.join(vocab.DRUG_SUFFIXES)}))(?![\w-])", re.IGNORECASE
)
ALLERGEN_RE = _compile(vocab.ALLERGENS)
REACTION_RE = {k: _compile_inflected(v) for k, v in vocab.REACTIONS.items()}
REACTION_SITE_RE = _compile(vocab.REACTION_SITES)
REASON_CUE_RE = re.compile(
    r"\b(?:i'?m\s+|i am\s+|im\s+)?(?:" + "|".join(re.escape(c) for c in vocab.REASON_CUES) + r")\s+", re.I
)
CONDITION_RE = {k: _compile(v) for k, v in vocab.CONDITIONS.items()}
SURGERY_RE = re.compile(rf"(?<![\w-])(?:{_alts(vocab.SURGERY_WORDS)})(?![\w-])|{vocab.SURGERY_PATTERN}", re.I)
RELATION_RE = {k: _compile(v) for k, v in vocab.RELATIONS.items()}
INSURER_RE = {k: _compile(v) for k, v in vocab.INSURERS.items()}
OCCUPATION_RE = _compile(vocab.OCCUPATIONS)
FREQ_RE = {k: _compile(v) for k, v in vocab.FREQUENCIES.items()}
SEVERITY_RE = {k: _compile(v) for k, v in vocab.SEVERITY_WORDS.items()}
DECLINE_RE = _compile(vocab.DECLINE_PHRASES)
NEGATION_RE = _compile(vocab.NEGATIONS)

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(
    r"(?<![\w/.-])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]?\d{3,4}[\s.-]?\d{3,4}(?![\w/-])"
)
UNIT_WORDS = {"milligrams": "mg", "milligram": "mg", "mgs": "mg", "micrograms": "mcg", "microgram": "mcg", "grams": "g"}
UNIT_WORDS |= {"gram": "g", "milliliters": "ml", "millilitres": "ml", "ml": "ml", "cc": "ml"}
_UNITS = sorted({*vocab.DOSE_UNITS, *UNIT_WORDS}, key=len, reverse=True)
DOSE_RE = re.compile(rf"(\d+(?:[.,]\d+)?)\s?({'|'.join(re.escape(u) for u in _UNITS)})(?![a-z])", re.IGNORECASE)
SCORE_RE = re.compile(r"\b(10|[0-9])(?:\.\d)?\s?(?:/|out of|on a scale of \d+ to)\s?10\b", re.I)
SCORE_RE2 = re.compile(r"\b(?:a|an|about|around|like)\s+(10|[0-9])\b(?=[^.]*\b(?:pain|scale|severity)\b)", re.I)
MEMBER_RE = re.compile(
    r"\b(?:member|policy|subscriber|insurance|plan|id|group)\s*(?:id|number|no\.?|#)?\s*(?:is|:|=|#)?\s*"
    r"([A-Z]{0,4}[-]?[0-9][A-Z0-9-]{3,}|[A-Z]{1,4}[0-9][A-Z0-9-]{3,})",
    re.I,
)
ID_TOKEN_RE = re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]{5,}\b")
SCORE_RE3 = re.compile(
    r"\b(?:like|about|around|maybe|probably|roughly|say|solid)\s+an?\s+(10|[0-9])\b(?!\s*(?:%|years?|days?|hours?|weeks?|months?|am|pm|o'clock))",
    re.I,
)
TURN_LABEL_RE = re.compile(r"^\s*(?:\[?turn\s*#?(\d+)\]?|\[(\d+)\])\s*[:.)\-]?\s*", re.I | re.M)

NUM = r"(\d+|" + "|".join(re.escape(w) for w in sorted(vocab.NUMBER_WORDS, key=len, reverse=True)) + r")"
UNIT = r"(minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?|nights?)"
ONSET_PATTERNS = [
    re.compile(rf"\b(?:for|over|in)\s+(?:the\s+)?(?:past|last)\s+{NUM}?\s*{UNIT}", re.I),
    re.compile(rf"\bfor\s+(?:about\s+|around\s+|almost\s+|nearly\s+|over\s+)?{NUM}\s+{UNIT}", re.I),
    re.compile(rf"\b{NUM}\s+{UNIT}\s+ago\b", re.I),
    # "been like 2 months", "about two weeks", "three weeks now"
    re.compile(
        rf"\b(?:been|about|around|like|almost|nearly|roughly|maybe)\s+(?:(?:like|about|around)\s+)?{NUM}\s+{UNIT}\b",
        re.I,
    ),
    re.compile(rf"\b{NUM}\s+{UNIT}\s+now\b", re.I),
    # a bare duration opening the answer: "3 days.", "one month maybe more", "2 wks, swollen"
    re.compile(rf"^\W*(?:like\s+|about\s+|around\s+|maybe\s+|almost\s+|over\s+)?{NUM}\s+{UNIT}(?=\W|$)", re.I),
    re.compile(
        r"\bsince\s+(?:last\s+)?(?:yesterday|this morning|last night|monday|tuesday|wednesday|thursday|friday|"
        r"saturday|sunday|the weekend|last week|last month|\w+ \d{1,2}|\d{4}|january|february|march|april|"
        r"may|june|july|august|september|october|november|december)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:started|began|starting|beginning)\s+(?:on\s+|about\s+|around\s+)?(?:yesterday|today|this morning|"
        r"last night|last week|(?:on\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
        re.I,
    ),
    re.compile(r"\b(?:yesterday|this morning|last night|earlier today)\b", re.I),
    re.compile(r"\b(?:on\s+|last\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I),
]
# Body parts: "my knee is killing me" / "my left wrist hurts" -> "knee pain".
BODY_PARTS = (
    "head",
    "neck",
    "back",
    "chest",
    "stomach",
    "belly",
    "abdomen",
    "knee",
    "knees",
    "hip",
    "hips",
    "shoulder",
    "elbow",
    "wrist",
    "ankle",
    "foot",
    "feet",
    "hand",
    "arm",
    "leg",
    "legs",
    "ear",
    "eye",
    "eyes",
    "tooth",
    "teeth",
    "throat",
    "jaw",
    "side",
    "toe",
    "finger",
    "heel",
    "ribs",
    "pelvis",
    "groin",
)
BODY_PAIN_RE = re.compile(
    rf"\b(?:my\s+)?(?:left\s+|right\s+|lower\s+|upper\s+)?({'|'.join(BODY_PARTS)})(?:'s|\u2019s)?\s+"
    r"(?:is\s+|are\s+|has been\s+|have been\s+|been\s+|keeps\s+|really\s+|still\s+|just\s+|kinda\s+)*"
    r"(?:killing me|hurting|hurts?|aching|aches?|sore|painful|throbbing|in pain|bothering me)\b",
    re.I,
)
INJURY_RE = re.compile(r"\b(?:twisted|sprained|fell|injured|hurt|bumped|broke|cut|burned|pulled)\b", re.I)

WORD_RE = re.compile(r"[a-z0-9']+")


SCOPE_BREAK = re.compile(r"[,;:]|\b(?:but|just|only|although|though|except|however|yet)\b", re.I)


def _negated(clause: str, start: int) -> bool:
    """A negation word within the ~4 words before `start`, in the same phrase ("no fever, just a cough")."""
    before = clause[:start]
    breaks = list(SCOPE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    return bool(NEGATION_RE.search(" ".join(before.lower().split()[-4:])))


# A sign told as the past, someone else's, or a "what if" is not an emergency now (ConText's
# historical, experiencer and hypothetical modifiers, as general rules).
NOT_CURRENT_RE = re.compile(
    r"\b(?:when i was (?:a )?(?:\d+|kid|child|teen|young|little|baby)|years? ago|as a (?:kid|child|teen)"
    r"|last (?:year|summer|winter|spring|fall|autumn)|back in (?:19|20)\d\d|in (?:19|20)\d\d|used to"
    # someone else's history ("my dad had a stroke"), not a relative describing what happens now
    r"|(?:my|his|her|our) (?:dad|father|mum|mom|mother|brother|sister|grand(?:ma|pa|mother|father)|uncle|aunt"
    r"|husband|wife|son|daughter|cousin|friend)\b[^.,;]{0,30}?\b(?:had|died|passed away|suffered|was diagnosed)\b"
    r"|what if|if i ever|in case|worried (?:that|about)|afraid (?:that|of)|history of|years back"
    # more of the same, as general rules: relatives by any name, a time of life, a question about
    # what to do, a habit, a near miss, an organ's state ("a collapsed lung")
    r"|(?:my|his|her|our) (?:grand ?dad|nan|nana|gran|granny|nanny|grandparents?|parents?|mum'?s|dad'?s)\b"
    r"[^.,;]{0,30}?\b(?:had|has|died|passed away|suffered|was diagnosed|gets)\b"
    r"|(?:in|back in|during|at) (?:high school|college|university|school|my (?:early |late |mid )?"
    r"(?:teens|twenties|thirties|forties|fifties|20s|30s|40s|50s))"
    r"|\bonce\b(?! again| more)|what (?:would|should|do|does|happens|to do)\b|\bis \w+ \w+ always\b"
    r"|if (?:i|you|someone|somebody|my \w+) (?:ever )?(?:have|has|had|took|take|get|gets|collapsed|collapses)\b"
    r"|when (?:i|it'?s) (?:have|get|catch|do|am|'?m)\b|\b(?:usually|sometimes|whenever|every time|in the evenings)\b"
    r"|(?:nearly|almost|practically) (?:passed|fainted|died|collapsed|blacked)|collapsed (?:lung|vein|disc))",
    re.IGNORECASE,
)


# A judgement by composition, not by listed phrase: a vital function lost ("can't breathe / speak / see
# / swallow / stay awake", "can't move or feel my arm"), or the most severe pain with a sudden onset in
# the same sentence ("worst pain of my life, came on all at once"). Any body part, any wording around it.
_CANT = r"(?:can'?t|cannot|can not|could ?n'?t|could not|unable to|can barely|can hardly)"
_SEVERE = (
    r"(?:worst (?:\w+ )?(?:pain|headache|ache)|unbearable|excruciating|agon(?:y|i[sz]ing)|crushing|tearing|ripping"
    r"|10 ?/ ?10|10 out of 10|ten out of ten|screaming in pain|can'?t stand the pain)"
)
_SUDDEN = (
    r"(?:sudden(?:ly)?|out of nowhere|out of the blue|all at once|all of a sudden|came on (?:fast|quickly)"
    r"|hit me like|within (?:minutes|seconds)|just (?:now|started|came on))"
)
ACUTE_RE: dict[str, re.Pattern[str]] = {
    "a vital function lost": re.compile(
        rf"\b{_CANT} (?:breathe?|breath|speak|talk properly|get (?:a|my) words? out|see (?:out of|anything)"
        rf"|swallow|stay awake|wake (?:him|her|them|up)"
        rf"|(?:move|feel|lift) (?:my|his|her) (?:\w+ )?(?:arm|leg|face|side|hand))\b",
        re.IGNORECASE,
    ),
    "sudden severe pain": re.compile(rf"\b{_SEVERE}\b.*\b{_SUDDEN}\b|\b{_SUDDEN}\b.*\b{_SEVERE}\b", re.IGNORECASE),
}


def not_current(clause: str) -> bool:
    return bool(NOT_CURRENT_RE.search(clause))


# A statement said with a rising tone ("so maybe shellfish now too?", "I think it was 20 mg?") is a guess
# the patient offers, not a question to the assistant.
TENTATIVE_RE = re.compile(
    r"^\W*(?:(?:so|and|but|or|oh)\s+)?(?:maybe|probably|possibly|perhaps|i think|i guess|i'?m guessing|i believe"
    r"|pretty sure|not sure but)\b",
    re.I,
)


def asks(sentence: str) -> bool:
    """The patient's sentence is a question (not a guess told with a question mark)."""
    return sentence.rstrip().endswith("?") and not TENTATIVE_RE.search(sentence)


def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+|;\s*", text)
    return [p.strip() for p in parts if p and p.strip()]


def split_clauses(sentence: str) -> list[str]:
    parts = re.split(
        r",\s*(?:and|but|plus|though|although)\s+|,\s*(?=(?:my|his|her|i|i'm|i've|she|he|they|we|also|plus|our)\b)|\s+but\s+"
        r"|\s+and\s+(?=(?:my|his|her|i|i'm|i've|she|he|they|also|our)\b)|\s+while\s+|\s+whereas\s+",
        sentence,
        flags=re.I,
    )
    return [p.strip(" ,") for p in parts if p and p.strip(" ,")]


def title_name(raw: str) -> str:
    return " ".join(w[:1].upper() + w[1:] if w.islower() else w for w in raw.split())


# --- data ------------------------------------------------------------------------------------


@dataclass
class Med:
    name: str
    dose: str = ""
    frequency: str = ""
    stopped: bool = False
    turn: int = 0


@dataclass
class Allergy:
    substance: str
    reaction: str = ""
    turn: int = 0


@dataclass
class Family:
    relation: str
    condition: str
    turn: int = 0


@dataclass
class Facts:
    name: str = ""
    dob: str = ""
    phone: str = ""
    email: str = ""
    insurer: str = ""
    member_id: str = ""
    chief_complaint: str = ""
    symptoms: list[str] = field(default_factory=list)
    onset: str = ""
    severity: str = ""
    severity_score: int | None = None
    course: str = ""
    hpi_notes: list[str] = field(default_factory=list)  # the patient's own words about the problem
    medications: list[Med] = field(default_factory=list)
    no_medications: bool = False
    allergies: list[Allergy] = field(default_factory=list)
    no_allergies: bool = False
    conditions: list[str] = field(default_factory=list)
    surgeries: list[str] = field(default_factory=list)
    no_history: bool = False
    family: list[Family] = field(default_factory=list)
    no_family_history: bool = False
    no_email: bool = False  # "no email": the patient has none
    tobacco: str = ""
    alcohol: str = ""
    occupation: str = ""
    declined: list[str] = field(default_factory=list)
    red_flags: list[str] = field(default_factory=list)
    affirmed: bool = False  # the latest message reads as "yes / still / correct"
    denied: bool = False  # the latest message reads as "no / not anymore"
    turns: dict[str, list[int]] = field(default_factory=dict)
    allergy_remarks: dict[str, str] = field(default_factory=dict)  # first word of substance -> sentence
    answers: dict[int, str] = field(default_factory=dict)  # user turn -> "yes" / "no" when it reads so
    user_turns: int = 0

    def mark(self, key: str, turn: int) -> None:
        lst = self.turns.setdefault(key, [])
        if turn and turn not in lst:
            lst.append(turn)

    def empty(self) -> bool:
        return not any(
            (
                self.name,
                self.dob,
                self.phone,
                self.email,
                self.insurer,
                self.member_id,
                self.symptoms,
                self.onset,
                self.severity,
                self.hpi_notes,
                self.medications,
                self.no_medications,
                self.allergies,
                self.no_allergies,
                self.conditions,
                self.surgeries,
                self.family,
                self.tobacco,
                self.alcohol,
                self.occupation,
                self.declined,
                self.no_family_history,
                self.no_history,
                self.no_email,
            )
        )


# --- topics ----------------------------------------------------------------------------------

TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "called", "who"),
    "dob": ("birth", "born", "birthday", "dob", "age", "old"),
    "contact": ("phone", "email", "e-mail", "contact", "number", "reach", "address", "mobile", "cell"),
    "insurance": ("insurance", "insurer", "member", "policy", "coverage", "plan", "payer", "carrier"),
    "complaint": (
        "symptom",
        "symptoms",
        "complaint",
        "brings",
        "reason",
        "visit",
        "problem",
        "concern",
        "feeling",
        "wrong",
    ),
    "onset": ("when", "start", "started", "onset", "long", "duration", "begin", "began"),
    "severity": ("severe", "severity", "scale", "rate", "bad", "pain", "intensity"),
    "medications": (
        "medication",
        "medications",
        "medicine",
        "medicines",
        "drug",
        "drugs",
        "prescription",
        "prescriptions",
        "pills",
        "take",
        "dose",
        "taking",
    ),
    "allergies": ("allergy", "allergies", "allergic", "reaction", "reactions"),
    "history": (
        "history",
        "conditions",
        "condition",
        "surgeries",
        "surgery",
        "operations",
        "diagnosed",
        "illnesses",
        "past",
        "medical",
        "problems",
        "hospitalizations",
    ),
    "family": ("family", "relatives", "parents", "mother", "father", "siblings", "hereditary"),
    "social": (
        "smoke",
        "smoking",
        "tobacco",
        "alcohol",
        "drink",
        "drinking",
        "occupation",
        "work",
        "job",
        "lifestyle",
        "social",
        "exercise",
        "drugs",
    ),
    "summary": ("summary", "summarize", "summarise", "brief", "bullet", "bullets", "recap", "overview"),
}


# "allergies to medicines, foods or other things" asks about allergies: the medicines there are
# what the patient may react to, not what they take.
_ALLERGY_TO_MEDS = re.compile(
    r"\ballerg\w*\s+(?:or\s+reactions?\s+)?(?:to\s+)?(?:any\s+)?(?:medicines?|medications?|meds|drugs?)\b", re.I
)


def topics_of(text: str) -> list[str]:
    # "the history of (the) present illness" is the clinicians' name for the story of the problem
    text = re.sub(
        r"\bhistory of (?:the )?present(?:ing)? illness\b|\bhpi\b", "symptoms, when they started", text, flags=re.I
    )
    words = set(WORD_RE.findall(_ALLERGY_TO_MEDS.sub(" allergies ", text.lower())))
    hits = []
    for topic, kws in TOPIC_WORDS.items():
        if any(k in words for k in kws):
            hits.append(topic)
    # "allergies to medicines or foods" is about allergies, "illnesses in your family" about the
    # family: the narrower topic is what a bare "none" or "skip" answers.
    return sorted(hits, key=lambda t: t not in ("allergies", "family"))


# --- extraction ------------------------------------------------------------------------------


_ORD_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]
ORDINALS = {w: i for i, w in enumerate(_ORD_WORDS, 1)}
ORDINALS.update({f"twenty-{w}": 20 + i for i, w in enumerate(_ORD_WORDS[:9], 1)})
ORDINALS.update({f"twenty {w}": 20 + i for i, w in enumerate(_ORD_WORDS[:9], 1)})
ORDINALS.update({"thirtieth": 30, "thirty-first": 31, "thirty first": 31})


def _dates(text: str) -> list[tuple[int, str]]:
    """All dates in text as (position, ISO string)."""
    out: list[tuple[int, str]] = []
    months = _alts(vocab.MONTHS)

    def add(pos: int, y: int, m: int, d: int) -> None:
        if y < 100:
            y += 1900 if y > (date.today().year % 100) else 2000
        with contextlib.suppress(ValueError):
            out.append((pos, date(y, m, d).isoformat()))

    for m in re.finditer(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b", text):
        add(m.start(), int(m[1]), int(m[2]), int(m[3]))
    for m in re.finditer(r"\b(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})\b", text):
        a, b, y = int(m[1]), int(m[3]), int(m[4])
        if m[2] == "." or a > 12:  # European day.month.year
            add(m.start(), y, b, a)
        else:
            add(m.start(), y, a, b)
    for m in re.finditer(rf"\b({months})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", text, re.I):
        add(m.start(), int(m[3]), vocab.MONTHS[m[1].lower()], int(m[2]))
    ords = _alts(ORDINALS)
    for m in re.finditer(rf"\b({ords})\s+(?:of\s+)?({months})\.?,?\s+(\d{{4}})\b", text, re.I):
        add(m.start(), int(m[3]), vocab.MONTHS[m[2].lower()], ORDINALS[m[1].lower()])
    for m in re.finditer(rf"\b({months})\.?\s+(?:the\s+)?({ords}),?\s+(\d{{4}})\b", text, re.I):
        add(m.start(), int(m[3]), vocab.MONTHS[m[1].lower()], ORDINALS[m[2].lower()])
    for m in re.finditer(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({months})\.?,?\s+(\d{{4}})\b", text, re.I):
        add(m.start(), int(m[3]), vocab.MONTHS[m[2].lower()], int(m[1]))
    out.sort()
    return out


_UP, _LO = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ'"
NAME_WORD = rf"(?:O'|Mc|Mac)?[{_UP}][{_LO}]+(?:-[{_UP}]?[{_LO}]+)*"
NAME_PARTICLES = r"(?:de|da|das|do|dos|del|della|di|van|von|der|den|la|le|du|bin|ibn|al|el|ter)"
TITLES_RE = re.compile(r"\b(?:mr|mrs|ms|miss|mx|dr|prof)\.?\s+(?=[A-Za-z])", re.I)


def _name(text: str, asked_name: bool) -> str:
    text = TITLES_RE.sub("", text)
    stop = r"(?=\s*(?:$|[,.;!?]|\s(?:and|but|i|i'm|im|my|born|from|here|dob|date|phone|email|age|aged|calling)\b))"
    cased_stop = stop[:-2] + r"|\s+[a-z]))"  # a capitalised name ends at the next lower-case word
    pats = [
        # "my name is", and someone answering for another: "his name is", "my dad's name is"
        rf"\b(?:my|his|her|their|the patient's|(?:my )?(?:dad|father|mom|mum|mother|son|daughter|husband|wife|"
        rf"partner|child|kid)'s) (?:full |first |legal )?name is\s+"
        rf"([{_LO}][{_LO}\-]+(?:\s+[{_LO}][{_LO}\-]+){{0,2}}?){stop}",
        rf"\bname(?:'s|:)\s*([{_LO}][{_LO}\-]+(?:\s+[{_LO}][{_LO}\-]+){{0,2}}?){stop}",
        rf"\b(?:call me|this is|it's|it is)\s+({NAME_WORD}(?:\s+{NAME_WORD}){{0,2}}?){cased_stop}",
        rf"\b(?:i am|i'm|im)\s+({NAME_WORD}(?:\s+{NAME_WORD}){{0,2}}?){cased_stop}",
        # A note written about someone: "Patient Sarah Johnson, persistent headaches ..."
        rf"\b(?:[Pp]atient|[Pp]t\.?|[Cc]lient)(?: name)?:?\s+({NAME_WORD}(?:\s+{NAME_WORD}){{1,2}}?){cased_stop}",
    ]
    for i, pat in enumerate(pats):
        flags = re.I if i < 2 else 0
        # "I'm"/"this is" patterns need a capitalised name; the keyword itself may be any case.
        src = text if i < 2 else re.sub(r"\b(?:I AM|I'M|IM|Im|i'm|i am|I am|I'm)\b", "I'm", text)
        if i == 2:
            src = re.sub(r"\b(?:Call me|CALL ME)\b", "call me", re.sub(r"\b(?:This is|THIS IS)\b", "this is", src))
            src = re.sub(r"\b(?:It's|IT'S)\b", "it's", src)
        if i == 3:
            pat = pat.replace("(?:i am|i'm|im)", "(?:I'm)")
        if i == 4:
            src = text
        for m in re.finditer(pat, src, flags):
            cand = m.group(1).strip()
            words = cand.split()
            while words and words[-1].lower() in vocab.NOT_NAMES:
                words.pop()
            if not words or words[0].lower() in vocab.NOT_NAMES:
                continue
            low = " ".join(words).lower()
            if any(r.search(low) for r in SYMPTOM_RE.values()) or DRUG_RE.search(low) or OCCUPATION_RE.search(low):
                continue
            return title_name(" ".join(words))
    m = re.search(
        rf"(?:^|[,.!]\s*)((?:{NAME_WORD})(?:\s+{NAME_WORD}){{1,2}}(?:\s+(?:Jr|Sr|II|III|IV)\.?)?)\s+here\b", text
    )
    if m and not any(w.lower() in vocab.NOT_NAMES for w in m.group(1).split()):
        return m.group(1).rstrip(".")
    # "Tomas Reyes, 11 November 1990" / "Ana María López - born 3/4/85": a name, then the birth date.
    m = re.match(
        rf"^\s*(?:(?:hi|hello|hey)\W+)?({NAME_WORD}(?:\s+(?:{NAME_PARTICLES}\s+){{0,2}}{NAME_WORD}){{1,3}})\s*[,.;:-]?\s*"
        rf"(?=(?:born|dob|d\.o\.b|date of birth|birthday|b\.)\b|\d|(?:{_alts(vocab.MONTHS)})\b)",
        text,
        re.I if text.islower() else 0,
    )
    words = m.group(1).split() if m and _dates(text) else []
    while words and words[0].lower() in ("its", "it's", "im", "i'm", "this", "is", "name", "name's", "me"):
        words.pop(0)
    while words and words[-1].lower() in ("dob", "born", "birthday", "b"):
        words.pop()
    if 2 <= len(words) <= 4 and not any(w.lower() in vocab.NOT_NAMES for w in words):
        low = " ".join(words).lower()
        if not (any(r.search(low) for r in SYMPTOM_RE.values()) or DRUG_RE.search(low)):
            return title_name(" ".join(words))
    m = re.search(
        r"(?:^|[,.!]\s*|\b(?:hi|hello|hey)\W+)(?:it's|its|i'm|im|i am|this is)\s+([a-z][a-z'\-]+\s+[a-z][a-z'\-]+)"
        r"(?=\s*(?:$|[,.!;]|\s(?:dob|born|d\.o\.b|date of birth|birthday)\b))",
        text,
    )
    if m and not any(
        w in vocab.NOT_NAMES or w in vocab.STOP_WORDS or w.endswith(("ing", "ed", "ly")) for w in m.group(1).split()
    ):
        low = m.group(1)
        if not (any(r.search(low) for r in SYMPTOM_RE.values()) or DRUG_RE.search(low) or drugs.find(low)):
            return title_name(low)
    m = re.match(r"^\s*(?:hi|hello|hey)?[,!.\s]*(?:i'm|im|i am|this is)\s+([a-z][a-z'\-]+)\s*[.!]?\s*$", text, re.I)
    if m and m.group(1).lower() not in vocab.NOT_NAMES and not m.group(1).lower().endswith(("ing", "ed")):
        return title_name(m.group(1))
    if asked_name:
        short = text.strip().strip(".!")
        words = short.split()
        plain = all(re.fullmatch(r"[A-Za-z][A-Za-z'\-]*", w) for w in words)
        if 1 <= len(words) <= 4 and plain and not any(w.lower() in vocab.NOT_NAMES for w in words):
            return title_name(short)
    return ""


# A capitalised name such as "Blue Shield of California" or "Tufts Health Plan".
_CAP = r"[A-Z][A-Za-z&'.-]*"
PROPER_NAME_RE = re.compile(rf"{_CAP}(?:\s+(?:of|and|&|the|de|du)\s+{_CAP}|\s+{_CAP})*")
INSURER_WORD_RE = re.compile(
    r"\b(?:insurance|assurance|shield|cross|health\s*plan|healthcare|health|hmo|ppo|mutual|benefits|medical\s+group)\b",
    re.I,
)
INSURER_END_RE = re.compile(r"(?:insurance|assurance|shield|cross|health\s*plan|hmo|ppo)$", re.I)
INSURANCE_CONTEXT_RE = re.compile(r"insur|covered|coverage|\bplan\b|member|policy|carrier|payer", re.I)
NAME_LEAD_WORDS = {"my", "the", "our", "i", "i'm", "it's", "its", "insurance", "plan", "member", "yes", "no", "hi"}


NO_INSURANCE_RE = re.compile(
    r"\b(?:(?:no|without)\s+(?:health\s+|medical\s+)?(?:insurance|coverage)"
    r"(?!\s+(?:card|info|details|number|on me|with me))|"
    r"not insured|uninsured|(?:don't|do not|dont|doesn't|does not)\s+have\s+(?:any\s+)?(?:health\s+)?insurance|"
    r"self[- ]?pay(?:ing)?|pay(?:ing)?\s+(?:cash|out of pocket|myself)|cash pay(?:ing)?|private pay)\b",
    re.I,
)


def _insurer_words(text: str) -> str:
    """The words of `text` that the insurer vocabulary matched."""
    return " ".join(m.group(0) for rx in INSURER_RE.values() for m in rx.finditer(text))


def _insurer(text: str) -> str:
    """The insurer named in `text`: the longest vocabulary match (so "Blue Shield of California" is
    not just "Blue Shield"), or the patient's own wording when it is a longer insurer-looking name
    ("Premera Blue Cross", "Tufts Health Plan") that the vocabulary does not know."""
    best: tuple[int, int, str] | None = None  # (start, end, canonical)
    hits = sorted((m.start(), m.end(), canon) for canon, rx in INSURER_RE.items() for m in rx.finditer(text))
    merged: list[tuple[int, int, str]] = []
    for hit in hits:
        if merged and re.fullmatch(r"[\s/-]*", text[merged[-1][1] : hit[0]]) and hit[0] >= merged[-1][1]:
            # "Aetna Medicare", "Humana Medicare": a company's plan of another program, named together
            start = merged[-1][0]
            merged[-1] = (start, hit[1], title_name(text[start : hit[1]]))
        elif not merged or hit[0] >= merged[-1][1]:
            merged.append(hit)
        elif hit[1] - hit[0] > merged[-1][1] - merged[-1][0]:
            merged[-1] = hit
    for hit in merged:
        if best is None or hit[1] - hit[0] > best[1] - best[0]:
            best = hit
    for m in PROPER_NAME_RE.finditer(text):
        words = m.group(0).split()
        while words and words[0].lower() in NAME_LEAD_WORDS:
            words.pop(0)
        phrase = " ".join(words).rstrip(".")
        if len(words) < 2 or not INSURER_WORD_RE.search(phrase):
            continue
        start = m.start() + m.group(0).index(words[0])
        end = start + len(phrase)
        if best is None:
            # No known insurer: the name must look like one, or be said as the patient's coverage.
            if INSURER_END_RE.search(phrase) or INSURANCE_CONTEXT_RE.search(text):
                return phrase
        elif start <= best[0] and best[1] <= end and end - start > best[1] - best[0]:
            return phrase  # the patient's fuller name around a vocabulary match
    return best[2] if best else ""


def _member_id(text: str, insurer_hit: bool) -> str:
    for m in MEMBER_RE.finditer(text):
        val = m.group(1).strip("-")
        if any(c.isdigit() for c in val) and len(val) >= 5:
            return val.upper()
    if insurer_hit:
        for m in ID_TOKEN_RE.finditer(text.upper()):
            tok = m.group(0)
            if not re.fullmatch(r"\d+", tok):
                return tok
        # Read out in groups, as printed on the card: "0039 4471 22", "XEB 7743 2201", "H7781 2290 04".
        for m in GROUPED_ID_RE.finditer(text):
            raw = m.group(0)
            phone_shaped = re.fullmatch(r"\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}", raw)
            if sum(c.isdigit() for c in raw) >= 5 and len(re.sub(r"\W", "", raw)) <= 20 and not phone_shaped:
                return raw
        # "Tricare, 8840021937": beside the insurer, a plain number is the member ID, not a phone.
        m = BARE_DIGITS_ID_RE.search(text)
        if m:
            return m.group(0)
    return ""


BARE_DIGITS_ID_RE = re.compile(r"(?<![\w-])\d{6,15}(?![\w-])")
GROUPED_ID_RE = re.compile(
    r"(?<![\w-])(?:[A-Z]{1,4}[ -])?[A-Z0-9]*\d[A-Z0-9]*(?:[ -][A-Z0-9]*\d[A-Z0-9]*)+(?![\w-])"
    r"|(?<![\w-])[A-Z]{1,4}[ -]\d{5,}(?![\w-])"
)


PHONE_WORD_RE = re.compile(r"\b(?:phone|telephone|tel|cell|cellphone|mobile|number|call|text|ring|reach)\b", re.I)
PHONE_GROUPS_RE = re.compile(r"(?<![\w/.-])\+?\d{1,4}(?:[\s.-]\d{1,4}){2,5}(?![\w/-])")


def _grouped_phone(text: str) -> str:
    """A phone number in any grouping of digits ("555 561 38 75", "+44 20 7946 0958"), in a message
    about a phone number: 10 to 13 digits in groups."""
    for m in PHONE_GROUPS_RE.finditer(text):
        if 10 <= sum(c.isdigit() for c in m.group(0)) <= 13:
            return m.group(0).strip()
    return ""


# "it's 2093 at the end, not 2039", "the last four are 2093", "ends in 2093": a fix to the end of
# the phone number already given.
PHONE_END_FIX_RE = re.compile(
    r"\b(?:(?:it's|its|it is|should be|make that)\s+(\d{2,4})\s+(?:at the end|on the end)|"
    r"(?:last|final)\s+(?:two|three|four|2|3|4)?\s*(?:digits?|numbers?)?\s*(?:are|is|should be|=)\s+(\d{2,4})|"
    r"end(?:s|ing)?\s+(?:in|with)\s+(\d{2,4}))\b",
    re.I,
)


def _phone_ending_fix(text: str, phone: str) -> str:
    m = PHONE_END_FIX_RE.search(text)
    if not m:
        return ""
    end = next(g for g in m.groups() if g)
    digits_at = [i for i, c in enumerate(phone) if c.isdigit()]
    if len(end) >= len(digits_at):
        return ""
    chars = list(phone)
    for pos, digit in zip(digits_at[-len(end) :], end, strict=True):
        chars[pos] = digit
    return "".join(chars)


def _phone(text: str) -> str:
    for m in PHONE_RE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        raw = m.group(0).strip()
        if 7 <= len(digits) <= 15 and not re.fullmatch(r"\d{4}", raw) and not re.search(r"\d{4}-\d{2}-\d{2}", raw):
            context = text[max(0, m.start() - 30) : m.start()].lower()
            if re.search(r"member|policy|subscriber|\bid\b|group", context):
                continue
            return raw
    return ""


# "It started / came on / kicked in …": a sentence about when the problem began.
ONSET_CUE_RE = re.compile(r"\b(?:started|starts|began|begun|start|came on|kicked in|first noticed|onset)\b", re.I)
# "I've had it for three days", "it's been going on since Monday": a duration about the problem itself.
ABOUT_IT_RE = re.compile(
    r"\b(?:it|it's|this|that|these|they|they've|symptoms?|pain|had it|had this|been going on|going on|"
    r"lasted|lasting)\b",
    re.I,
)


def _about_it(sentence: str) -> bool:
    """A duration that refers back to the complaint, not to a drug, condition or habit."""
    if not ABOUT_IT_RE.search(sentence):
        return False
    if DRUG_RE.search(sentence) or _conditions(sentence) or OCCUPATION_RE.search(sentence):
        return False
    return not re.search(r"\b(?:tak(?:e|ing)|smok\w*|drink\w*|work\w*|liv(?:e|ed|ing)|job|married)\b", sentence, re.I)


def _onset(text: str) -> str:
    for pat in ONSET_PATTERNS:
        m = pat.search(text)
        if m:
            return m.group(0).strip()
    return ""


def _freq(clause: str) -> str:
    best, pos = "", 10**9
    for canon, rx in FREQ_RE.items():
        m = rx.search(clause)
        if m and m.start() < pos:
            best, pos = canon, m.start()
    m = re.search(r"\bevery\s+(\d+)\s+hours?\b", clause, re.I)
    if m and not best:
        best = f"every {m[1]} hours"
    return best


STOP_MED = re.compile(
    r"\b(?:stopped|quit|no longer|not taking|don't take|do not take|ran out|came off|discontinued|not anymore)\b", re.I
)
ALLERGY_CTX = re.compile(
    r"\b(?:allerg\w*|reaction|react|gives? me|gave me|makes? me|made me|break out|broke out|breaks? me out|"
    r"can't take|cannot take|can't have|can not take|"
    r"sensitive to|intoleran\w*)\b",
    re.I,
)
# "astemizole for my allergies", "when my allergies act up": allergies as the illness a medicine treats.
ALLERGY_AS_ILLNESS = re.compile(
    r"\b(?:for|with|when|if|because of)\s+(?:my\s+|the\s+|her\s+|his\s+|seasonal\s+)?allergies\b"
    r"|\ballergies\s+(?:act|acting|flare|flaring|are bad|get bad|kick in)\b"
    r"|\ballergy\s+(?:pills?|medicines?|meds|medications?|shots?|season|tablets?)\b",
    re.I,
)


# Carrying adrenaline for an allergy says how bad the reaction is (never a reaction by itself).
EPINEPHRINE_RE = re.compile(r"\b(?:epi-?\s?pens?|epinephrine|adrenaline|auvi-?q)\b", re.I)


# Someone handing over a medicine, not a medicine doing something to the patient: "the doctor gave
# me a script for X", "they gave me X for it", "gave me a refill".
PRESCRIBED_RE = re.compile(
    r"\b(?:doctor|doc|dr\.?|physician|nurse|pharmacist|pharmacy|gp|provider|surgeon|dentist|specialist|np|pa"
    r"|they|he|she|someone|ER|hospital|clinic)\s+(?:\w+\s+)?(?:gave|gives|give|handed|put|started|sent)\s+me\b"
    r"|\b(?:gave|gives|give|given|got)\s+me\s+(?:a\s+|an\s+|the\s+|some\s+|another\s+|new\s+)*"
    r"(?:script|prescription|refill|samples?|rx|scrip|course|supply|shot|injection)\b",
    re.I,
)


# What a medicine does for the patient ("it makes me feel better", "makes me sleep") is no reaction.
BENEFIT_RE = re.compile(
    r"\b(?:makes?|made|gives?|gave)\s+me\s+(?:feel\s+)?(?:(?:a\s+lot|much|way|so\s+much)\s+)?"
    r"(?:better|good|fine|normal|okay|ok|sleep|relief)\b",
    re.I,
)


def allergy_ctx(text: str) -> bool:
    """The text says something is an allergen ("allergic to", "gives me", "can't take")."""
    text = BENEFIT_RE.sub(" ", PRESCRIBED_RE.sub(" ", ALLERGY_AS_ILLNESS.sub(" ", text)))
    return bool(ALLERGY_CTX.search(text))


NO_ALLERGY = re.compile(
    r"\b(?:no (?:known )?(?:drug |food |medication |medicine )?allergies|nkda|nka|no known allergy"
    r"|(?:i'?m |i am )?not allergic to (?:anything|any ?thing|any (?:medicines?|medications?|drugs?|foods?))"
    r"|no allergies|(?:don'?t|do not|dont) have (?:any )?allergies|(?:haven'?t|have not) got (?:any )?allergies"
    r"|allergic to nothing|none that i know"
    # "never had a reaction to anything", "never reacted to any medicine", "nothing I'm allergic to"
    r"|never (?:had|have had|ever had) (?:a |an |any )?(?:allergic )?reactions? to (?:anything|any \w+)"
    r"|never (?:reacted|react) (?:badly )?to (?:anything|any \w+)|nothing (?:that )?i'?m allergic to"
    r"|(?:zero|no) allergies)\b",
    re.I,
)
NO_MEDS = re.compile(
    r"\b(?:no (?:regular )?medications?|not (?:on|taking) any (?:medications?|medicines?|meds|pills)|"
    r"don't take any|do not take any|no meds|no medicines?|nothing regularly|not on anything|no pills)\b",
    re.I,
)
# "555-902-3318, no email", "I don't have an email", "I don't do email": no address to give
# ("no email please" asks not to be emailed; a message that gives an address has one).
NO_EMAIL = re.compile(
    r"\b(?:no|(?:don't|do not|dont)\s+(?:really\s+)?(?:have|use|do|check|read)(?:\s+an?|\s+my)?|"
    r"(?:haven't|have not|never) (?:got|had)(?: an?)?)\s+e-?mail(?:\s+address)?\b(?!\s+please)"
    # the other way round: "email I don't have", "email: none", "e-mail - no"
    r"|\be-?mail(?:\s+address)?\W*(?:i\s+)?(?:don't|do not|dont|never)\s+(?:have|use|got)\b"
    r"|\be-?mail(?:\s+address)?\W*(?:none|n/a|nope|no|nothing)\s*(?:$|[,;.])",
    re.I,
)
NO_FAMILY = re.compile(
    r"\b(?:no (?:known )?family history|nothing runs in (?:my|the) family|family is healthy)\b", re.I
)
NO_HISTORY = re.compile(
    r"\b(?:no (?:past )?(?:medical )?(?:history|conditions|surgeries|operations|health problems)|never had surgery|"
    r"never had any surgery|healthy otherwise|no chronic)\b",
    re.I,
)
AFFIRM = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|correct|right|that's right|that is right|still|i still|sure|exactly|i do\W*$|i am\W*$)",
    re.I,
)
BARE_NONE = re.compile(
    r"^\s*(?:none|nothing|nothin'?|nada|not that i(?:'m| am)? (?:know|aware)(?: of)?|not really|no(?:pe)?|nah|never|"
    r"n/a)(?![\w'])[^a-z]*(?:$|(?:that\s+)?i(?:'m| am)? (?:know|aware)(?: of)?(?:\W*$)|as far as i know|known|at all|"
    r"really|thanks?|thank you|to (?:report|speak of|mention)|i can think of"
    # "nope, nothing I know of", "no, none that I'm aware of", "nah, nothing I can think of"
    r"|(?:nothing|none|not)\s+(?:that\s+)?(?:i\s+know\s+of|i'?m\s+aware\s+of|i\s+can\s+think\s+of)\W*(?:$|\.))",
    re.I,
)
DENY = re.compile(r"^\s*(?:no|nope|not anymore|not really|i don't|i do not|i stopped)\b", re.I)


WORD_NUM = {"one": "1", "two": "2", "three": "3", "four": "4", "half a": "0.5", "a": "1", "an": "1"}
DOSE_BEFORE_RE = re.compile(
    rf"(?:(\d+(?:[.,]\d+)?)\s?({'|'.join(re.escape(u) for u in _UNITS)})|"
    r"(one|two|three|four|half a|an?)\s+(puffs?|tablets?|tabs|capsules?|pills?|drops|sprays?|units?))"
    r"\s+(?:of\s+)?(?:my\s+|the\s+|your\s+)?$",
    re.I,
)


def _dose_text(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return f"{m.group(1)} {UNIT_WORDS.get(m.group(2).lower(), m.group(2).lower())}"
    if m.lastindex and m.lastindex >= 4 and m.group(3):
        return f"{WORD_NUM.get(m.group(3).lower(), m.group(3))} {m.group(4).lower()}"
    return m.group(0).strip()


CLASS_RE = {k: _compile(v[0]) for k, v in vocab.DRUG_CLASSES.items()}


# Words that make a clause about medicines, so a misspelt drug name in it is looked for too.
MED_CUE_RE = re.compile(
    r"\b(?:take|takes|taking|took|on|prescribed|pills?|tablets?|meds?|medications?|medicines?|dose|doses|"
    r"mg|mcg|milligrams?|stopped|quit|started|daily|twice|inhaler|shots?|injections?)\b",
    re.I,
)


def _drug_hits(clause: str, about_meds: bool) -> list[tuple[int, int, str]]:
    """Drug names in a clause: the library's (brand names, salts, misspellings), then the vocabulary's."""
    lib = drugs.find(clause, fuzzy=about_meds or bool(MED_CUE_RE.search(clause)))
    hits = [(h.start, h.end, h.name) for h in lib]
    for m in DRUG_RE.finditer(clause):
        if not any(s < m.end() and m.start() < e for s, e, _ in hits) and m.group(0).lower() not in drugs.SALTS:
            hits.append((m.start(), m.end(), m.group(0).lower()))
    return sorted(hits)


def reactions_in(text: str) -> str:
    """The reactions a phrase describes, in the order told, as clinicians write them ("swelling (lips),
    hives"); the more specific phrase wins where two overlap ("throat closing" over "swelling")."""
    hits: list[tuple[int, int, str]] = []
    for canon, rx in REACTION_RE.items():
        for m in rx.finditer(text):
            if any(s < m.end() and m.start() < e for s, e, _ in hits) or _negated(text, m.start()):
                continue
            hits.append((m.start(), m.end(), canon))
    out = list(dict.fromkeys(c for _, _, c in sorted(hits)))
    site = REACTION_SITE_RE.search(text)
    if out and site and out[0] in ("swelling", "itching", "rash", "hives") and "throat" not in site.group(0).lower():
        out[0] = f"{out[0]} ({site.group(0).lower()})"
    return ", ".join(out)


_CONNECTOR_ONLY = re.compile(r"^[\s,&/-]*(?:(?:and|or|plus|also|&|n|'n'?|an')(?![\w])[\s,]*)*$", re.I)
_ALIAS_OF = {a: canon for canon, forms in vocab.ALIASES.items() for a in (canon, *forms)}


def _is_drug(word: str) -> bool:
    return bool(drugs.find(word, fuzzy=False) or DRUG_RE.fullmatch(word))


def only_allergens(sentence: str) -> bool:
    """A sentence that is a bare list of allergens ("Bees, fish, nuts. Same as before."), at least one
    of them not a medicine: whatever was asked, such a list names allergies, not medicines."""
    spans = list(ALLERGEN_RE.finditer(sentence))
    if not spans or all(_is_drug(m.group(0)) for m in spans):
        return False
    rest = ALLERGEN_RE.sub(" ", sentence.lower())
    return all(w in vocab.ALLERGY_LIST_FILLERS for w in WORD_RE.findall(rest))


# After a drug's name, words that say when or why it is used ("Benadryl when I get hives", "EpiPen for
# bees", "Tylenol at night"), so the drug is a medicine, not an allergen; "when I was little" is a time.
_USE_AFTER = re.compile(
    r"\s*(?:for\b|as needed|at night|every\b|daily|(?:when|if|whenever)\b"
    r"(?!\s+(?:i|we|she|he)\s+(?:was|were|had (?:my|surgery|an operation|a baby))\b))",
    re.I,
)


# An allergen named by what it comes from: "pollen from the trees", "dander off the cats".
SOURCE_OF_RE = re.compile(
    r"\b(pollen|dander|hair|fur|venom|stings?)\s+(?:from|of|off)\s+(?:the\s+|my\s+)?"
    r"(trees?|grass(?:es)?|weeds?|flowers?|cats?|dogs?|horses?|bees?|wasps?|hornets?)\b",
    re.I,
)


def _source_first(m: re.Match[str]) -> str:
    source = m.group(2).lower()
    source = source[:-2] if source.endswith("sses") else source.rstrip("s") if not source.endswith("ss") else source
    return f"{source} {m.group(1).lower()}"


# Between two allergens, words that make the first a part of the second ("the adhesive on medical tape").
PART_OF_RE = re.compile(r"^\s+(?:on|in|of|from)\s+(?:(?:the|my|a|an|some|medical|surgical|rubber)\s+)*$", re.I)


def _allergies(clause: str, force: bool = False) -> list[Allergy]:
    """Allergies in a clause. `force`: the sentence is about allergies, so a bare allergen counts.
    A reaction alone ("my lips swell after fish") makes a food or other allergen one, never a drug
    (the medicine a patient takes "for the rash" is not an allergen)."""
    clause = SOURCE_OF_RE.sub(_source_first, clause)  # "pollen from the trees" is tree pollen
    has_ctx = allergy_ctx(clause)
    reaction = reactions_in(clause)
    if not has_ctx and not reaction and not force:
        return []
    # A drug named while the patient talks about taking it ("I take loratadine daily") is a medicine.
    drug_ok = has_ctx or (force and not MED_CUE_RE.search(clause))
    found: list[Allergy] = []
    seen = set()
    spots: list[tuple[int, int, str]] = []
    for rx in (ALLERGEN_RE, DRUG_RE) if drug_ok else (ALLERGEN_RE,):
        for m in rx.finditer(clause):
            sub = m.group(0).lower()
            if sub in seen or _negated(clause, m.start()) or any(p <= m.start() < e for p, e, _ in spots):
                continue
            if not drug_ok and _is_drug(sub):
                continue
            if not has_ctx and _is_drug(sub) and _USE_AFTER.match(clause[m.end() :]):
                continue  # "Benadryl when I get hives": what they use, not what they react to
            seen.add(sub)
            spots.append((m.start(), m.end(), sub))
    # A drug is an allergen only when the clause says so ("I need an EpiPen" is not one), or when it is
    # named bare in answer to the allergy question ("No sorry, it was azithromycin").
    if has_ctx or drug_ok:
        for h in drugs.find(clause, fuzzy=True):
            if not has_ctx and (EPINEPHRINE_RE.search(h.surface) or _USE_AFTER.match(clause[h.end :])):
                continue  # "EpiPen for bees", "Benadryl when I itch": what they use, not what they react to
            if h.name not in seen and not _negated(clause, h.start) and not any(p == h.start for p, _, _ in spots):
                seen.add(h.name)
                spots.append((h.start, h.end, h.name))
    spots.sort()
    # "the adhesive on medical tape", "the latex in gloves": a part of the other thing is one allergen, the first
    for i in range(len(spots) - 1, 0, -1):
        if PART_OF_RE.match(clause[spots[i - 1][1] : spots[i][0]]):
            del spots[i]
    own: list[str] = []
    for i, (_, end, _) in enumerate(spots):
        # The reaction written after this allergen (before the next one) is its own.
        own.append(reactions_in(clause[end : spots[i + 1][0] if i + 1 < len(spots) else len(clause)]))
    for i in range(len(spots) - 2, -1, -1):
        # "Shrimp and crab make my throat close": allergens joined by "and" share the reaction after them.
        if not own[i] and _CONNECTOR_ONLY.match(clause[spots[i][1] : spots[i + 1][0]]):
            own[i] = own[i + 1]
    for (_, _, sub), mine in zip(spots, own, strict=True):
        found.append(Allergy(substance=sub, reaction=mine or (reaction if len(spots) == 1 else "")))
    found = _merge_kinds(found)
    if not found and has_ctx:
        m = re.search(
            r"allergic to\s+([a-z][a-z\s-]{2,30}?)(?=$|[,.;]|\s(?:and|which|that|it|they|so)\b)", clause, re.I
        )
        if m and m.group(1).lower().strip() not in {"anything", "nothing", "any"}:
            found.append(Allergy(substance=m.group(1).lower().strip(), reaction=reaction))
    return found


_WEAK_ALLERGEN_WORDS = frozenset(
    {"pollen", "venom", "animal", "house", "food", "tree", "mite", "sting", "drug", "dander"}
)
_ALLERGEN_NOISE = frozenset({"allergy", "allergies", "allergic", "to", "of", "and", "or", "the", "my", "intolerance"})


def _allergen_words(name: str) -> frozenset[str]:
    words = [w.rstrip("s") if len(w) > 3 else w for w in WORD_RE.findall(name.lower()) if w not in _ALLERGEN_NOISE]
    return frozenset(_ALIAS_OF.get(w, _ALIAS_OF.get(w + "s", w)) for w in words)


def same_allergen(a: str, b: str) -> bool:
    """Do two names say the same allergen ("bees" / "Allergy to bee venom", "shrimp" / "Shellfish")?"""
    x, y = _allergen_words(a), _allergen_words(b)
    sx, sy = x - _WEAK_ALLERGEN_WORDS, y - _WEAK_ALLERGEN_WORDS
    if sx and sy:
        return bool(sx & sy)
    return bool(x and y) and (x <= y or y <= x)


def _merge_kinds(found: list[Allergy]) -> list[Allergy]:
    """Several names of one kind told together ("shrimp and crab") are one allergy: "shellfish (shrimp, crab)"."""
    out: list[Allergy] = []
    groups: dict[str, Allergy] = {}
    for a in found:
        kind = _ALIAS_OF.get(a.substance)
        if kind and kind != a.substance and kind in groups:
            g = groups[kind]
            g.substance = g.substance[:-1] + f", {a.substance})"
            g.reaction = g.reaction or a.reaction
            continue
        if kind and kind != a.substance and any(_ALIAS_OF.get(b.substance) == kind for b in found if b is not a):
            a = Allergy(substance=f"{kind} ({a.substance})", reaction=a.reaction, turn=a.turn)
            groups[kind] = a
        out.append(a)
    return out


def _relations(clause: str) -> list[tuple[int, str]]:
    out = []
    for canon, rx in RELATION_RE.items():
        for m in rx.finditer(clause):
            out.append((m.start(), canon))
    out.sort()
    return out


def _lay_label(canon: str, said: str) -> str:
    """The clinical name, with the relative's illness in the words the patient used when they differ
    ("myocardial infarction (heart attack)"), so neither reading is lost."""
    said = " ".join(said.lower().split())
    canon_words = canon.lower().split()
    # the same words, or their inflections ("diabetic" is "diabetes"): nothing to add
    if all(any(w == c or (len(w) > 4 and w[:5] == c[:5]) for c in canon_words) for w in said.split()):
        return canon
    return f"{canon} ({said})"


def _conditions(clause: str, lay: bool = False) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for canon, rx in sorted(CONDITION_RE.items(), key=lambda kv: -max(len(f) for f in vocab.CONDITIONS[kv[0]])):
        for m in rx.finditer(clause):
            if any(s <= m.start() < e for s, e in taken):
                continue
            if _negated(clause, m.start()):
                continue
            taken.append((m.start(), m.end()))
            out.append((m.start(), _lay_label(canon, m.group(0)) if lay else canon))
    out.sort()
    return out


# Tobacco smoked or taken other than as cigarettes (water pipe, cigars, pipe, snus, chew, pouches).
_TOBACCO_KINDS = (
    r"shisha|hookah|hooka|nargile|narghile|water ?pipe|pipe|cigars?|cigarillos?|bidis?|juul|e-?cig\w*|snus|"
    r"snuff|dip|chew(?:ing)? tobacco|zyn|nicotine pouch(?:es)?|roll-?ups?|rollies"
)


def _tobacco(clause: str) -> str:
    if DECLINE_RE.search(clause):
        return ""
    low = clause.lower()
    # "a six-pack on weekends" is beer: a pack is tobacco only by the day or week, or beside smoking
    if not re.search(
        rf"\b(?:smok\w*|cigar\w*|cigs?|vap\w*|tobacco|nicotine|chew|{_TOBACCO_KINDS}|"
        r"(?<!six )(?<!6 )(?<!six-)(?<!6-)packs?\s+(?:a|per|each)\s+(?:day|week)|pack-?a-?day)\b",
        low,
    ):
        return ""
    if re.search(r"\b(?:nobody|no one|noone)\s+(?:\w+\s+)?smokes\b", low):
        return f"never smoker ({clause.strip(' .!').lower()})"  # "nobody smokes at home"
    if re.search(
        r"\b(?:haven't|have not|hasn't|has not|not|didn't|did not)\s+(?:\w+\s+)?(?:smoked|had a (?:cig\w*|smoke))\s+"
        r"(?:in|for|since)\b",
        low,
    ):
        return "former smoker"  # "haven't smoked in ten years"
    if (
        re.search(r"\bnon-?smoker\b", low)
        or re.search(
            r"\b(?:never|don't|dont|do not|doesn't|doesnt|does not|not|no|didn't|didnt|did not)\s+(?:\w+\s+){0,2}"
            r"(?:smok\w*|tobacco|cig\w*|vap\w*)",
            low,
        )
        or re.search(r"\b(?:smoking|smoke|tobacco|cigarettes)\W*(?:never|no|none|nope)\s*(?:$|[,;.])", low)
    ):
        return "never smoker"
    if re.search(
        r"\b(?:quit|used to|former|ex-?smoker|stopped|gave up)\s+(?:\w+\s+){0,2}?(?:smok|cig|tobacco|vap)", low
    ) or re.search(r"\bex-?smoker|former smoker\b", low):
        m = re.search(rf"\b(?:quit|stopped|gave up)\b[^.]*?\b({NUM}\s+{UNIT}\s+ago|in \d{{4}})", low)
        return "former smoker" + (f" (quit {m.group(1)})" if m else "")
    qty = re.search(
        r"((?:half|a|one|two|\d+(?:\.\d+)?)\s+(?:packs?|cigarettes|cigs)\s+(?:a|per|each)\s+(?:day|week))", low
    )
    kind = "vapes" if re.search(r"\bvap", low) else "current smoker"
    if re.search(r"\b(?:chew\w*|dip|snuff|snus)\b", low):
        kind = "chews tobacco"
    if qty:
        return f"{kind}, {qty.group(1)}"
    # "Social smoker, a few at parties", "the odd cigarette when I drink": how much, in the patient's words.
    how = re.search(
        r"\b(?:social(?:ly)?|occasional(?:ly)?|sometimes?|now and (?:then|again)|once in a while|here and there|"
        r"with friends|"
        r"the odd|rarely|light|a few|at parties|when (?:i'm |i am )?(?:drinking|out)|when i drink|"
        r"on (?:the )?weekends?)\b",
        low,
    )
    tob_words = r"\b(?:smok\w*|cigar\w*|cigs?|vap\w*|tobacco|nicotine|packs?|social|occasional\w*|the odd)\b"
    words = ", ".join(seg.strip(" .!") for seg in re.split(r"[,;]", low) if re.search(tob_words, seg)) or low
    other_kind = re.search(rf"\b(?:{_TOBACCO_KINDS})\b", low)
    if (how or other_kind) and len(words.split()) <= 12:
        return f"{kind}: {words}"
    return kind


# Drinks by name beyond beer and wine (so "sake sometimes" is a habit, not a job).
_DRINKS = (
    r"sake|soju|shochu|tequila|bourbon|scotch|brandy|cognac|sherry|port|champagne|prosecco|mead|margaritas?|"
    r"seltzers?|hard seltzers?|ale|stout|ipas?|booze|(?:six|6)[- ]?packs?|shots?|highballs?|mojitos?|martinis?"
)


def _alcohol(clause: str) -> str:
    if DECLINE_RE.search(clause):
        return ""  # "I'd rather not say about drinking" is a decline, not "does not drink"
    low = clause.lower()
    if not re.search(
        r"\b(?:drink\w*|alcohol\w*|beers?|wine|liquor|spirits|whiske?y|vodka|gin|rum|cider|lager|pints?|"
        rf"cocktails?|sober|teetotal\w*|{_DRINKS})\b",
        low,
    ):
        return ""
    if re.search(r"\b(?:alcohol|drinking|drink|booze)\W*(?:never|no|none|nope|nah)\s*(?:$|[,;.])", low):
        return "does not drink alcohol"  # "alcohol never", "drinking: no"
    if re.search(r"\b(?:water|coffee|tea|soda|juice|milk)\b", low) and not re.search(r"alcohol|beer|wine|liquor", low):
        return ""
    if re.search(r"\b(?:sober|teetotal|teetotaler)\b", low) or re.search(
        r"\b(?:never|don't|do not|doesn't|no|quit|stopped|not)\s+(?:\w+\s+){0,2}?(?:drink\w*|alcohol)", low
    ):
        return "does not drink alcohol"
    qty = re.search(
        rf"\b({NUM}\s+(?:or\s+\w+\s+)?(?:drinks?|beers?|pints?|glass(?:es)?(?: of wine)?|shots?|units?|cans?)"
        r"[^.,;]*?(?:(?:a|per|each|every)\s+(?:day|night|week|weekend|month)|on (?:the )?weekends?))",
        low,
    )
    if qty:
        return "drinks " + qty.group(1)
    loose = re.search(rf"\b({NUM}\s+(?:drinks?|beers?|pints?|glass(?:es)? of \w+|shots?|units?|cans?)[^.,;]*)", low)
    if loose:
        return "drinks " + loose.group(1).strip()
    words = next(
        (
            seg.strip(" .!")
            for seg in re.split(r"[,;]", clause)
            if re.search(
                r"drink|alcohol|beer|wine|liquor|spirit|whisk|vodka|gin|rum|cider|lager|pint|cocktail", seg, re.I
            )
        ),
        clause.strip(" .!"),
    )
    for word in ("socially", "occasionally", "rarely", "on weekends", "daily", "every day", "heavily"):
        if word in low:
            return f"drinks {word}" + (f" ({words})" if len(words.split()) > 2 else "")
    # "Wine with dinner sometimes": what and how often, in the patient's words.
    return f"drinks alcohol: {words}" if 1 < len(words.split()) <= 12 else "drinks alcohol"


_JOB = r"([a-z][a-z -]{2,40}?)"


def _driver(m: re.Match[str]) -> str:
    kind = f"{m.group(1)} driver" if m.group(1) else "driver"
    return kind + (f" for {m.group(2).strip()}" if m.group(2) else "")


# How people state their work, each with what to keep of the match (tried in order). A job named
# after "I'm a …" counts only if it is a known occupation ("I'm a bit tired" is not a job).
OCCUPATION_FORMS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str], bool]] = [
    (
        re.compile(rf"\bi(?:'m| am)?\s+(?:work|working)\s+as\s+(?:an?\s+)?{_JOB}(?=$|[,.;]|\s(?:at|for|in|and)\b)"),
        lambda m: m.group(1).strip(),
        False,
    ),
    (
        re.compile(
            r"\b(?:i(?:'m| am)\s+(?:an?|the)|my job is|my occupation is|i do|job:|occupation:)\s+"
            rf"{_JOB}(?=$|[,.;]|\s(?:at|for|in|and|now)\b)"
        ),
        lambda m: m.group(1).strip(),
        True,
    ),
    (
        re.compile(
            r"\b(?:i|he|she|they|(?:my|his|her) [a-z]+)(?:'m|'s| am| is| are)\s+(?:now\s+)?(?:an?\s+)?"
            r"(retired|unemployed|self-employed|a student|student|on disability|disabled)\b"
            r"(?=\s*$|\s*[,.;!]|\s+(?:now|since|for|from|and|but|after|last|about|already|too)\b)"
        ),
        lambda m: m.group(1).replace("a student", "student"),
        False,
    ),
    # "she is a retired postal worker", "I'm a former bus driver"
    (
        re.compile(
            r"\b(?:i|he|she)(?:'m|'s| am| is)\s+an?\s+((?:retired|former)\s+[a-z][a-z -]{2,30}?)"
            r"(?=$|[,.;]|\s(?:at|for|in|and|but)\b)"
        ),
        lambda m: m.group(1).strip(),
        False,
    ),
    # A child's schooling: "she's in 2nd grade", "he's in kindergarten"
    (
        re.compile(
            r"\b(?:i|he|she)(?:'m|'s| am| is)\s+in\s+((?:\w+\s+)?grade|kindergarten|preschool|nursery|daycare|"
            r"(?:high |middle |primary |elementary )?school|college|university|year \d+)\b"
        ),
        lambda m: f"student ({m.group(1)})",
        False,
    ),
    # A message that is only a work status: "retired", "Retired now."
    (
        re.compile(
            r"^\W*(retired|unemployed|self-employed|student|homemaker|stay[- ]at[- ]home (?:mom|dad|parent))"
            r"\W*(?:now)?\W*$"
        ),
        lambda m: m.group(1),
        False,
    ),
    # Someone answering for a parent or child: "he's a plumber", "she works as a cashier".
    (
        re.compile(rf"\b(?:he|she)(?:'s| is)\s+an?\s+{_JOB}(?=$|[,.;]|\s(?:at|for|in|and)\b)"),
        lambda m: m.group(1).strip(),
        True,
    ),
    (
        re.compile(
            rf"\b(?:he|she)\s+(?:works|worked|is working)\s+as\s+(?:an?\s+)?{_JOB}(?=$|[,.;]|\s(?:at|for|in|and)\b)"
        ),
        lambda m: m.group(1).strip(),
        False,
    ),
    # A former job: "he used to be a mechanic", "I worked as a nurse for thirty years".
    (
        re.compile(
            rf"\b(?:i|he|she)\s+(?:used to (?:be|work as)|was)\s+an?\s+{_JOB}"
            r"(?=$|[,.;]|\s(?:at|for|in|and|but|until)\b)"
        ),
        lambda m: f"former {m.group(1).strip()}",
        True,
    ),
    (
        re.compile(rf"\b(?:retired|former|ex-?)\s+((?:{_alts(vocab.OCCUPATIONS)}))\b"),
        lambda m: m.group(0).strip(),
        False,
    ),
    (
        re.compile(
            r"\bi (?:drive|deliver)\b(?:\s+(?:a\s+)?(truck|taxi|cab|bus|van))?"
            rf"(?:\s+for\s+(?:an?\s+|the\s+)?{_JOB})?(?=$|[,.;]|\s(?:and|but)\b)"
        ),
        _driver,
        False,
    ),
    (
        re.compile(rf"\bi work\s+(?:in\s+)?{_JOB}(?=$|[,.;]|\s(?:and|as|at|for)\b)"),
        lambda m: m.group(1).strip(),
        True,
    ),
    (
        re.compile(rf"\bi work (?:at|for|in)\s+(?:an?\s+|the\s+)?{_JOB}(?=$|[,.;]|\s(?:and|as)\b)"),
        lambda m: f"works at {m.group(1).strip()}",
        False,
    ),
]


def _occupation(clause: str) -> str:
    low = clause.lower()
    for rx, keep, known_only in OCCUPATION_FORMS:
        m = rx.search(low)
        if m and (not known_only or OCCUPATION_RE.search(m.group(1))):
            return keep(m)
    return ""


def _chief(sentence: str) -> str:
    m = re.search(
        r"\b(?:here (?:for|because(?: of)?)|coming in (?:for|because(?: of)?)|reason (?:for (?:my|the) visit )?is|"
        r"(?:i have had|i have been having|i have|i've (?:had|been having|been getting|been feeling|noticed)|"
        r"i've been|i am having|i'm having|i've got|i keep getting|i get|"
        r"suffering from|dealing with|"
        r"worried about|concerned about))\s+(.{3,120})",
        sentence,
        re.I,
    )
    if m:
        return m.group(1).strip(" .!")
    return sentence.strip(" .!")


# "I don't really want to get into that", "I'd rather not talk about it".
DECLINE_WANT_RE = re.compile(
    r"\b(?:don't|dont|do not|rather not|prefer not to)\s+(?:\w+\s+)?(?:want to |wanna )?"
    r"(?:get into|talk about|go into|answer|share|say|discuss|give)\b"
    r"|\b(?:sort|deal with|handle|take care of|give|bring|do)\b.{0,40}?\b(?:at the (?:front )?desk|later|in person|"
    r"when i (?:get|come) in)\b"
    r"|\bkeep\s+(?:\w+\s+){0,3}?out\s+of\s+(?:this|it|that)\b"
    r"|^\W*no\s+(?:\w+\s+){1,2}please\W*$",
    re.I,
)
# A whole message that only declines ("skip", "pass on this one", "next question please").
BARE_DECLINE = re.compile(
    r"^\W*(?:(?:can we |let's |lets |i'll |i will |i'd like to |i want to )?(?:skip|pass)|next question|"
    r"no comment|not telling|rather not|prefer not|i'd rather not|id rather not)"
    r"(?:\s+(?:it|that|this|on|one|question|please|for now|this one|that one|thanks|thank you))*\W*$",
    re.I,
)
# "the dose is 10, not 20", "it's 5 mg not 10": the first number replaces the second.
UNIT_ALT = "|".join(re.escape(u) for u in _UNITS)
DOSE_FIX_RE = re.compile(
    rf"(\d+(?:\.\d+)?)\s?({UNIT_ALT})?(?![a-z])\s*,?\s*(?:not|instead of|rather than)\s+"
    rf"(\d+(?:\.\d+)?)\s?({UNIT_ALT})?(?![a-z])",
    re.I,
)
DOSE_FIX_RE2 = re.compile(
    rf"\bnot\s+(\d+(?:\.\d+)?)\s?({UNIT_ALT})?(?![a-z])\s*(?:,|but|it's|its|it is)\s*(?:it's\s+|its\s+)?"
    rf"(\d+(?:\.\d+)?)\s?({UNIT_ALT})?(?![a-z])",
    re.I,
)
# A reply that says "that drug, no longer" without naming it ("I stopped it", "not anymore").
STOPPED_IT_RE = re.compile(
    r"\b(?:stopped|quit|came off|discontinued|ran out of|no longer take|don't take|do not take|not taking)\s+"
    r"(?:it|that|that one|them|those|taking it|taking that|taking them)\b|^\W*(?:no,?\s+)?(?:not anymore|not any more|"
    r"i stopped|no longer)\b",
    re.I,
)
STILL_TAKING_RE = re.compile(r"\b(?:still|yes|yeah|yep|i do|every day|daily)\b", re.I)


def _drugs_named(text: str) -> list[str]:
    return [name for _, _, name in _drug_hits(text, about_meds=True)]


def _unit_of(dose: str) -> str:
    m = re.search(r"[a-zµ]+", dose, re.I)
    return m.group(0) if m else ""


READBACK_RE = re.compile(r"\b(?:record|chart|file)\s+(?:lists|shows|has|says)\s+(.+?)\s*\.?$", re.I)


def _corrections(text: str, facts: Facts, turn: int, prior: Facts | None, context: str) -> None:
    """Corrections and answers that lean on what was said before: a changed dose, "I stopped it"."""
    earlier = (prior.medications if prior else []) + facts.medications
    named = _drugs_named(text)
    question = " ".join(s for s in split_sentences(context) if s.endswith("?"))
    asked_about = _drugs_named(question) if question else []
    if question and not asked_about and re.search(r"\b(?:it|them|those|these|that)\b", question, re.I):
        asked_about = _drugs_named(context)  # "Your record lists X. Are you still taking it?"
    short_yes = prior is not None and facts.affirmed and not facts.allergies and len(text.split()) <= 8
    if short_yes and question and re.search(r"allerg", context, re.I):
        # "yes" to "Your record lists an allergy to X. Is that still correct?": the patient confirms X.
        for sent in split_sentences(context):
            # only what the chart says is being confirmed, not what the model noted from the patient
            if re.search(r"allerg", sent, re.I) and re.search(r"\b(?:record|chart|file)\b", sent, re.I):
                for a in _allergies(sent, force=True):
                    a.turn = turn
                    facts.allergies.append(a)
                    facts.mark("allergies", turn)
    own_only = bool(facts.conditions) and re.search(r"\b(?:just|only)\b", text, re.I)
    if prior is not None and facts.affirmed and question and len(text.split()) <= 12 and not own_only:
        # "Correct" / "that's right, plus ..." to "Your record lists X and Y. Is that still correct?":
        # the patient confirms the chart's conditions (medicines and allergies have their own rules).
        for sent in split_sentences(context):
            found = READBACK_RE.search(sent)
            if not found or re.search(
                r"allerg(?:y|ies) to|allergic to|allergies|medic|\b(?:taking|take)\b", sent, re.I
            ):
                continue
            items = [i.strip(" .") for i in re.split(r",\s*(?:and\s+)?|\s+and\s+", found.group(1)) if i.strip(" .")]
            if not items or any(DRUG_RE.search(i) or DOSE_RE.search(i) for i in items):
                continue
            for item in items:
                item = re.sub(r"\s*\((?:disorder|finding|situation|diagnosis)\)", "", item)
                if item and item not in facts.conditions:
                    facts.conditions.append(item)
            facts.mark("history", turn)
    fix = DOSE_FIX_RE.search(text)
    new, new_unit, old, old_unit = (fix.group(1), fix.group(2), fix.group(3), fix.group(4)) if fix else ("",) * 4
    if not fix:
        fix2 = DOSE_FIX_RE2.search(text)
        if fix2:
            old, old_unit, new, new_unit = fix2.group(1), fix2.group(2), fix2.group(3), fix2.group(4)
    if new:
        target = next((m for m in earlier if m.name in named), None)
        target = target or next((m for m in reversed(earlier) if re.match(rf"{re.escape(old)}\b", m.dose)), None)
        target = target or (earlier[-1] if earlier else None)
        name = target.name if target else (named or asked_about or [""])[0]
        if name:
            unit = new_unit or old_unit or (_unit_of(target.dose) if target else "")
            unit = UNIT_WORDS.get(unit.lower(), unit.lower()) if unit else ""
            dose = f"{new} {unit}".strip()
            med = next((m for m in facts.medications if m.name == name), None)
            if med is None:
                med = Med(name=name, turn=turn)
                facts.medications.append(med)
            med.dose, med.stopped, med.turn = dose, False, turn
            facts.mark("medications", turn)
    for m in STOPPED_IT_RE.finditer(text):
        before_it = [name for s, _, name in _drug_hits(text[: m.start()], about_meds=True)]
        if named and before_it and not new:
            med = next((x for x in facts.medications if x.name == before_it[-1]), None)
            if med is not None:
                med.stopped = True
    if named or new:
        return
    if not re.search(r"\b(?:tak\w*|still on|using|use)\b", question, re.I) or re.search(r"allerg", question, re.I):
        asked_about = []  # only a question about taking a medicine gives "it" / a bare yes or no a drug
    refs = asked_about or ([earlier[-1].name] if earlier else [])
    # A bare yes / no is read against the question only when this message is read on its own (the
    # whole-conversation reading answers chart questions through `answers`).
    bare = prior is not None and bool(asked_about)
    if STOPPED_IT_RE.search(text) or (facts.denied and bare):
        for name in refs[: len(asked_about) or 1]:
            med = next((m for m in facts.medications if m.name == name), None)
            if med is None:
                facts.medications.append(Med(name=name, stopped=True, turn=turn))
            else:
                med.stopped = True
            facts.no_medications = False  # "no" to one drug is not "no medications"
            facts.mark("medications", turn)
    elif bare and facts.affirmed:
        for name in asked_about:
            if not any(m.name == name for m in facts.medications):
                facts.medications.append(Med(name=name, turn=turn))
            facts.mark("medications", turn)


def read_message(
    text: str, facts: Facts, turn: int, asked: list[str], *, context: str = "", prior: Facts | None = None
) -> Facts:
    """Add what one user message says to `facts` (later statements refine earlier ones).
    `context`: the model's message just before (what "it" and a bare "yes" refer to); `prior`: what
    earlier turns established, when `facts` holds this message alone."""
    asked_name = "name" in asked
    # What the parts of several-part questions held before this message (a part declined here keeps it).
    held = {p: getattr(facts, p) for parts in DECLINE_PARTS.values() for p in parts}
    if BARE_DECLINE.search(text):
        topic = asked[0] if asked else "that question"
        if topic not in facts.declined:
            facts.declined.append(topic)
        facts.mark("declined", turn)
    bare_sentences = [
        m
        for m in re.finditer(r"[^.!?;\n\s][^.!?;\n]*", text)
        if BARE_DECLINE.search(m.group(0)) and not BARE_DECLINE.search(text)
    ]
    for m in [*DECLINE_RE.finditer(text), *DECLINE_WANT_RE.finditer(text), *bare_sentences]:
        # What was declined: the topic named next to the phrase (in its own sentence), else the
        # question just asked.
        sentence = _sentence_around(text, m.start(), m.end())
        near = sentence[max(0, m.start() - sentence_start(text, m.start()) - 40) :]
        named = [t for t in topics_of(near[: m.end() - m.start() + 80]) if t not in ("summary", "onset")]
        topic = named[0] if named else (asked[0] if asked else "that question")
        topic = _decline_part(topic, sentence, m.start() - sentence_start(text, m.start()))
        if topic not in facts.declined:
            facts.declined.append(topic)
        facts.mark("declined", turn)
    if AFFIRM.search(text):
        facts.affirmed, facts.denied = True, False
        facts.answers[turn] = "yes"
    elif DENY.search(text) or BARE_NONE.search(text):
        facts.denied, facts.affirmed = True, False
        facts.answers[turn] = "no"
        # A bare "no" / "none that I know of" answers the topic just asked about, also when a short
        # first sentence says it and more follows ("Nope, nothing I know of. Never had a reaction.").
        first = (split_sentences(text) or [""])[0]
        if len(text.split()) <= 8 or (len(first.split()) <= 6 and BARE_NONE.search(first)):
            # "illnesses that run in your family" is about the family, not the patient's own past
            # (as for the answer's items below): the family is the topic a bare "no" answers.
            first = ["family"] if "family" in asked else asked[:1]
            for topic, flag in (
                ("allergies", "no_allergies"),
                ("medications", "no_medications"),
                ("family", "no_family_history"),
                ("history", "no_history"),
            ):
                if topic in first or (topic in asked and len(asked) == 1):
                    setattr(facts, flag, True)
                    facts.mark(topic, turn)
    name = _name(text, asked_name)
    if name:
        facts.name = name
        facts.mark("name", turn)
    # Said aloud or typed as speech: "mikeb88 at gmail dot com" is mikeb88@gmail.com.
    email = EMAIL_RE.search(text) or EMAIL_RE.search(spoken.spoken_emails(text))
    if email:
        facts.email = email.group(0)
        facts.mark("email", turn)
    scrubbed = EMAIL_RE.sub(" ", spoken.spoken_emails(text))
    dates = _dates(scrubbed)
    for pos, iso_date in dates:
        ctx = scrubbed[max(0, pos - 40) : pos].lower()
        birthish = re.search(r"born|birth|dob|birthday|b\.d\.", ctx) or "dob" in asked
        if (birthish or (len(dates) == 1 and not facts.dob)) and not re.search(
            r"since|started|began|ago|surgery|diagnosed", ctx
        ):
            facts.dob = iso_date
            facts.mark("dob", turn)
            break
    # Dates out of the way of IDs and phones ("7712-09-3345" is no date: a year goes at one end only).
    no_dates = re.sub(r"\b(?:\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})\b", " ", scrubbed)
    insurer = _insurer(text)
    if insurer and name and not INSURANCE_CONTEXT_RE.search(text) and "insurance" not in asked:
        # "Oscar Delgado": a patient's own name that is also an insurer's is no insurance
        said = {w.lower() for w in name.split()}
        if any(w.lower() in said for w in re.findall(r"[A-Za-z]+", _insurer_words(text))):
            insurer = ""
    if not insurer and NO_INSURANCE_RE.search(text) and not DECLINE_RE.search(text):
        insurer = "none (self-pay)"  # "no insurance right now, I'll pay cash": uninsured, not declined
    insurer_hit = bool(insurer)
    if insurer:
        facts.insurer = insurer
        facts.mark("insurance", turn)
    about_insurance = insurer_hit or "insurance" in asked
    member = _member_id(no_dates, about_insurance)
    spoken_ids = spoken.spoken_numbers(no_dates)
    if not member and about_insurance and spoken_ids != no_dates:
        # "United Healthcare, nine one eight eight two seven three zero four": a member ID read out
        member = _member_id(spoken_ids, True)
        if member:
            no_dates = spoken_ids
    if member:
        facts.member_id = member
        facts.mark("insurance", turn)
        if not insurer and "insurance" in asked:
            # "GEHA, 3309 8821 04" answering the insurance question: the name before the ID is the payer.
            lead = re.sub(
                r"^(?:it's|its|it is|i have|we have|my|our|insurance|plan|is|with|:|\s)+",
                "",
                text.split(member)[0].strip(" ,.;:-"),
                flags=re.I,
            )
            lead = re.sub(
                r"[,\s]*(?:(?:member|policy|subscriber)\s*)?(?:id|number|no\.?|#)?\s*(?:is)?\s*:?$",
                "",
                lead,
                flags=re.I,
            )
            words = lead.split()
            if 1 <= len(words) <= 5 and words[0][:1].isupper() and not re.search(r"\d|member|id\b|number", lead, re.I):
                facts.insurer = lead
    not_ids = no_dates.replace(member, " ") if member else no_dates
    # Written in digits, or read out in words: "five five five, two four six, fourteen ninety nine",
    # or in pairs after the area code when the message is about a phone: "555 561 38 75".
    phone = _phone(not_ids) or _phone(spoken.spoken_numbers(not_ids))
    if not phone and not about_insurance and (PHONE_WORD_RE.search(text) or "contact" in asked):
        phone = _grouped_phone(spoken.spoken_numbers(not_ids))
    earlier_phone = facts.phone or (prior.phone if prior else "")
    if not phone and earlier_phone:
        phone = _phone_ending_fix(text, earlier_phone)
    if phone:
        facts.phone = phone
        facts.mark("phone", turn)
    for sentence in split_sentences(text):
        # Onset belongs to symptoms: skip sentences about smoking, surgery or diagnoses.
        if re.search(r"smok|quit|surgery|operation|diagnosed|born|married|moved", sentence, re.I):
            continue
        has_symptom = any(r.search(sentence) for r in SYMPTOM_RE.values()) or bool(
            BODY_PAIN_RE.search(sentence) or INJURY_RE.search(sentence)
        )
        if has_symptom or "onset" in asked or ONSET_CUE_RE.search(sentence) or _about_it(sentence):
            onset = _onset(sentence)
            if onset:
                facts.onset = onset
                facts.mark("onset", turn)
                break
    sc = SCORE_RE.search(text) or SCORE_RE2.search(text) or SCORE_RE3.search(text)
    if not sc and "severity" in asked:
        # a bare number answering "how severe?" ("3 days" says how long, not how bad)
        sc = re.search(
            r"^\D*\b(10|[0-9])\b(?!\s*(?:min\w*|hours?|hrs?|days?|weeks?|wks?|months?|years?|yrs?))\D*$", text
        )
    if sc:
        facts.severity_score = int(sc.group(1))
        facts.severity = f"{sc.group(1)}/10"
        facts.mark("severity", turn)
    else:
        for canon, rx in SEVERITY_RE.items():
            about_symptom = facts.symptoms or any(r.search(text) for r in SYMPTOM_RE.values())
            if rx.search(text) and (about_symptom or {"onset", "severity", "complaint"} & set(asked)):
                facts.severity = canon
                facts.mark("severity", turn)
    course = re.search(
        r"\b(?:getting|got|gets|becoming|feels?)\s+(worse|better)\b|\b(worsening|improving|unchanged|the same|"
        r"comes and goes|on and off|constant|intermittent)\b",
        text,
        re.I,
    )
    about_problem = facts.symptoms or any(r.search(text) for r in SYMPTOM_RE.values()) or BODY_PAIN_RE.search(text)
    if course and (about_problem or {"onset", "severity", "complaint"} & set(asked)):
        word = (course.group(1) or course.group(2)).lower()
        facts.course = {"worse": "getting worse", "better": "getting better"}.get(word, word)
        if re.search(r"\b(?:not|isn't|is not|hasn't|no)\s+(?:\w+\s+)?$", text[: course.start()], re.I):
            facts.course = {"getting better": "not improving", "getting worse": "not getting worse"}.get(
                facts.course, "not " + facts.course
            )
        facts.mark("onset", turn)
    if NO_ALLERGY.search(text):
        facts.no_allergies = True
        facts.allergies = []
        facts.mark("allergies", turn)
    if NO_MEDS.search(text):
        facts.no_medications = True
        facts.mark("medications", turn)
    if NO_EMAIL.search(text) and not email:
        facts.no_email = True
        facts.mark("email", turn)
    if NO_FAMILY.search(text):
        facts.no_family_history = True
        facts.mark("family", turn)
    if NO_HISTORY.search(text):
        facts.no_history = True
        facts.mark("history", turn)
    for flag, rx in [*RED_FLAG_RE.items(), *ACUTE_RE.items()]:
        for sentence in split_sentences(text):
            m = rx.search(sentence)
            if m and not _negated(sentence, m.start()) and not not_current(sentence) and flag not in facts.red_flags:
                facts.red_flags.append(flag)
                facts.mark("red_flags", turn)
    answering_allergies = "allergies" in asked
    for sentence in split_sentences(text):
        if asks(sentence):
            continue  # a question ("What causes migraines?") states no facts about the patient
        reaction = ""
        has_allergen = bool(ALLERGEN_RE.search(sentence))
        sentence_reaction = any(rx.search(sentence) for rx in REACTION_RE.values())
        allergy_sentence = bool(
            (allergy_ctx(meds.without_indications(sentence)) and not NO_ALLERGY.search(sentence))
            or (has_allergen and (sentence_reaction or answering_allergies))
            # a drug named bare in answer to the allergy question alone ("No sorry, it was azithromycin")
            or (_names_drug(sentence) and answering_allergies and "medications" not in asked)
            or only_allergens(sentence)
            # "Latex. Itchy rash.": answering the allergy question, or right after naming an
            # allergen, a reaction describes the allergy
            or (sentence_reaction and (answering_allergies or _bare_allergens_before(facts, turn, has_allergen)))
        )
        for m in list(ALLERGEN_RE.finditer(sentence)) + list(DRUG_RE.finditer(sentence)):
            facts.allergy_remarks[m.group(0).lower().split()[0].rstrip("s")] = sentence
        told_before = list(facts.allergies)
        for clause in split_clauses(sentence):
            _read_clause(clause, sentence, facts, turn, allergy_sentence)
            if not ALLERGEN_RE.search(clause) and not DRUG_RE.search(clause):
                more = reactions_in(clause)  # "I sneeze and my eyes water": every reaction told
                reaction = f"{reaction}, {more}" if reaction and more and more not in reaction else reaction or more
            if not reaction and allergy_ctx(sentence) and EPINEPHRINE_RE.search(clause):
                reaction = "anaphylaxis"  # "I'm allergic to bee stings, I need an EpiPen"
        _allergy_correction(sentence, facts, turn, told_before)
        _allergy_outgrown(sentence, facts, turn, told_before)
        # "Peanuts too, my throat got tight": a reaction in a sibling clause belongs to the allergen;
        # a sentence that is only a reaction ("Latex. Itchy rash.") to the allergens just named.
        if reaction and allergy_sentence:
            low = sentence.lower()
            named_here = [
                a
                for a in facts.allergies
                if a.turn == turn
                and (a.substance in low or any(w in low for w in re.findall(r"[a-z]{4,}", a.substance.lower())))
            ]
            for a in named_here or [a for a in facts.allergies if a.turn == turn and not has_allergen]:
                if not a.reaction:
                    a.reaction = reaction
                elif named_here and reaction not in a.reaction and len(named_here) == 1:
                    a.reaction = f"{a.reaction}, {reaction}"  # "cats make me sneeze and my eyes swell up"
    _read_meds(text, facts, turn, asked)
    if not facts.chief_complaint:
        reason = _reason(text, asked)
        if reason:
            facts.chief_complaint = reason
            facts.mark("chief_complaint", turn)
    # A decline of a several-part question ("never smoked. pass. I drive a bus") covers the parts
    # this message left unanswered.
    questions = [q for q in split_sentences(context) if q.rstrip().endswith("?")]
    last_q = questions[-1].lower() if questions else ""
    for whole, parts in DECLINE_PARTS.items():
        if whole in facts.declined:
            asked_parts = [
                p for p, words in parts.items() if any(re.search(rf"\b{re.escape(w)}", last_q) for w in words)
            ]
            open_parts = [p for p in (asked_parts or parts) if not getattr(facts, p)]
            facts.declined = [t for t in facts.declined if t != whole] + [
                p for p in (open_parts or list(parts)) if p not in facts.declined
            ]
    for part, value in held.items():
        if part in facts.declined and getattr(facts, part) != value:
            setattr(facts, part, value)  # "Drinking, nah, I'll leave that one": declined, not described
    _social_short_answers(text, facts, turn, context)
    _history_answers(text, asked, facts, turn)
    notes = _hpi_notes(text, asked, facts, prior, turn)
    if notes:
        facts.hpi_notes += [n for n in notes if n not in facts.hpi_notes]
        facts.mark("onset", turn)
    _corrections(text, facts, turn, prior, context)
    return facts


def _names_drug(sentence: str) -> bool:
    """A drug named outside talk of taking it ("it was azithromycin", not "I take azithromycin")."""
    return bool(drugs.find(sentence) or DRUG_RE.search(sentence)) and not MED_CUE_RE.search(sentence)


# An allergy the patient no longer has: "wheat but not anymore", "I outgrew it", "used to be allergic to X".
OUTGROWN_RE = re.compile(
    r"\b(?:outgrew|outgrown|grew out of|not anymore|not any more|no longer(?! take| taking)|used to be allergic"
    r"|(?:isn'?t|is not|not) a problem (?:any ?more|now))\b",
    re.I,
)
OUTGROWN_MARK = "outgrown"


def _allergy_outgrown(sentence: str, facts: Facts, turn: int, told_before: list[Allergy]) -> None:
    """Mark the allergen a "not anymore" / "I outgrew it" cue is about (the one named just before the
    cue, or those named after "used to be allergic to") as outgrown, in the allergen's own words."""
    cues = list(OUTGROWN_RE.finditer(sentence))
    here = [a for a in facts.allergies if a not in told_before and a.turn == turn]
    if not cues or not here:
        return
    low = sentence.lower()
    pos = {id(a): low.find(a.substance.split(" (")[0].split()[0]) for a in here}
    for cue in cues:
        after = sorted((a for a in here if pos[id(a)] > cue.end()), key=lambda a: pos[id(a)])[:1]
        before = sorted((a for a in here if 0 <= pos[id(a)] < cue.start()), key=lambda a: pos[id(a)])[-1:]
        # "used to be allergic to X", "I outgrew the wheat thing": the one after; "X but not anymore": before
        hit = after if cue.group(0).lower().startswith("used to") or not before else before
        for a in hit:
            if OUTGROWN_MARK not in a.substance:
                a.substance = f"{a.substance} ({OUTGROWN_MARK})"


def _allergy_correction(sentence: str, facts: Facts, turn: int, told_before: list[Allergy]) -> None:
    """ "Erythromycin, it made me sick. No sorry, it was azithromycin.": a self-correction that names a
    new allergen replaces the one just named in this message, which keeps its reaction."""
    cue = meds.CORRECTION_RE.search(sentence)
    new = [a for a in facts.allergies if a not in told_before and a.turn == turn]
    slipped = [a for a in told_before if a.turn == turn and a in facts.allergies]
    if not cue or not new or not slipped or sentence.lower().find(new[0].substance.split()[0]) < cue.start():
        return
    old = slipped[-1]
    new[0].reaction = new[0].reaction or old.reaction
    facts.allergies.remove(old)


def _bare_allergens_before(facts: Facts, turn: int, has_allergen: bool) -> bool:
    """This message already named allergens without their reaction, and this sentence names none."""
    return not has_allergen and any(a.turn == turn and not a.reaction for a in facts.allergies)


def _reason(text: str, asked: list[str]) -> str:
    """The reason for the visit in the patient's own words, when no symptom named it: what follows
    "I'm here for ..." anywhere, or the whole short answer to "what brings you in?" ("Cut", "my back",
    "Refill", "annual physical")."""
    cue = REASON_CUE_RE.search(text)
    if cue:
        rest = split_sentences(text[cue.end() :])
        said = rest[0].strip(" .!") if rest else ""
        if not re.fullmatch(r"(?:it|this|that|them|something|things)?", said, re.I):
            return said
    if not asked or asked[0] != "complaint" or {"onset", "severity"} & set(asked):
        return ""
    if BARE_DECLINE.search(text) or DECLINE_WANT_RE.search(text) or DECLINE_RE.search(text):
        return ""
    if BARE_NONE.search(text) or re.fullmatch(r"\W*(?:yes|yeah|yep|ok|okay|sure|no|nope)\W*", text, re.I):
        return ""
    words = " ".join(text.split()).strip(" .!")
    return words[:200]


# Questions with several parts, and the words that name each part.
DECLINE_PARTS: dict[str, dict[str, tuple[str, ...]]] = {
    "social": {
        "tobacco": ("smoke", "smoking", "smoked", "tobacco", "cigarettes", "vape", "vaping", "nicotine"),
        "alcohol": ("drink", "drinking", "drinks", "alcohol", "booze", "beer", "wine"),
        "occupation": ("work", "job", "occupation", "do for a living", "career", "employer"),
    },
    "contact": {
        "phone": ("phone", "number", "cell", "mobile", "call", "text"),
        "email": ("email", "e-mail", "mail", "inbox"),
    },
}


def sentence_start(text: str, pos: int) -> int:
    starts = [m.end() for m in re.finditer(r"(?<=[.!?])\s+|\n+|;\s*", text) if m.end() <= pos]
    return starts[-1] if starts else 0


def _sentence_around(text: str, start: int, end: int) -> str:
    begin = sentence_start(text, start)
    stop = re.search(r"[.!?](?:\s|$)|\n|;", text[end:])
    return text[begin : end + (stop.start() if stop else len(text) - end)]


def _decline_part(topic: str, sentence: str, pos: int) -> str:
    """The part of a several-part topic the decline names: the part word nearest the phrase in its sentence."""
    parts = DECLINE_PARTS.get(topic)
    if not parts:
        return topic
    low = sentence.lower()
    # The part named in the decline's own comma-separated piece wins ("never smoked, I'd rather not
    # say about drinking"); else the nearest one.
    cuts = [0, *(m.end() for m in re.finditer(r",", low)), len(low) + 1]
    piece = next(((a, b) for a, b in itertools.pairwise(cuts) if a <= pos < b), (0, len(low) + 1))
    best, dist = topic, 10**9
    for part, words in parts.items():
        for w in words:
            for m in re.finditer(rf"\b{re.escape(w)}\b", low):
                d = abs(m.start() - pos) + (0 if piece[0] <= m.start() < piece[1] else 1000)
                if d < dist:
                    best, dist = part, d
    return best


HOW_OFTEN = (
    "rarely",
    "occasionally",
    "sometimes",
    "socially",
    "on weekends",
    "weekends",
    "daily",
    "every day",
    "most days",
    "often",
    "once in a while",
    "special occasions",
    "a lot",
    "heavily",
)
_NOT_A_JOB = re.compile(
    r"^(?:no|nope|nah|none|never|not|yes|yeah|yep|sure|ok|okay|i|i'm|it|that|this|just|only|sometimes|rarely|"
    r"the|a|an|and|but|also|same|thanks|thank|correct|right|quit|stopped|used|gave|occasionally|socially|"
    r"daily|weekends?|often|mostly)\b|\d|\b(?:smok\w*|drink\w*|alcohol|wine|beer|vap\w*|cig\w*)\b"
    rf"|\b(?:{_DRINKS}|{_TOBACCO_KINDS})\b",
    re.I,
)


def _social_short_answers(text: str, facts: Facts, turn: int, context: str) -> None:
    """Short answers to the habits-and-work question, read against what it asked: "No." (to tobacco
    or alcohol), "Rarely." (to alcohol), "Accountant." / "Retired mailman" (to occupation), and a
    list of short answers in the question's order ("no. sometimes. student")."""
    questions = [q for q in split_sentences(context) if q.rstrip().endswith("?")]
    q = questions[-1].lower() if questions else ""
    found = {}
    for p, words in DECLINE_PARTS["social"].items():
        hits = [m.start() for w in words for m in re.finditer(rf"\b{re.escape(w)}", q)]
        if hits:
            found[p] = min(hits)
    parts = sorted(found, key=found.get)
    if not parts:
        return
    low = text.strip().lower()
    segments = [
        seg.strip(" .!,") for sent in split_sentences(text) for seg in re.split(r",\s*", sent) if seg.strip(" .!,")
    ]
    negative = re.compile(r"^(?:no|nope|nah|never|none|not really|i don't|i do not)\b", re.I)
    # In the order asked, unless an answer is plainly about another part ("nobody smokes at home" is no drink).
    others = {"tobacco": ("alcohol",), "alcohol": ("tobacco",), "occupation": ("tobacco", "alcohol")}
    readers = {"tobacco": _tobacco, "alcohol": _alcohol}
    in_order = all(
        not any(readers[o](seg) for o in others.get(part, ()) if o in parts)
        for part, seg in zip(parts, segments, strict=False)
    )
    if len(segments) == len(parts) > 1 and all(len(x.split()) <= 5 for x in segments) and in_order:
        # One short answer per part, in the order asked.
        for part, seg in zip(parts, segments, strict=True):
            if getattr(facts, part) or DECLINE_RE.search(seg) or BARE_DECLINE.search(seg):
                continue
            if part == "occupation":
                if not negative.search(seg):
                    facts.occupation = re.sub(r"^(?:i'm|i am)\s+(?:an?\s+)?", "", seg, flags=re.I).lower()
            elif negative.search(seg):
                setattr(facts, part, "does not use tobacco" if part == "tobacco" else "does not drink alcohol")
            else:
                setattr(facts, part, ("smokes " if part == "tobacco" else "drinks ") + seg.lower())
            facts.mark("social", turn)
        return
    # "No." / "No, no, I'm a barber": the yes-or-no parts this message does not otherwise answer are a no.
    if (BARE_NONE.search(low) and len(low.split()) <= 4) or re.match(r"^(?:no|nope|nah|never)\b[,.!]", low):
        for part, value in (("tobacco", "does not use tobacco"), ("alcohol", "does not drink alcohol")):
            if part in parts and not getattr(facts, part):
                setattr(facts, part, value)
                facts.mark("social", turn)
    for s in segments:
        words = s.split()
        if not words or DECLINE_RE.search(s) or BARE_DECLINE.search(s):
            continue
        often = next((w for w in HOW_OFTEN if re.fullmatch(rf"(?:only\s+|just\s+)?{w}", s.lower())), "")
        if often and "alcohol" in parts and not facts.alcohol:
            facts.alcohol = f"drinks {often}"
            facts.mark("social", turn)
            continue
        if "occupation" not in parts or facts.occupation:
            continue
        job = re.match(
            r"^(?:i(?:'m| am)\s+(?:an?\s+)?|i work\s+(?:in\s+|as\s+(?:an?\s+)?)?|i do\s+|i run\s+|i own\s+)(.{3,40})$",
            s,
            re.I,
        )
        if job and not re.search(r"\b(?:smok\w*|drink\w*|alcohol|tired|sick|fine|ok|okay|not)\b", s, re.I):
            facts.occupation = (s if re.match(r"^i (?:run|own|do)\b", s, re.I) else job.group(1)).lower()
            facts.mark("social", turn)
        elif (
            len(words) <= 4
            and all(re.fullmatch(r"[A-Za-z][A-Za-z'-]*", w) for w in words)
            and not _NOT_A_JOB.search(s)
            and not any(r.search(s) for r in SYMPTOM_RE.values())
            and not DRUG_RE.search(s)
        ):
            facts.occupation = s.lower()
            facts.mark("social", turn)
        elif re.match(r"^i\s+[a-z]+\s+\w+", s, re.I) and not re.search(
            r"\b(?:smok\w*|drink\w*|alcohol|vap\w*|cig\w*|tobacco|beer|wine|take|taking|feel|think|have|had)\b", s, re.I
        ):
            facts.occupation = s.lower()  # "I clean houses": the work in the patient's words
            facts.mark("social", turn)


# What a clinician notes about the problem itself besides when it started: timing, course, what
# makes it better or worse, its character and the symptoms that come with it (the OPQRST words).
HPI_CUE_RE = re.compile(
    r"\b(?:worse|worsening|better|improv\w*|help(?:s|ed|ing)?|reliev\w*|eas(?:e|es|ed)|trigger\w*|"
    r"when i|whenever|after|before|at night|in the morning|mornings?|evenings?|nights?|comes and goes|on and off|"
    r"constant\w*|all the time|every day|daily|since|ago|started|began|start|lasts?|lasting|"
    r"sharp|dull|burn\w*|throb\w*|stabbing|aching|pressure|tight\w*|swell\w*|swollen|dry|wet|"
    r"mild|moderate|severe|bad|scale|out of|fever|chills|nausea|vomit\w*|dizz\w*|numb\w*|tingl\w*|"
    r"days?|weeks?|months?|years?|hours?|yesterday|today|tonight|morning|weekend|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)\b"
    r"|\d",
    re.I,
)
# Clauses that carry another topic's facts stay out of the history of the present illness.
_HPI_FOREIGN_RE = re.compile(r"@|\b(?:insurance|member|policy|allerg\w*|smok\w*|alcohol)\b", re.I)


def _hpi_foreign(clause: str) -> bool:
    if _HPI_FOREIGN_RE.search(clause) or DRUG_RE.search(clause) or _relations(clause):
        return True
    if _tobacco(clause) or _alcohol(clause) or _occupation(clause):
        return True
    return bool(DECLINE_RE.search(clause) or BARE_DECLINE.search(clause))


def _only_about_the_problem(text: str) -> bool:
    """A message that describes the problem (a symptom, a body part that hurts, how it goes) and
    states nothing else a clinician files elsewhere: no medicine, allergy, illness, relative, habit,
    job, contact or insurance detail, and no bare yes or no."""
    about = (
        any(r.search(text) for r in SYMPTOM_RE.values())
        or BODY_PAIN_RE.search(text)
        or INJURY_RE.search(text)
        or _onset(text)
        or SCORE_RE.search(text)
    )
    if not about or (not HPI_CUE_RE.search(text) and not SCORE_RE3.search(text)):
        return False
    if re.search(r"\b(?:tak(?:e|es|ing)|took|pills?|tablets?|dose|mg|prescri\w*|been on (?:it|them))\b", text, re.I):
        return False  # how long a medicine has been taken is no story of the problem
    return not (
        any(len(m.group(0)) > 2 for m in DRUG_RE.finditer(text))
        or drugs.find(text)
        or ALLERGEN_RE.search(text)
        or allergy_ctx(text)
        or _conditions(text)
        or _relations(text)
        or _tobacco(text)
        or _alcohol(text)
        or _occupation(text)
        or EMAIL_RE.search(text)
        or re.search(r"\d{3}[\s.-]?\d{4}|\b(?:insurance|member|policy)\b", text, re.I)
        or re.match(r"^\s*(?:yes|yeah|yep|no|nope|nah|none|correct)\b", text, re.I)
    )


def _hpi_notes(text: str, asked: list[str], facts: Facts, prior: Facts | None = None, turn: int = 0) -> list[str]:
    """The patient's own words about the problem. Answering the question about the problem (when it
    started, how bad), every clause of a message that says something about it counts; elsewhere only
    clauses that date it, score it or say how it goes, in a sentence about a symptom."""
    answering = bool({"onset", "severity"} & set(asked))
    clauses = [
        c.strip(" .!")
        for sentence in split_sentences(text)
        if not sentence.rstrip().endswith("?")
        for c in split_clauses(sentence)
        if c.strip(" .!")
    ]
    own = [c for c in clauses if not _hpi_foreign(c)]
    if "complaint" in asked and any(_onset(c) or SCORE_RE.search(c) for c in own):
        answering = True  # "Yesterday. Kitchen knife, left hand.": the reason, told with its story
    # The problem must be known from an earlier message: the message that names it is no more of its story.
    named_now = turn in facts.turns.get("chief_complaint", []) or "complaint" in asked
    known_problem = (prior.chief_complaint if prior else "") or ("" if named_now else facts.chief_complaint)
    if not answering and known_problem and own and _only_about_the_problem(text):
        answering = True  # more about the problem, told while another question was asked
    if answering:
        if not any(HPI_CUE_RE.search(c) or any(r.search(c) for r in SYMPTOM_RE.values()) for c in own):
            return []
        return own
    out = []
    for sentence in split_sentences(text):
        if sentence.rstrip().endswith("?"):
            continue
        about_problem = any(r.search(sentence) for r in SYMPTOM_RE.values()) or bool(BODY_PAIN_RE.search(sentence))
        if not (about_problem or "complaint" in asked):
            continue
        for c in split_clauses(sentence):
            c = c.strip(" .!")
            if c in own and (_onset(c) or SCORE_RE.search(c)):
                out.append(c)
    return out


def _family_pairs(relations: list[tuple[int, str]], conds: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """Who has what: a condition belongs to the relatives named before it since the previous
    condition ("my mom and my aunt both had diabetes", "brother has diabetes, mom had a heart
    attack"); told the other way round ("migraines run on my mom's side"), to the nearest one."""
    pairs: list[tuple[str, str]] = []
    for pos, cond in conds:
        previous = max((p for p, _ in conds if p < pos), default=-1)
        group = [r for p, r in relations if previous < p < pos]
        if not group:
            before = [r for p, r in relations if p < pos]
            group = [before[-1]] if before else [min(relations, key=lambda r: abs(r[0] - pos))[1]]
        pairs += [(r, cond) for r in dict.fromkeys(group)]
    return pairs


# Words around a past-history item that are not the item ("I had a", "just the", "too").
_LEAD_WORDS_RE = re.compile(
    r"^(?:and|also|plus|just|only|i|i've|i'm|i have|i had|i got|had|have|has|got|a|an|the|my|some|with|"
    r"past history is|he|she|he's|she's|he has|she has|he had|she had|his|her|they|their)\s+",
    re.I,
)
_TRAIL_WORDS_RE = re.compile(r"\s+(?:too|as well|also|i think|that's about it|that's it)$", re.I)
_REPORTED_RE = re.compile(
    r"\b(?:doctor|doc|they|he|she|someone)\s+(?:\w+\s+)?(?:said|says|told|tells|keeps|telling)\b", re.I
)
_FAMILY_VERB_RE = re.compile(
    r"\b(?:has|had|have|gets|got|get|suffers? from|suffered from|died of|died from|passed away from|"
    r"was diagnosed with|is|was)\s+(?:a\s+|an\s+|the\s+|some\s+)?(.+)$",
    re.I,
)


# An event of the patient's past told with when it happened ("broke my wrist when I was a kid",
# "pneumonia back in 2019"): kept whole even when it takes more words.
_PAST_EVENT_RE = re.compile(
    r"\b(?:(?:19|20)\d\d|when (?:i|he|she) was|as a (?:kid|child|baby|teen(?:ager)?)|years? ago|"
    r"broke|broken|fractured?|tore|torn|dislocated|diagnosed|hospitali[sz]ed|in (?:the )?hospital)\b",
    re.I,
)


_HEALTHY_RE = re.compile(r"^\W*(?:otherwise|generally|mostly|pretty)?\s*(?:healthy|fine|good|ok|okay)\W*$", re.I)


def _bare_item(segment: str) -> str:
    item = segment.strip(" .!,")
    for _ in range(4):
        item = _LEAD_WORDS_RE.sub("", item).strip()
    item = _TRAIL_WORDS_RE.sub("", item).strip(" .!,")
    return item


def _history_answers(text: str, asked: list[str], facts: Facts, turn: int) -> None:
    """Answers to the past-history and family-history questions that the vocabulary does not name,
    kept in the patient's words ("miscarriage in 2023", "my mom has back problems"); a condition
    said after a relative ("my mom had trouble getting pregnant, and diabetes") is that relative's."""
    family_mode = "family" in asked
    past_mode = "history" in asked and not family_mode
    if not (family_mode or past_mode) or BARE_NONE.search(text) or NO_HISTORY.search(text) or NO_FAMILY.search(text):
        return
    if BARE_DECLINE.search(text) or DECLINE_RE.search(text) or DECLINE_WANT_RE.search(text):
        return
    if re.match(r"^\s*(?:nothing|none|no)\s+(?:big|major|serious|much|significant|important|really)\b", text, re.I):
        setattr(facts, "no_family_history" if family_mode else "no_history", True)
        facts.mark("family" if family_mode else "history", turn)
        return
    last_rel = ""
    pending: list[str] = []  # "my mom and my aunt both had diabetes": relatives waiting for their condition
    for sentence in split_sentences(text):
        if sentence.rstrip().endswith("?"):
            continue
        for clause in split_clauses(sentence):
            rels = _relations(clause)
            conds = _conditions(clause)
            if family_mode and rels:
                last_rel = rels[-1][1]
                for rel in pending:
                    for _, cond in _conditions(clause, lay=True):
                        if not any(f.relation == rel and f.condition == cond for f in facts.family):
                            facts.family.append(Family(relation=rel, condition=cond, turn=turn))
                if not conds:
                    m = _FAMILY_VERB_RE.search(clause)
                    if not m:
                        pending += [r for _, r in rels]
                        continue
                    words = _bare_item(m.group(1))
                    rels = [(0, r) for r in pending] + rels
                    if words and len(words.split()) <= 8:
                        group = [r for _, r in rels]
                        for rel in dict.fromkeys(group):
                            if not any(f.relation == rel and f.condition == words for f in facts.family):
                                facts.family.append(Family(relation=rel, condition=words, turn=turn))
                        facts.mark("family", turn)
                continue
            if family_mode and conds and last_rel:
                for (_, own), (_, cond) in zip(conds, _conditions(clause, lay=True), strict=True):
                    if own in facts.conditions:
                        facts.conditions.remove(own)
                    if not any(f.relation == last_rel and f.condition == cond for f in facts.family):
                        facts.family.append(Family(relation=last_rel, condition=cond, turn=turn))
                facts.mark("family", turn)
                continue
            pending = []
            if not past_mode or rels or facts.tobacco or facts.alcohol or facts.occupation:
                continue  # a message about habits or work is not a list of illnesses
            for segment in re.split(r",\s*|\s+and\s+", clause):
                if re.search(r"\ballergic to\b", segment, re.I) or ALLERGEN_RE.search(segment):
                    continue  # an allergen ("wheat and cats") is not a past illness
                if _conditions(segment):
                    for _, cond in _conditions(segment):
                        if cond not in facts.conditions:
                            facts.conditions.append(cond)
                            facts.mark("history", turn)
                    continue
                if (
                    not segment.strip()
                    or SURGERY_RE.search(segment)
                    or AFFIRM.search(segment)
                    or DENY.search(segment)
                    or _REPORTED_RE.search(segment)
                    or re.search(r"^\W*(?:that's|that is|thats|nothing|none)\b", segment, re.I)
                    or _HEALTHY_RE.search(segment)
                    or re.search(r"\b(?:told you|everything|that's all|forgot|mention\w*|to say)\b", segment, re.I)
                    or DRUG_RE.search(segment)
                    or _tobacco(segment)
                    or _alcohol(segment)
                    or _occupation(segment)
                    or re.search(r"@|\b(?:insurance|member|policy)\b", segment, re.I)
                ):
                    continue
                item = _bare_item(segment)
                if (
                    item
                    and len(item.split()) <= (12 if _PAST_EVENT_RE.search(item) else 6)
                    and re.search(r"[a-z]{3}", item, re.I)
                    and item not in facts.conditions
                ):
                    facts.conditions.append(item)
                    facts.mark("history", turn)


def _read_meds(text: str, facts: Facts, turn: int, asked: list[str]) -> None:
    """The medicines the message names (see `meds`), merged into `facts` by ingredient."""
    for fact in meds.read(text, about_meds="medications" in asked, about_allergies="allergies" in asked):
        if fact.allergen:
            continue  # "allergic to penicillin" names an allergen (read by `_allergies`)
        med = Med(name=fact.name, dose=fact.dose, frequency=fact.frequency, stopped=bool(fact.status), turn=turn)
        old = next((m for m in facts.medications if meds.same(m.name, med.name)), None)
        if old:
            old.dose = med.dose or old.dose
            old.frequency = med.frequency or old.frequency
            old.stopped = med.stopped
            old.turn = turn
        else:
            facts.medications.append(med)
        facts.no_medications = False
        facts.mark("medications", turn)


# People whose allergies a patient may mention besides family relations ("my husband has a shellfish
# allergy", "my roommate is allergic to cats").
OTHER_PERSON_RE = re.compile(
    r"\b(?:my|his|her|our)\s+(?:husband|wife|partner|spouse|boyfriend|girlfriend|fianc[eé]e?|roommate|friend"
    r"|kids?|child|children|baby|boss|coworker|co-worker)\b",
    re.I,
)


def _read_clause(clause: str, sentence: str, facts: Facts, turn: int, allergy_sentence: bool = False) -> None:
    relations = _relations(clause)
    aclause = meds.without_indications(clause)  # "claritin for my allergies" names no allergen
    allergy_clause = allergy_ctx(aclause) and not NO_ALLERGY.search(clause)
    # ConText's experiencer: "my sister has a peanut allergy" is the sister's, not the patient's
    # ("I'm allergic to penicillin, like my mom" is the patient's).
    first_allergen = min(
        [m.start() for m in ALLERGEN_RE.finditer(clause)] + [h.start for h in drugs.find(clause)] + [len(clause)]
    )
    others = sorted([*(p for p, _ in relations), *(m.start() for m in OTHER_PERSON_RE.finditer(clause))])
    someone_else = (
        bool(others)
        and others[0] < first_allergen
        and not re.search(r"\b(?:i|i'm|im|me|i've)\b", clause[: others[0]], re.I)
    )
    for a in _allergies(aclause, force=allergy_sentence) if not NO_ALLERGY.search(clause) and not someone_else else []:
        a.turn = turn
        # One allergen told twice ("I'm lactose intolerant, milk wrecks my stomach") is one entry: the
        # fuller name and every reaction told.
        old = next(
            (x for x in facts.allergies if x.substance == a.substance or same_allergen(x.substance, a.substance)), None
        )
        if old is not None:
            a.substance = max(old.substance, a.substance, key=len)
            a.reaction = ", ".join(dict.fromkeys(r for r in (old.reaction, a.reaction) if r))
        facts.allergies = [x for x in facts.allergies if x is not old] + [a]
        facts.no_allergies = False
        facts.mark("allergies", turn)
    conds = _conditions(clause)
    if relations and conds and not re.search(r"\b(?:i|i'm|i've|me)\b", clause[: relations[0][0]], re.I):
        for rel, cond in _family_pairs(relations, _conditions(clause, lay=True)):
            if not any(f.relation == rel and f.condition == cond for f in facts.family):
                facts.family.append(Family(relation=rel, condition=cond, turn=turn))
        facts.mark("family", turn)
    elif not relations:
        if conds and not allergy_clause:
            for _, cond in conds:
                if cond not in facts.conditions:
                    facts.conditions.append(cond)
            facts.mark("history", turn)
        for m in SURGERY_RE.finditer(clause):
            s = m.group(0).lower()
            if s not in facts.surgeries and not _negated(clause, m.start()):
                facts.surgeries.append(s)
                facts.mark("history", turn)
    if not relations:
        found = []
        for canon, rx in SYMPTOM_RE.items():
            m = rx.search(clause)
            if m and not _negated(clause, m.start()) and not allergy_clause and not allergy_sentence:
                found.append(canon)
        for m in BODY_PAIN_RE.finditer(clause):
            part = {"feet": "foot", "teeth": "tooth", "knees": "knee", "hips": "hip", "legs": "leg", "eyes": "eye"}.get(
                m.group(1).lower(), m.group(1).lower()
            )
            name = {"head": "headache", "stomach": "abdominal pain", "belly": "abdominal pain"}.get(
                part, f"{part} pain"
            )
            if not _negated(clause, m.start()) and name not in found:
                found.append(name)
        for s in found:
            if s not in facts.symptoms:
                facts.symptoms.append(s)
                facts.mark("symptoms", turn)
        if found and not facts.chief_complaint:
            facts.chief_complaint = _chief(sentence)
            facts.mark("chief_complaint", turn)
    tob = _tobacco(clause)
    if tob.startswith(("current smoker", "vapes")) and (
        re.search(r"\b(?:quit|stopped|gave (?:it )?up|used to|no longer|not anymore)\b", sentence, re.I)
        or (re.search(r"\bsmoked\b", clause, re.I) and not re.search(r"\bsmok(?:e|es|ing)\b", clause, re.I))
    ):
        tob = "former smoker"
    if tob:
        facts.tobacco = tob
        facts.mark("social", turn)
    alc = _alcohol(clause)
    if alc:
        facts.alcohol = alc
        facts.mark("social", turn)
    occ = _occupation(clause)
    if occ:
        # "he's retired, he used to be a mechanic": a retired mechanic
        status = ("retired", "unemployed", "on disability", "disabled")
        if occ.startswith("former ") and facts.occupation in status:
            occ, prior_occ = facts.occupation, occ
        else:
            prior_occ = facts.occupation if occ in status and facts.occupation.startswith("former ") else ""
        if prior_occ:
            job = prior_occ.removeprefix("former ")
            occ = f"retired {job}" if occ == "retired" else f"{occ} (former {job})"
        facts.occupation = occ
        facts.mark("social", turn)


# --- conversation ----------------------------------------------------------------------------


def step_text(step: dict[str, Any]) -> str:
    parts = []
    for c in step.get("content") or []:
        if isinstance(c, dict) and c.get("type") == "text":
            parts.append(str(c.get("text", "")))
        elif isinstance(c, dict) and c.get("_text"):
            parts.append(str(c["_text"]))  # text the emulator read out of an attached document
    return "\n".join(parts)


def user_messages(steps: list[dict[str, Any]]) -> list[tuple[int, str, list[str]]]:
    """(turn number, text, topics the model asked about just before) for each user text."""
    out = []
    asked: list[str] = []
    n = 0
    for step in steps:
        kind = step.get("type")
        if kind == "model_output":
            q = step_text(step)
            # The last question the model asked decides how a bare answer is read.
            sentences = split_sentences(q)
            qs = [s for s in sentences if s.endswith("?")]
            before = asked
            asked = topics_of(qs[-1]) if qs else []
            if qs and not asked:
                # "Is that still correct?" after a read-back: about what the read-back named, else
                # still about what was asked before ("Your record lists obesity. Is that still correct?")
                i = sentences.index(qs[-1])
                asked = (topics_of(sentences[i - 1]) if i else []) or before
        elif kind == "user_input":
            text = step_text(step)
            if not text.strip():
                continue
            labelled = list(TURN_LABEL_RE.finditer(text))
            if labelled:  # a transcript with its own turn numbers
                for i, m in enumerate(labelled):
                    end = labelled[i + 1].start() if i + 1 < len(labelled) else len(text)
                    out.append((int(m.group(1) or m.group(2)), text[m.end() : end].strip(), asked))
                continue
            n += 1
            out.append((n, text, asked))
    return out


def model_text_before(steps: list[dict[str, Any]]) -> list[str]:
    """For each user message (as numbered by `user_messages`), the model's text just before it."""
    out: list[str] = []
    last = ""
    for step in steps:
        if step.get("type") == "model_output":
            last = step_text(step)
        elif step.get("type") == "user_input":
            text = step_text(step)
            if not text.strip():
                continue
            labelled = list(TURN_LABEL_RE.finditer(text))
            out.extend([last] * (len(labelled) or 1))
    return out


def read_conversation_split(steps: list[dict[str, Any]]) -> tuple[Facts, Facts]:
    """(what the messages before the latest established, what all of them did) in one reading."""
    facts = Facts()
    before = facts
    msgs = user_messages(steps)
    contexts = model_text_before(steps)
    for i, (turn, text, asked) in enumerate(msgs):
        if i == len(msgs) - 1:
            before = copy.deepcopy(facts)
        read_message(text, facts, turn, asked, context=contexts[i] if i < len(contexts) else "")
    facts.user_turns = len(msgs)
    return before, facts


def read_conversation(steps: list[dict[str, Any]]) -> Facts:
    return read_conversation_split(steps)[1]
