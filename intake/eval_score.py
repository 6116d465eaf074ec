"""Scenario cards and their scores: what a clinician would record vs what the intake produced.

Pure code: no ORM, no HTTP. `intake.evaluation` drives the cards through the API and calls these.

A card (JSON, `evals/cards/*.json`, described in docs/benchmarks/quality.md) is a patient's truth
plus the messages they send. Text facts are written as *term lists*: every term must appear in
the summary's field (case-insensitive, punctuation ignored), and a term may list alternatives
with "|" ("stomach|belly|abdominal"). Drugs and allergens are compared with the same rules as the
chart reconciliation (`patients.reconcile`): by ingredient and allergen, not by string.

Scoring decisions:
- Medication F1 counts a medication as found only when its status is right too ("stopped" and
  "not_taking" both mean "not taking it" and count as the same). F1 by name alone is reported
  beside it, to tell a missed drug from a wrong status.
- Allergy F1 counts an allergy as found only when its reaction terms (if the card gives any)
  appear in the summary's reaction.
- Overall figures are micro-averaged: the counts of every card are added, then divided.
- A card whose intake never produced a summary scores as an empty summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.schemas import RecordTopic
from patients.reconcile import parse_dose, same_allergen, same_drug

# The record's topic keys (one definition: the `record_answers` contract), plus "review".
Topic = RecordTopic | Literal["review"]
Terms = list[str]  # every term must appear; "a|b" is a choice
_NOT_TAKING = {"stopped", "not_taking"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardPatient(_Strict):
    """A patient with a chart (`chart`: the chart patient's name) or a new one, without a chart."""

    chart: str = ""
    given_name: str = ""
    family_name: str = ""
    birth_date: date | None = None
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    phone: str = ""
    email: str = ""

    @model_validator(mode="after")
    def _chart_or_identity(self) -> CardPatient:
        if not self.chart and not (self.given_name and self.family_name and self.birth_date):
            raise ValueError("a patient needs `chart` or given_name, family_name and birth_date")
        return self


class CardMessage(_Strict):
    text: str = Field(min_length=1)
    topics: list[Topic] = Field(default_factory=list, description="What this message answers, for re-asks")


class TruthMedication(_Strict):
    name: str
    status: Literal["confirmed", "new", "changed", "stopped", "not_taking"]
    dose: str = ""


class TruthAllergy(_Strict):
    substance: str
    reaction: Terms = Field(default_factory=list)
    status: Literal["confirmed", "new", "resolved", "denied"] | None = None


class TruthSocial(_Strict):
    tobacco: Terms = Field(default_factory=list)
    alcohol: Terms = Field(default_factory=list)
    occupation: Terms = Field(default_factory=list)


class TruthContact(_Strict):
    phone: str = ""
    email: str = ""


class TruthInsurance(_Strict):
    payer: Terms = Field(default_factory=list)
    member_id: str = ""


class CardTruth(_Strict):
    """What a clinician would record from this conversation."""

    chief_complaint: Terms
    history_of_present_illness: list[Terms] = Field(default_factory=list)
    medications: list[TruthMedication] = Field(default_factory=list)
    allergies: list[TruthAllergy] = Field(default_factory=list)
    past_history: list[Terms] = Field(default_factory=list)
    family_history: list[Terms] = Field(default_factory=list)
    social_history: TruthSocial = Field(default_factory=TruthSocial)
    contact: TruthContact = Field(default_factory=TruthContact)
    insurance: TruthInsurance = Field(default_factory=TruthInsurance)
    declined: list[Topic] = Field(default_factory=list)
    urgency: Literal["routine", "urgent", "emergent"] = "routine"


class Card(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    about: str = Field(description="What this card exercises, one line")
    patient: CardPatient
    messages: list[CardMessage] = Field(min_length=1)
    review: list[str] = Field(default_factory=lambda: ["Yes, that's all correct."], min_length=1)
    truth: CardTruth

    @field_validator("messages", mode="before")
    @classmethod
    def _plain_strings(cls, value: Any) -> Any:
        # A message without topics may be written as a plain string.
        return [{"text": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value


# --- Text matching ------------------------------------------------------------------------------


def _norm(text: Any) -> str:
    if isinstance(text, list | tuple):
        text = " ; ".join(_norm(t) for t in text)
    elif isinstance(text, dict):
        text = " ; ".join(_norm(v) for v in text.values())
    return " " + " ".join(re.sub(r"[^a-z0-9@.+]+", " ", str(text or "").lower()).split()) + " "


def terms_found(terms: Sequence[str], text: Any) -> bool:
    """Every term (each a "|"-separated choice) appears in `text` (a string, list or dict)."""
    haystack = _norm(text)
    return all(any(_norm(choice).strip() in haystack for choice in term.split("|")) for term in terms)


def _digits(text: str) -> str:
    digits = re.sub(r"\D", "", text or "")
    return digits[-10:]  # "+1 (415) 555-0139" and "4155550139" are one number


# --- F1 -----------------------------------------------------------------------------------------


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def f1(self) -> float:
        # Nothing expected and nothing produced is a perfect score, not a division by zero.
        denominator = 2 * self.tp + self.fp + self.fn
        return 1.0 if denominator == 0 else 2 * self.tp / denominator


def _pair(truth: Sequence[Any], produced: Sequence[dict[str, Any]], same: Any) -> list[tuple[int, int]]:
    """One-to-one matches (truth index, produced index), in card order, first fit."""
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for i, item in enumerate(truth):
        for j, got in enumerate(produced):
            if j not in used and same(item, got):
                used.add(j)
                pairs.append((i, j))
                break
    return pairs


def _status_ok(expected: str, got: str) -> bool:
    return expected == got or (expected in _NOT_TAKING and got in _NOT_TAKING)


@dataclass
class MedicationScore:
    strict: Counts  # name and status right
    by_name: Counts
    status_right: int  # among the name matches
    dose_checked: int = 0
    dose_right: int = 0
    problems: list[str] = field(default_factory=list)


def medications_score(truth: Sequence[TruthMedication], produced: Sequence[dict[str, Any]]) -> MedicationScore:
    pairs = _pair(truth, produced, lambda t, g: same_drug(t.name, str(g.get("name", ""))))
    status_right, problems = 0, []
    dose_checked = dose_right = 0
    for i, j in pairs:
        expected, got = truth[i], produced[j]
        if _status_ok(expected.status, str(got.get("status", ""))):
            status_right += 1
        else:
            problems.append(f"{expected.name}: status {got.get('status')!r}, expected {expected.status!r}")
        if expected.dose:
            dose_checked += 1
            ours = parse_dose(f"{got.get('dose', '')} {got.get('name', '')}")
            if ours == parse_dose(expected.dose):
                dose_right += 1
            else:
                problems.append(f"{expected.name}: dose {got.get('dose')!r}, expected {expected.dose!r}")
    matched_truth, matched_got = {i for i, _ in pairs}, {j for _, j in pairs}
    problems += [f"missed medication {t.name!r}" for i, t in enumerate(truth) if i not in matched_truth]
    problems += [f"extra medication {g.get('name')!r}" for j, g in enumerate(produced) if j not in matched_got]
    by_name = Counts(len(pairs), len(produced) - len(pairs), len(truth) - len(pairs))
    strict = Counts(status_right, len(produced) - status_right, len(truth) - status_right)
    return MedicationScore(strict, by_name, status_right, dose_checked, dose_right, problems)


@dataclass
class AllergyScore:
    strict: Counts  # substance, and reaction where the card gives one
    by_substance: Counts
    problems: list[str] = field(default_factory=list)


def allergies_score(truth: Sequence[TruthAllergy], produced: Sequence[dict[str, Any]]) -> AllergyScore:
    pairs = _pair(truth, produced, lambda t, g: same_allergen(t.substance, str(g.get("substance", ""))))
    right, problems = 0, []
    for i, j in pairs:
        expected, got = truth[i], produced[j]
        reaction_ok = terms_found(expected.reaction, got.get("reaction", ""))
        status_ok = expected.status is None or expected.status == got.get("status")
        if reaction_ok and status_ok:
            right += 1
        elif not reaction_ok:
            problems.append(f"{expected.substance}: reaction {got.get('reaction')!r}, expected {expected.reaction}")
        else:
            problems.append(f"{expected.substance}: status {got.get('status')!r}, expected {expected.status!r}")
    matched_truth, matched_got = {i for i, _ in pairs}, {j for _, j in pairs}
    problems += [f"missed allergy {t.substance!r}" for i, t in enumerate(truth) if i not in matched_truth]
    problems += [f"extra allergy {g.get('substance')!r}" for j, g in enumerate(produced) if j not in matched_got]
    by_substance = Counts(len(pairs), len(produced) - len(pairs), len(truth) - len(pairs))
    return AllergyScore(Counts(right, len(produced) - right, len(truth) - right), by_substance, problems)


# --- History completeness -----------------------------------------------------------------------


def _social(summary: dict[str, Any], key: str) -> Any:
    return (summary.get("social_history") or {}).get(key, "")


def history_items(truth: CardTruth, summary: dict[str, Any]) -> list[tuple[str, bool]]:
    """(label, found) for every fact a complete intake records besides medications and allergies."""
    items: list[tuple[str, bool]] = []
    for terms in truth.history_of_present_illness:
        items.append((f"hpi {terms}", terms_found(terms, summary.get("history_of_present_illness", ""))))
    for terms in truth.past_history:
        items.append((f"past history {terms}", terms_found(terms, summary.get("past_history", []))))
    for terms in truth.family_history:
        items.append((f"family history {terms}", terms_found(terms, summary.get("family_history", []))))
    for key in ("tobacco", "alcohol", "occupation"):
        terms = getattr(truth.social_history, key)
        if terms:
            items.append((f"{key} {terms}", terms_found(terms, _social(summary, key))))
    contact = summary.get("contact") or {}
    if not isinstance(contact, dict):  # one text field: look for each value in it
        contact = {"phone": contact, "email": contact}
    if truth.contact.phone:
        phone = _digits(truth.contact.phone)
        items.append(("phone", phone in re.sub(r"\D", "", str(contact.get("phone", "")))))
    if truth.contact.email:
        emails = re.findall(r"[\w.+-]+@[\w.-]+\w", str(contact.get("email", "")).lower())
        items.append(("email", truth.contact.email.lower() in emails))
    insurance = summary.get("insurance") or {}
    if truth.insurance.payer:
        items.append((f"payer {truth.insurance.payer}", terms_found(truth.insurance.payer, insurance.get("payer"))))
    if truth.insurance.member_id:
        got = re.sub(r"[^A-Z0-9]", "", str(insurance.get("member_id", "")).upper())
        items.append(("member id", got == re.sub(r"[^A-Z0-9]", "", truth.insurance.member_id.upper())))
    return items


# --- Declines -----------------------------------------------------------------------------------

# Where each declinable topic shows in the summary.
_TOPIC_FIELD: dict[str, tuple[str, ...]] = {
    "name": ("patient_name",),
    "date_of_birth": ("date_of_birth",),
    "phone": ("contact", "phone"),
    "email": ("contact", "email"),
    "insurance": ("insurance",),
    "chief_complaint": ("chief_complaint",),
    "history_of_present_illness": ("history_of_present_illness",),
    "medications": ("medications",),
    "allergies": ("allergies",),
    "past_history": ("past_history",),
    "family_history": ("family_history",),
    "tobacco": ("social_history", "tobacco"),
    "alcohol": ("social_history", "alcohol"),
    "occupation": ("social_history", "occupation"),
}
_NONE_WORDS = re.compile(r"\b(?:none|no|nil|denies|denied|never|n/?a|nothing|nkda|nka)\b")


def _field(summary: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = summary
    for key in path:
        value = value.get(key, "") if isinstance(value, dict) else ""
    return value


def _declined_lists(summary: dict[str, Any]) -> set[str]:
    """Topic keys the summary marks as declined, wherever it keeps them (a `declined` list)."""
    found: set[str] = set()
    for key in ("declined", "declined_topics"):
        value = summary.get(key)
        if isinstance(value, list):
            found.update(str(v).lower() for v in value)
        elif isinstance(value, dict):
            found.update(str(k).lower() for k, v in value.items() if v)
    return found


def decline_outcome(topic: str, summary: dict[str, Any]) -> Literal["recorded", "shown_as_none", "missing"]:
    """Recorded: marked declined. Shown as none: an empty or "none" field, which a clinician reads
    as "the patient has none" (the error the issue names). Missing: anything else."""
    path = _TOPIC_FIELD.get(topic, (topic,))
    value = _field(summary, path)
    if topic in _declined_lists(summary) or path[0] in _declined_lists(summary) or "declin" in _norm(value):
        return "recorded"
    text = _norm(value).strip()
    if not text or _NONE_WORDS.search(text) or value in ([], {}):
        return "shown_as_none"
    return "missing"


# --- Re-asks ------------------------------------------------------------------------------------

# A step title (the API's `step_title`) names what the assistant asks next.
_TITLE_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("about you|identity|your name|who", ("name", "date_of_birth")),
    ("contact|phone|email", ("phone", "email")),
    ("insurance|coverage", ("insurance",)),
    ("reason", ("chief_complaint",)),
    ("symptom|illness", ("history_of_present_illness",)),
    ("medic", ("medications",)),
    ("allerg", ("allergies",)),
    ("past", ("past_history",)),
    ("family", ("family_history",)),
    ("lifestyle|social|habit", ("tobacco", "alcohol", "occupation")),
)


def title_topics(step_title: str) -> tuple[str, ...]:
    title = (step_title or "").lower()
    for pattern, topics in _TITLE_TOPICS:
        if re.search(pattern, title):
            return topics
    return ()


def reasks(asked_titles: Sequence[str], covered_before: Sequence[set[str]]) -> list[str]:
    """Titles asked although the patient had already answered all of their topics.

    `asked_titles[i]` is the step the app asks after patient message i; `covered_before[i]` the
    topics the patient had answered before message i (so a follow-up to the answer just given is
    not a re-ask, and asking again once the patient has moved on is).
    """
    out: list[str] = []
    for title, covered in zip(asked_titles, covered_before, strict=True):
        topics = title_topics(title)
        if topics and set(topics) <= covered:
            out.append(title)
    return out


# --- One card -----------------------------------------------------------------------------------


@dataclass
class CardScore:
    card_id: str
    completed: bool
    medications: MedicationScore
    allergies: AllergyScore
    chief_complaint: bool
    history: list[tuple[str, bool]]
    declines: dict[str, str]
    reasked: list[str]
    urgency_expected: str
    urgency_got: str
    turns: int
    tokens: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def completeness(self) -> float:
        return 1.0 if not self.history else sum(found for _, found in self.history) / len(self.history)


def card_score(
    card: Card,
    summary: dict[str, Any] | None,
    *,
    asked_titles: Sequence[str] = (),
    covered_before: Sequence[set[str]] = (),
    turns: int = 0,
    tokens: dict[str, Any] | None = None,
) -> CardScore:
    """Score one intake's summary (None if it produced none) against the card's truth."""
    data = summary or {}
    truth = card.truth
    meds = medications_score(truth.medications, list(data.get("medications") or []))
    allergies = allergies_score(truth.allergies, list(data.get("allergies") or []))
    history = history_items(truth, data)
    # No summary shows nothing at all: its declines are missing, not shown as "none".
    declines = {t: decline_outcome(t, data) if summary is not None else "missing" for t in truth.declined}
    problems = [*meds.problems, *allergies.problems]
    problems += [f"missing {label}" for label, found in history if not found]
    problems += [
        f"decline of {t} {outcome.replace('_', ' ')}" for t, outcome in declines.items() if outcome != "recorded"
    ]
    chief = terms_found(truth.chief_complaint, data.get("chief_complaint", ""))
    if not chief:
        problems.append(f"chief complaint {data.get('chief_complaint', '')!r}, expected {truth.chief_complaint}")
    if summary is None:
        problems.insert(0, "no summary")
    return CardScore(
        card_id=card.id,
        completed=summary is not None,
        medications=meds,
        allergies=allergies,
        chief_complaint=chief,
        history=history,
        declines=declines,
        reasked=reasks(asked_titles, covered_before) if asked_titles else [],
        urgency_expected=truth.urgency,
        urgency_got=str(data.get("urgency_level", "")),
        turns=turns,
        tokens=tokens or {},
        problems=problems,
    )


# --- Overall ------------------------------------------------------------------------------------


def _sum(counts: Iterable[Counts]) -> Counts:
    total = Counts()
    for c in counts:
        total = total + c
    return total


def overall(scores: Sequence[CardScore]) -> dict[str, Any]:
    """The figures over all cards, micro-averaged (counts added, then divided)."""
    n = len(scores) or 1
    history = [found for s in scores for _, found in s.history]
    declines = [o for s in scores for o in s.declines.values()]
    meds_matched = sum(s.medications.by_name.tp for s in scores)
    cost = [float(s.tokens.get("cost_usd", 0.0)) for s in scores]
    tokens = [int(s.tokens.get("input_tokens", 0)) + int(s.tokens.get("output_tokens", 0)) for s in scores]
    return {
        "cards": len(scores),
        "completed": sum(s.completed for s in scores),
        "medication_f1": _sum(s.medications.strict for s in scores).f1,
        "medication_f1_by_name": _sum(s.medications.by_name for s in scores).f1,
        "medication_status_accuracy": (sum(s.medications.status_right for s in scores) / meds_matched)
        if meds_matched
        else 1.0,
        "allergy_f1": _sum(s.allergies.strict for s in scores).f1,
        "allergy_f1_by_substance": _sum(s.allergies.by_substance for s in scores).f1,
        "chief_complaint_captured": sum(s.chief_complaint for s in scores) / n,
        "history_completeness": (sum(history) / len(history)) if history else 1.0,
        "declines": len(declines),
        "declines_recorded": declines.count("recorded"),
        "declines_shown_as_none": declines.count("shown_as_none"),
        "reasks": sum(len(s.reasked) for s in scores),
        "urgency_right": sum(s.urgency_expected == s.urgency_got for s in scores) / n,
        "turns_per_intake": sum(s.turns for s in scores) / n,
        "tokens_per_intake": sum(tokens) / n,
        "cost_usd_per_intake": sum(cost) / n,
    }
