"""The live intake record: what the intake has understood so far. Pure code: no ORM, no SDK.

One document per intake, validated by `IntakeRecordSchema`. The model reports the facts of each
patient message through `record_answers` (`RecordAnswersArgs`); `record_apply` merges them in and
says what it accepted and rejected. Every fact keeps the patient turn numbers it came from (1 = the
first patient message) and a state:
- "" : nothing yet;   "value": the patient answered;   "none": they have none (no allergies);
- "declined": they chose not to answer (shown as declined, never as none);
- "not_obtained": two answers left it empty.
A correction replaces the value; earlier values stay in the record's stored versions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from agents.schemas import RECORD_TOPICS, PatientSummarySchema, RecordAnswersArgs, Urgency
from intake.redflags import max_urgency
from patients.fact_states import (
    DECLINED_TEXT,
    NONE_TEXT,
    NOT_ASKED_TEXT,
    NOT_OBTAINED_TEXT,
    PATIENT_STATE_TEXT,
    STATE_TEXT,
)
from patients.reconcile import class_of, same_allergen_named, same_drug_or_class

FactState = Literal["", "value", "none", "declined", "not_obtained"]
SETTLED: frozenset[str] = frozenset({"value", "none", "declined", "not_obtained"})

TEXT_TOPICS = (
    "name",
    "date_of_birth",
    "phone",
    "email",
    "chief_complaint",
    "history_of_present_illness",
    "tobacco",
    "alcohol",
    "occupation",
)
LIST_TOPICS = ("past_history", "family_history")


class _Fact(BaseModel):
    state: FactState = ""
    turns: list[int] = Field(default_factory=list)


class TextFact(_Fact):
    value: str = ""


class InsuranceFact(_Fact):
    payer: str = ""
    member_id: str = ""


class MedicationItem(BaseModel):
    name: str
    dose: str = ""
    frequency: str = ""
    taking: bool = True
    turns: list[int] = Field(default_factory=list)


class AllergyItem(BaseModel):
    substance: str
    reaction: str = ""
    turns: list[int] = Field(default_factory=list)


class HistoryItem(BaseModel):
    text: str
    turns: list[int] = Field(default_factory=list)


class MedicationsFact(_Fact):
    items: list[MedicationItem] = Field(default_factory=list)


class AllergiesFact(_Fact):
    items: list[AllergyItem] = Field(default_factory=list)


class HistoryFact(_Fact):
    items: list[HistoryItem] = Field(default_factory=list)


class IntakeRecordSchema(BaseModel):
    """The intake record's document. Field names match `RecordAnswersArgs` topics."""

    name: TextFact = Field(default_factory=TextFact)
    date_of_birth: TextFact = Field(default_factory=TextFact)
    phone: TextFact = Field(default_factory=TextFact)
    email: TextFact = Field(default_factory=TextFact)
    insurance: InsuranceFact = Field(default_factory=InsuranceFact)
    chief_complaint: TextFact = Field(default_factory=TextFact)
    history_of_present_illness: TextFact = Field(default_factory=TextFact)
    medications: MedicationsFact = Field(default_factory=MedicationsFact)
    allergies: AllergiesFact = Field(default_factory=AllergiesFact)
    past_history: HistoryFact = Field(default_factory=HistoryFact)
    family_history: HistoryFact = Field(default_factory=HistoryFact)
    tobacco: TextFact = Field(default_factory=TextFact)
    alcohol: TextFact = Field(default_factory=TextFact)
    occupation: TextFact = Field(default_factory=TextFact)
    urgency: Urgency = "routine"
    warning_signs: list[str] = Field(default_factory=list)
    review_confirmed: bool = False
    # Patient answers per plan step that left the step open (two make it "not obtained").
    attempts: dict[str, int] = Field(default_factory=dict)
    # The last step instruction the model was given, so the app knows when to repeat it.
    told: str = ""

    def fact(self, topic: str) -> _Fact:
        return getattr(self, topic)

    def state(self, topic: str) -> str:
        return self.fact(topic).state


class ApplyResult(BaseModel):
    record: IntakeRecordSchema
    accepted: list[str] = Field(default_factory=list)
    rejected: dict[str, str] = Field(default_factory=dict)


def _key(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").split())


def _same_drug(a: str, b: str) -> bool:
    # One medicine however it is named ("Zyrtec" and "cetirizine", "chlorpheniramine maleate" and
    # "chlorpheniramine"): the ingredient match the chart reconciliation uses.
    # A class name and then the drug ("my inhaler", later "albuterol inhaler") are one medicine too.
    ka, kb = _key(a), _key(b)
    return ka == kb or same_drug_or_class(a, b)


def _add_turn(turns: list[int], turn: int) -> list[int]:
    return turns if turn in turns else [*turns, turn]


def _set_value(fact: _Fact, turn: int) -> None:
    fact.state = "value"
    fact.turns = _add_turn(fact.turns, turn)


def record_apply(record: IntakeRecordSchema, args: RecordAnswersArgs, *, turn: int) -> ApplyResult:
    """Merge one `record_answers` call into a copy of `record`; the original is not changed."""
    rec = record.model_copy(deep=True)
    accepted: list[str] = []
    rejected: dict[str, str] = {}

    for topic in TEXT_TOPICS:
        value = getattr(args, topic)
        if value is None:
            continue
        fact = rec.fact(topic)
        assert isinstance(fact, TextFact)
        fact.value = _merged_text(topic, fact, value)
        _set_value(fact, turn)
        accepted.append(topic)

    if args.insurance is not None:
        if args.insurance.payer or args.insurance.member_id:
            rec.insurance.payer = args.insurance.payer or rec.insurance.payer
            rec.insurance.member_id = args.insurance.member_id or rec.insurance.member_id
            _set_value(rec.insurance, turn)
            accepted.append("insurance")
        else:
            rejected["insurance"] = "give payer or member_id"

    if args.medications:
        for med in args.medications:
            item = next((m for m in rec.medications.items if _same_drug(m.name, med.name)), None)
            if item is None:
                item = MedicationItem(name=med.name)
                rec.medications.items.append(item)
            elif class_of(item.name) and not class_of(med.name):
                item.name = med.name  # the drug's own name replaces the class it was first called by
            elif not class_of(med.name):
                item.name = med.name if len(med.name) >= len(item.name) else item.name
            item.dose = med.dose or item.dose
            item.frequency = med.frequency or item.frequency
            item.taking = med.taking
            item.turns = _add_turn(item.turns, turn)
        _set_value(rec.medications, turn)
        accepted.append("medications")

    if args.allergies:
        for allergy in args.allergies:
            # One allergen however it is named again ("bee stings", later "bees"): the fuller name stays.
            found = next(
                (
                    a
                    for a in rec.allergies.items
                    if _key(a.substance) == _key(allergy.substance)
                    or same_allergen_named(a.substance, allergy.substance)
                ),
                None,
            )
            if found is None:
                found = AllergyItem(substance=allergy.substance)
                rec.allergies.items.append(found)
            elif len(allergy.substance) > len(found.substance):
                found.substance = allergy.substance
            found.reaction = allergy.reaction or found.reaction
            found.turns = _add_turn(found.turns, turn)
        _set_value(rec.allergies, turn)
        accepted.append("allergies")

    for topic in LIST_TOPICS:
        values = getattr(args, topic)
        if not values:
            continue
        fact = rec.fact(topic)
        assert isinstance(fact, HistoryFact)
        for text in values:
            found_item = next((i for i in fact.items if _key(i.text) == _key(text)), None)
            if found_item is None:
                fact.items.append(HistoryItem(text=text, turns=[turn]))
            else:
                found_item.turns = _add_turn(found_item.turns, turn)
        _set_value(fact, turn)
        accepted.append(topic)

    given = set(accepted)
    both = set(args.none or []) & set(args.declined or [])
    for topic in sorted(both):
        rejected[f"none.{topic}"] = rejected[f"declined.{topic}"] = "both none and declined: ask which"
    for topic in dict.fromkeys(args.none or []):
        if topic in both:
            continue
        if topic in given:
            rejected[f"none.{topic}"] = "given a value in the same call"
        elif _has_content(rec, topic):
            rejected[f"none.{topic}"] = "already has entries; correct them instead"
        else:
            fact = rec.fact(topic)
            fact.state = "none"
            fact.turns = _add_turn(fact.turns, turn)
            accepted.append(f"none.{topic}")

    for topic in dict.fromkeys(args.declined or []):
        if topic in both:
            continue
        if topic in given:
            rejected[f"declined.{topic}"] = "given a value in the same call"
        elif _has_content(rec, topic):
            # Nothing said is lost to a stray decline: an answer given stays until corrected.
            rejected[f"declined.{topic}"] = "already answered; correct it instead"
        else:
            fact = rec.fact(topic)
            fact.state = "declined"
            fact.turns = _add_turn(fact.turns, turn)
            accepted.append(f"declined.{topic}")

    if args.urgency is not None:
        # The model may raise the urgency, never lower it.
        if max_urgency(args.urgency, rec.urgency) == args.urgency:
            rec.urgency = args.urgency
            accepted.append("urgency")
        else:
            rejected["urgency"] = f"stays {rec.urgency}: urgency is never lowered"
    if args.warning_signs:
        rec.warning_signs = list(dict.fromkeys([*rec.warning_signs, *args.warning_signs]))
        accepted.append("warning_signs")
    if args.review_confirmed is not None:
        rec.review_confirmed = bool(args.review_confirmed)
        accepted.append("review_confirmed")
    return ApplyResult(record=rec, accepted=accepted, rejected=rejected)


# Symptom narratives grow: a new complaint mid-intake joins the first rather than erasing it.
_ADDITIVE = frozenset({"chief_complaint", "history_of_present_illness"})


def _merged_text(topic: str, fact: TextFact, value: str) -> str:
    old = fact.value if fact.state == "value" else ""
    if topic not in _ADDITIVE or not old or _key(old) in _key(value):
        return value  # a correction replaces the value; the stored versions keep the old one
    if _key(value) in _key(old):
        return old
    return f"{old}; {value}"[:500]


def record_red_flag(record: IntakeRecordSchema, *, text: str, turn: int) -> IntakeRecordSchema:
    """A red-flag message always reaches the record: urgency is emergent, and if the model left the
    chief complaint empty, the patient's own words are it (an emergent intake never lacks one)."""
    rec = record.model_copy(deep=True)
    rec.urgency = "emergent"
    if rec.chief_complaint.state != "value" and text.strip():
        rec.chief_complaint = TextFact(state="value", value=" ".join(text.split())[:500], turns=[turn])
    return rec


def _has_content(rec: IntakeRecordSchema, topic: str) -> bool:
    fact = rec.fact(topic)
    if isinstance(fact, MedicationsFact | AllergiesFact | HistoryFact):
        return bool(fact.items)
    if isinstance(fact, InsuranceFact):
        return bool(fact.payer or fact.member_id)
    return isinstance(fact, TextFact) and bool(fact.value)


def record_mark(record: IntakeRecordSchema, topics: list[str], *, state: FactState, turn: int) -> IntakeRecordSchema:
    """A copy with every unsettled topic of `topics` set to `state` (declined / not_obtained)."""
    rec = record.model_copy(deep=True)
    for topic in topics:
        fact = rec.fact(topic)
        if fact.state not in SETTLED:
            fact.state = state
            fact.turns = _add_turn(fact.turns, turn)
    return rec


def record_changed_topics(before: IntakeRecordSchema, after: IntakeRecordSchema) -> list[str]:
    """Topics whose facts differ between two versions (used to tell a confirmation from a correction)."""
    return [t for t in RECORD_TOPICS if _content(before, t) != _content(after, t)]


def _content(rec: IntakeRecordSchema, topic: str) -> object:
    data = rec.fact(topic).model_dump(exclude={"turns"})
    for item in data.get("items", []):
        item.pop("turns", None)
    return data


def record_args_parse(arguments: dict[str, object]) -> tuple[RecordAnswersArgs, dict[str, str]]:
    """Validate a `record_answers` call field by field: a bad field is rejected (with why), the rest kept."""
    try:
        return RecordAnswersArgs.model_validate(arguments), {}
    except ValidationError as exc:
        bad: dict[str, str] = {}
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "arguments"
            bad.setdefault(key, "unknown field" if error["type"] == "extra_forbidden" else error["msg"])
    clean = {k: v for k, v in arguments.items() if k not in bad} if isinstance(arguments, dict) else {}
    try:
        return RecordAnswersArgs.model_validate(clean), bad
    except ValidationError:
        return RecordAnswersArgs(), bad


# --- Plain-language view, for the review screen ------------------------------------------------

# How a fact's state reads, per audience (`patients.fact_states`, the one definition every rendering
# reads): the patient is told in the second person; clinicians see a decline and a step left empty
# after two answers for what they are, never as "none".
_STATE_WORDS = PATIENT_STATE_TEXT
STAFF_STATE_WORDS = {**STATE_TEXT, "": NOT_ASKED_TEXT}


def _text(rec: IntakeRecordSchema, topic: str, words: dict[str, str] = _STATE_WORDS) -> str:
    fact = rec.fact(topic)
    if fact.state in words:
        return words[fact.state]
    if isinstance(fact, TextFact):
        return fact.value
    if isinstance(fact, InsuranceFact):
        return ", ".join(p for p in (fact.payer, fact.member_id and f"member ID {fact.member_id}") if p)
    if isinstance(fact, MedicationsFact):
        return "; ".join(
            " ".join(p for p in (m.name, m.dose, m.frequency) if p) + ("" if m.taking else " (stopped / not taking)")
            for m in fact.items
        )
    if isinstance(fact, AllergiesFact):
        return "; ".join(a.substance + (f" ({a.reaction})" if a.reaction else "") for a in fact.items)
    if isinstance(fact, HistoryFact):
        return "; ".join(i.text for i in fact.items)
    return ""


REVIEW_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("About you", (("name", "Name"), ("date_of_birth", "Date of birth"))),
    ("Contact", (("phone", "Phone"), ("email", "Email"))),
    ("Insurance", (("insurance", "Insurance"),)),
    ("Why you are here", (("chief_complaint", "Reason for visit"), ("history_of_present_illness", "Details"))),
    ("Medications", (("medications", "Medications"),)),
    ("Allergies", (("allergies", "Allergies"),)),
    ("Health history", (("past_history", "Past illnesses and surgeries"), ("family_history", "Family history"))),
    ("Lifestyle", (("tobacco", "Tobacco"), ("alcohol", "Alcohol"), ("occupation", "Occupation"))),
)


def record_review_groups(rec: IntakeRecordSchema) -> list[dict[str, object]]:
    """What the record holds, grouped by topic in plain words; topics never reached are left out."""
    groups = []
    for title, topics in REVIEW_GROUPS:
        lines = [{"label": label, "text": _text(rec, t), "state": rec.state(t)} for t, label in topics if rec.state(t)]
        if lines:
            groups.append({"title": title, "lines": lines})
    return groups


def _fact_turns(rec: IntakeRecordSchema, topic: str) -> list[int]:
    fact = rec.fact(topic)
    turns = set(fact.turns)
    for item in getattr(fact, "items", []):
        turns.update(item.turns)
    return sorted(turns)


def _item_lines(rec: IntakeRecordSchema, topic: str) -> list[dict[str, object]]:
    """Each medication, allergy or history entry on its own, with the turns it came from."""
    fact = rec.fact(topic)
    if fact.state != "value":
        return []
    if isinstance(fact, MedicationsFact):
        return [
            {
                "text": " ".join(p for p in (m.name, m.dose, m.frequency) if p)
                + ("" if m.taking else " (stopped / not taking)"),
                "turns": m.turns,
            }
            for m in fact.items
        ]
    if isinstance(fact, AllergiesFact):
        return [
            {"text": a.substance + (f" ({a.reaction})" if a.reaction else ""), "turns": a.turns} for a in fact.items
        ]
    if isinstance(fact, HistoryFact):
        return [{"text": i.text, "turns": i.turns} for i in fact.items]
    return []


def record_staff_groups(rec: IntakeRecordSchema) -> list[dict[str, object]]:
    """The record for clinicians: the review screen's groups and labels, every topic (one not reached
    yet says so), declines and "not obtained" by name, and the patient turns each fact came from."""
    return [
        {
            "title": title,
            "lines": [
                {
                    "topic": t,
                    "label": label,
                    "text": _text(rec, t, STAFF_STATE_WORDS),
                    "state": rec.state(t) or "open",
                    "turns": _fact_turns(rec, t),
                    "items": _item_lines(rec, t),
                }
                for t, label in topics
            ],
        }
        for title, topics in REVIEW_GROUPS
    ]


_TOPIC_LABELS: dict[str, str] = {t: label for _, topics in REVIEW_GROUPS for t, label in topics}


def record_changes(versions: list[tuple[int, dict[str, object]]]) -> list[dict[str, object]]:
    """The history of corrections: from consecutive stored versions (patient turn, document), every
    topic whose settled answer was changed, with what it said before and after. A first answer is
    not a change."""
    changes: list[dict[str, object]] = []
    previous: IntakeRecordSchema | None = None
    for turn, document in versions:
        current = IntakeRecordSchema.model_validate(document or {})
        if previous is not None:
            for topic in record_changed_topics(previous, current):
                if previous.state(topic) not in SETTLED:
                    continue
                changes.append(
                    {
                        "turn": turn,
                        "topic": topic,
                        "label": _TOPIC_LABELS.get(topic, topic),
                        "before": _text(previous, topic, STAFF_STATE_WORDS),
                        "after": _text(current, topic, STAFF_STATE_WORDS),
                    }
                )
        previous = current
    return changes


# --- The summary agrees with the record ---------------------------------------------------------

# States where the record knows the answer; "not obtained" leaves the model's summary as it is.
_STATED = frozenset({"value", "none", "declined"})


def _summary_text(rec: IntakeRecordSchema, topic: str) -> str | None:
    """The record's text for a summary string field; None when the record has nothing to say."""
    fact = rec.fact(topic)
    if fact.state == "declined":
        return DECLINED_TEXT
    if fact.state == "none":
        return NONE_TEXT
    if fact.state == "value" and isinstance(fact, TextFact):
        return fact.value
    return None


def _not_obtained(rec: IntakeRecordSchema, topic: str, current: object) -> str | None:
    """ "Not obtained" for a text field the record left empty after two answers, where the model's
    summary has nothing either (what the model did read stays)."""
    return NOT_OBTAINED_TEXT if rec.state(topic) == "not_obtained" and not current else None


# Summary field -> the record topics it is made of, for the per-field source turns.
_SUMMARY_TOPICS: dict[str, tuple[str, ...]] = {
    "patient_name": ("name",),
    "chief_complaint": ("chief_complaint",),
    "history_of_present_illness": ("history_of_present_illness",),
    "insurance": ("insurance",),
    "medications": ("medications",),
    "allergies": ("allergies",),
    "past_history": ("past_history",),
    "family_history": ("family_history",),
    "social_history": ("tobacco", "alcohol", "occupation"),
    "contact": ("phone", "email"),
}


def _sources(rec: IntakeRecordSchema, model_sources: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per summary field, the patient turns the record's facts came from; the model's guess elsewhere."""
    ours: dict[str, list[int]] = {}
    for field, topics in _SUMMARY_TOPICS.items():
        turns: set[int] = set()
        for topic in topics:
            fact = rec.fact(topic)
            if fact.state in _STATED:
                turns.update(fact.turns)
                for item in getattr(fact, "items", []):
                    turns.update(item.turns)
        if turns:
            ours[field] = sorted(turns)
    kept = [s for s in model_sources if s.get("field") not in ours]
    return [*({"field": f, "turns": t} for f, t in ours.items()), *kept]


def summary_from_record(
    summary: PatientSummarySchema, rec: IntakeRecordSchema
) -> tuple[PatientSummarySchema, list[str]]:
    """The summary with every field the record holds taken from the record (the record the patient
    confirmed wins), and the names of the fields where the model's summary said something else."""
    data = summary.model_dump()
    update: dict[str, object] = {}

    def take(field: str, value: object) -> None:
        if value is not None and value != data.get(field):
            update[field] = value

    take("patient_name", _summary_text(rec, "name"))
    for field in ("chief_complaint", "history_of_present_illness"):
        take(field, _summary_text(rec, field) or _not_obtained(rec, field, data.get(field)))
    if rec.insurance.state == "value":
        take("insurance", {"payer": rec.insurance.payer, "member_id": rec.insurance.member_id})
    elif rec.insurance.state == "declined":
        take("insurance", {"payer": DECLINED_TEXT, "member_id": ""})
    elif _not_obtained(rec, "insurance", any((data.get("insurance") or {}).values())):
        take("insurance", {"payer": NOT_OBTAINED_TEXT, "member_id": ""})
    if rec.medications.state in _STATED:
        meds = [
            {"name": m.name, "dose": m.dose, "frequency": m.frequency, "status": "new" if m.taking else "stopped"}
            for m in rec.medications.items
        ]

        # The chart reconciliation after this decides confirmed / changed / new, so only what the
        # patient said is compared: the names, doses, schedules and whether they still take it.
        def said(rows: list[dict[str, str]]) -> list[tuple[str, str, str, bool]]:
            return [
                (r["name"], r.get("dose") or "", r.get("frequency") or "", r["status"] in ("stopped", "not_taking"))
                for r in rows
            ]

        if said(meds) != said(data["medications"]):
            update["medications"] = meds
    if rec.allergies.state in _STATED:
        allergies = [{"substance": a.substance, "reaction": a.reaction, "status": "new"} for a in rec.allergies.items]
        if [a["substance"] for a in allergies] != [a["substance"] for a in data["allergies"]]:
            update["allergies"] = allergies
    for topic in ("past_history", "family_history"):
        fact = rec.fact(topic)
        if fact.state in _STATED:
            assert isinstance(fact, HistoryFact)
            take(topic, [i.text for i in fact.items])
    social = dict(data["social_history"])
    for topic in ("tobacco", "alcohol", "occupation"):
        text = _summary_text(rec, topic) or _not_obtained(rec, topic, social.get(topic))
        if text is not None:
            social[topic] = text
    take("social_history", social)
    contact = {"phone": rec.phone.value, "email": rec.email.value}
    for topic in ("phone", "email"):
        if rec.state(topic) in ("declined", "not_obtained"):
            contact[topic] = STATE_TEXT[rec.state(topic)]
    take("contact", contact)
    take("declined", [t for t in RECORD_TOPICS if rec.state(t) == "declined"])
    take("urgency_level", max_urgency(summary.urgency_level, rec.urgency))
    if rec.warning_signs:
        take("red_flags", list(dict.fromkeys([*summary.red_flags, *rec.warning_signs])))
    take("sources", _sources(rec, data["sources"]))
    merged = PatientSummarySchema.model_validate({**data, **update})
    # "declined"/"contact" are the app's own fields: a difference there is not a model disagreement.
    differing = sorted(k for k in update if k not in {"declined", "contact", "sources"})
    return merged, differing
