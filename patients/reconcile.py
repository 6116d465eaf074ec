"""Reconcile what the patient reports (medications, allergies) against the chart. Pure code.

Decisions:
- Each reported item gets a status against the chart. Chart items the patient never mentioned are
  NOT added to the patient's list (silence is not "not taking"); they are returned separately in
  `chart_only`, for the reviewer's reconciliation table.
- Drugs match by ingredient, not by string (`patients.drugs`, a drug-name library): brand names
  ("Claritin" is loratadine), salts ("chlorpheniramine maleate"), misspellings ("metforman") and
  Synthea's dose forms ("24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet").
- The same drug reported twice is one row. If any report says the patient stopped or does not
  take it, that status wins: a stopped chart medicine is never "confirmed".
- Doses compare numerically after unit normalisation ("10mg" == "10 MG", "0.5 g" == "500 mg").
  No dose given, or no dose in the chart, is not a disagreement.
- Pass the chart's active list. Entries that carry a `status` attribute which is clearly inactive
  ("stopped", "completed", ...) are ignored, so a stopped chart entry cannot "confirm" a drug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz

from agents.schemas import (
    AllergySchema,
    AllergyStatus,
    MedicationSchema,
    MedicationStatus,
    PatientSummarySchema,
)
from patients import drugs


class ChartMedicationLike(Protocol):
    """What reconciliation needs of `patients.ehr.ChartMedication`."""

    @property
    def name(self) -> str: ...
    @property
    def dose(self) -> str: ...
    @property
    def frequency(self) -> str: ...


class ChartAllergyLike(Protocol):
    """What reconciliation needs of `patients.ehr.ChartAllergy`."""

    @property
    def substance(self) -> str: ...


_INACTIVE = frozenset({"stopped", "completed", "cancelled", "entered-in-error", "inactive", "resolved"})


def _vocab(words: str) -> frozenset[str]:
    # Whitespace-separated word lists read better than long list literals.
    return frozenset(words.split())


# --- Tokens -----------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z][a-z-]*[a-z]|[a-z]")


def _words(text: str) -> list[str]:
    # Digits, strengths and codes never name an allergen; "tree-nut" is "tree" and "nut".
    text = re.sub(r"\b\w*\d\w*\b", " ", text.lower())
    return [w for part in _WORD.findall(text) for w in part.split("-") if w]


def drug_tokens(name: str) -> frozenset[str]:
    """Normalised ingredients of a drug name, patient- or chart-written (see `patients.drugs`)."""
    return drugs.ingredients(name)


# --- Doses and frequencies --------------------------------------------------------------------

_DOSE = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg|µg|ug|g|gm|ml|units?|iu|meq|%)(?![a-z])", re.IGNORECASE)
_TO_MG = {"mg": 1.0, "mcg": 0.001, "µg": 0.001, "ug": 0.001, "g": 1000.0, "gm": 1000.0}


def parse_dose(text: str) -> tuple[float, str] | None:
    """The strength in `text` as (amount, unit), mass converted to mg; a mass beats a volume.

    "NDA020800 0.3 ML Epinephrine 1 MG/ML" gives (1.0, "mg"): the first mass amount, so a patient's
    "10mg" is compared with the chart's milligrams, not with a fill volume.
    """
    doses: list[tuple[float, str]] = []
    for m in _DOSE.finditer(text or ""):
        amount, unit = float(m.group(1)), m.group(2).lower()
        if unit in _TO_MG:
            doses.append((round(amount * _TO_MG[unit], 6), "mg"))
        else:
            doses.append((amount, "unit" if unit.startswith("unit") or unit == "iu" else unit))
    masses = [d for d in doses if d[1] == "mg"]
    return (masses or doses or [None])[0]


_FREQUENCIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), v)
    for p, v in (
        (r"\b(?:as needed|prn|when needed|if needed)\b", "prn"),
        (r"\b(?:four times|4 times|qid|every 6 hours)\b", "4/day"),
        (r"\b(?:three times|3 times|tid|every 8 hours)\b", "3/day"),
        (r"\b(?:twice|two times|2 times|bid|every 12 hours)\b", "2/day"),
        (
            r"\b(?:once|one time|1 time|daily|qd|qhs|nightly"
            r"|every (?:day|morning|night|evening)|at (?:bed ?time|night))\b",
            "1/day",
        ),
        (r"\bweekly|once a week\b", "1/week"),
    )
)


def normalise_frequency(text: str) -> str | None:
    t = (text or "").lower()
    for pattern, value in _FREQUENCIES:
        if pattern.search(t):
            return value
    return None


# --- Medications ------------------------------------------------------------------------------

_STOPPED_CUE = re.compile(r"\b(?:stopped|quit|discontinued|came off|finished)\b")
_NOT_TAKING_CUE = re.compile(
    r"\b(?:not taking|no longer taking|don'?t take|do not take|never took|never taken|not on)\b"
)


@dataclass(frozen=True, slots=True)
class MedicationRow:
    """One line of the reconciliation table: what the patient said, the chart entry, the verdict."""

    reported: MedicationSchema
    chart: ChartMedicationLike | None
    status: MedicationStatus


@dataclass(frozen=True, slots=True)
class MedicationReconciliation:
    rows: tuple[MedicationRow, ...]
    chart_only: tuple[ChartMedicationLike, ...]  # in the chart, never mentioned by the patient

    @property
    def medications(self) -> list[MedicationSchema]:
        """The patient's list with reconciled statuses, ready for the summary."""
        return [row.reported.model_copy(update={"status": row.status}) for row in self.rows]


def _is_active(item: object) -> bool:
    status = getattr(item, "status", None)
    return not (isinstance(status, str) and status.lower() in _INACTIVE)


def _chart_dose(chart: ChartMedicationLike) -> tuple[float, str] | None:
    # Synthea often carries the strength only in the name ("lisinopril 10 MG Oral Tablet").
    return parse_dose(chart.dose) or parse_dose(chart.name)


def _reported_dose(med: MedicationSchema) -> tuple[float, str] | None:
    return parse_dose(med.dose) or parse_dose(med.name)


_BARE_AMOUNT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")


def _bare_amount(med: MedicationSchema) -> float | None:
    """A strength said without its unit ("metoprolol 25"): the number, or None."""
    m = _BARE_AMOUNT.fullmatch(med.dose or "")
    return float(m.group(1)) if m else None


def _chart_strength_as_said(amount: float, chart: ChartMedicationLike) -> str:
    """The chart's strength, with its unit, when a unitless `amount` is it ("25" against "Metoprolol 25 MG"
    is "25 mg"; "75" against "Levothyroxine 0.075 MG" is "75 mcg"); "" when it is not. The unit is
    never guessed: it comes from the chart entry the patient's medicine matched."""
    for text in (chart.dose, chart.name):
        for m in _DOSE.finditer(text or ""):
            value, unit = float(m.group(1)), m.group(2).lower()
            unit = {"µg": "mcg", "ug": "mcg", "gm": "g", "iu": "units", "unit": "units"}.get(unit, unit)
            if value == amount:
                return f"{m.group(1)} {unit}"
            if unit == "mg" and round(value * 1000, 6) == amount:
                return f"{_num_text(amount)} mcg"
    return ""


def _num_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _same_schedule(med: MedicationSchema, chart: ChartMedicationLike) -> bool:
    ours, theirs = normalise_frequency(med.frequency), normalise_frequency(chart.frequency)
    # "As needed" in the chart leaves the schedule to the patient: "only at night" is not a change.
    return ours is None or theirs is None or ours == theirs or theirs == "prn"


def _pick_chart(med: MedicationSchema, candidates: list[ChartMedicationLike]) -> ChartMedicationLike | None:
    if not candidates:
        return None
    dose, bare = _reported_dose(med), _bare_amount(med)
    for chart in candidates:  # prefer the entry whose strength agrees
        if dose is not None and _chart_dose(chart) == dose:
            return chart
        if bare is not None and _chart_strength_as_said(bare, chart):
            return chart
    return candidates[0]


def _said_not_taking(med: MedicationSchema) -> MedicationStatus | None:
    if med.status in ("stopped", "not_taking"):
        return med.status
    text = f"{med.name} {med.dose} {med.frequency}".lower()
    if _NOT_TAKING_CUE.search(text):
        return "not_taking"
    if _STOPPED_CUE.search(text):
        return "stopped"
    return None


def _merge_same_drug(reported: Iterable[MedicationSchema]) -> list[tuple[MedicationSchema, MedicationStatus | None]]:
    """One entry per drug, with the patient's "stopped" or "not taking" if any report said so.

    Later reports fill or correct the dose and frequency ("the dose is 10, not 20").
    """
    merged: list[tuple[frozenset[str], MedicationSchema, MedicationStatus | None]] = []
    for med in reported:
        tokens, said = drug_tokens(med.name), _said_not_taking(med)
        for i, (seen, first, first_said) in enumerate(merged):
            if tokens and seen and drugs.same_ingredient(tokens, seen):
                update = {k: getattr(med, k) for k in ("dose", "frequency") if getattr(med, k)}
                merged[i] = (seen, first.model_copy(update=update), first_said or said)
                break
        else:
            merged.append((tokens, med, said))
    return [(med, said) for _, med, said in merged]


# Everyday names for a kind of medicine ("my water pill") and the ingredients a chart may list for
# it. A class name meets a chart entry only when exactly one active entry is of that class.
DRUG_CLASSES: dict[str, frozenset[str]] = {
    r"water pills?|fluid pills?|diuretics?": _vocab(
        "hydrochlorothiazide chlorthalidone furosemide bumetanide torsemide spironolactone indapamide metolazone"
    ),
    r"blood thinners?|anticoagulants?": _vocab(
        "warfarin apixaban rivaroxaban dabigatran edoxaban heparin enoxaparin clopidogrel"
    ),
    r"cholesterol (?:pills?|medicines?|medications?|meds)|statins?": _vocab(
        "atorvastatin simvastatin rosuvastatin pravastatin lovastatin pitavastatin ezetimibe"
    ),
    r"blood pressure (?:pills?|medicines?|medications?|meds)|bp (?:pills?|meds)": _vocab(
        "lisinopril enalapril ramipril losartan valsartan olmesartan irbesartan amlodipine nifedipine "
        "metoprolol atenolol carvedilol hydrochlorothiazide chlorthalidone"
    ),
    r"thyroid (?:pills?|medicines?|medications?|meds)": _vocab("levothyroxine liothyronine"),
    r"(?:sugar|diabetes) (?:pills?|medicines?|medications?|meds)": _vocab(
        "metformin glipizide glyburide glimepiride sitagliptin empagliflozin dapagliflozin"
    ),
    r"(?:rescue )?inhalers?|puffers?": _vocab("albuterol salbutamol fluticasone budesonide tiotropium"),
    r"birth control|the pill|contraceptives?|(?:the )?implant": _vocab(
        "etonogestrel levonorgestrel norethindrone norgestimate drospirenone desogestrel medroxyprogesterone "
        "ethinyl estradiol"
    ),
}
_CLASS_RE = {re.compile(rf"\b(?:{p})\b", re.IGNORECASE): members for p, members in DRUG_CLASSES.items()}


# Medicines named by their dose form ("the cream for my skin") and how a chart entry's name says that form.
FORM_CLASSES: dict[str, str] = {
    r"(?:skin|steroid|rash|the|my|a|that) (?:cream|ointment|lotion)": r"\b(?:cream|ointment|lotion|topical)\b",
}
_FORM_RE = {re.compile(rf"\b(?:{p})\b", re.IGNORECASE): re.compile(f, re.IGNORECASE) for p, f in FORM_CLASSES.items()}


def _class_candidates(name: str, active: Sequence[ChartMedicationLike]) -> list[ChartMedicationLike]:
    """The one chart entry a class name ("my water pill") or a dose form ("the cream") stands for, or none."""
    for said, form in _FORM_RE.items():
        if said.search(name) and not drug_tokens(said.sub(" ", name)):
            found = [c for c in active if form.search(c.name)]
            return found if len(found) == 1 else []
    for rx, members in _CLASS_RE.items():
        if rx.search(name):
            found = [c for c in active if drug_tokens(c.name) & members]
            return found if len(found) == 1 else []
    return []


def reconcile_medications(
    reported: Iterable[MedicationSchema], chart: Sequence[ChartMedicationLike]
) -> MedicationReconciliation:
    active = [c for c in chart if _is_active(c)]
    chart_tokens = [drug_tokens(c.name) for c in active]
    used: set[int] = set()
    rows: list[MedicationRow] = []
    for med, declined in _merge_same_drug(reported):
        tokens = drug_tokens(med.name)
        candidates = [
            c for c, t in zip(active, chart_tokens, strict=True) if tokens and t and drugs.same_ingredient(tokens, t)
        ]
        if not candidates:
            candidates = _class_candidates(med.name, [c for c in active if id(c) not in used])
            if not candidates and declined is not None:
                # "I'm not on birth control now, had the implant taken out": a class said stopped may be
                # the one chart entry of that class the chart already lists as ended.
                candidates = _class_candidates(med.name, [c for c in chart if not _is_active(c)])
            if candidates:  # the row says which chart medicine "my water pill" is
                med = med.model_copy(update={"name": f"{med.name} ({candidates[0].name})"[:120]})
        match = _pick_chart(med, candidates)
        if match is not None:
            used.add(id(match))
        if declined is not None:
            status: MedicationStatus = declined
        elif match is None:
            status = "new"
        else:
            bare = _bare_amount(med)
            as_said = _chart_strength_as_said(bare, match) if bare is not None else ""
            if as_said:  # "metoprolol 25" is the chart's 25 MG: the unit is the chart's, not a guess
                med = med.model_copy(update={"dose": as_said})
            ours, theirs = _reported_dose(med), _chart_dose(match)
            # Different kinds of unit (mg vs ml) cannot be compared here, so they do not disagree.
            same_dose = ours is None or theirs is None or ours[1] != theirs[1] or ours == theirs
            if bare is not None and not as_said and theirs is not None:
                same_dose = False  # a strength the chart does not have, whatever its unit
            status = "confirmed" if same_dose and _same_schedule(med, match) else "changed"
        rows.append(MedicationRow(reported=med, chart=match, status=status))
    chart_only = tuple(c for c in active if id(c) not in used)
    return MedicationReconciliation(rows=tuple(rows), chart_only=chart_only)


# --- Allergies --------------------------------------------------------------------------------

_ALLERGY_NOISE = _vocab(
    """
    allergy allergies allergic to of the my i am i'm im and or a an intolerance sensitivity reaction
    substance finding disorder
    """
)
# Tokens that alone do not identify an allergen: "tree pollen" and "grass pollen" are different.
_ALLERGY_WEAK = frozenset({"pollen", "venom", "animal", "house", "food", "tree", "drug", "mite", "sting"})
_ALLERGY_SYNONYMS: dict[str, str] = {
    "bees": "bee",
    "wasp": "bee",
    "shrimp": "shellfish",
    "crab": "shellfish",
    "lobster": "shellfish",
    "prawn": "shellfish",
    "salmon": "fish",
    "tuna": "fish",
    "cod": "fish",
    "cat": "dander",
    "dog": "dander",
    "pet": "dander",
    "mold": "mould",
    "latex": "latex",
    "pcn": "penicillin",
    # sulfonamide antibiotics, however a patient or a chart names them
    "sulfonamide": "sulfa",
    "sulpha": "sulfa",
    "sulphonamide": "sulfa",
    "sulfamethoxazole": "sulfa",
    "bactrim": "sulfa",
    "septra": "sulfa",
}


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def allergy_tokens(substance: str) -> frozenset[str]:
    words = (_singular(w) for w in _words(substance) if w not in _ALLERGY_NOISE and len(w) > 1)
    return frozenset(_ALLERGY_SYNONYMS.get(w, w) for w in words)


def _similar(a: str, b: str) -> bool:
    # A misspelt allergen ("penicilin", "shelfish") is still the allergen.
    return a == b or (min(len(a), len(b)) >= 5 and a[0] == b[0] and fuzz.ratio(a, b) >= ALLERGEN_FUZZY_CUTOFF)


def _allergy_match(ours: frozenset[str], theirs: frozenset[str]) -> bool:
    strong_ours, strong_theirs = ours - _ALLERGY_WEAK, theirs - _ALLERGY_WEAK
    if strong_ours:
        if any(_similar(a, b) for a in strong_ours for b in strong_theirs):
            return True
        # A drug allergy by brand or class ("Amoxil" against "amoxicillin").
        ours_drug, theirs_drug = drugs.ingredients(" ".join(ours)), drugs.ingredients(" ".join(theirs))
        return bool(ours_drug and theirs_drug and drugs.same_ingredient(ours_drug, theirs_drug))
    # Only generic words: all of them must appear, so "pollen" covers every pollen entry while
    # "tree pollen" does not cover "grass pollen".
    return ours <= theirs


ALLERGEN_FUZZY_CUTOFF = 85.0
_RESOLVED_CUE = re.compile(r"\b(?:outgrew|outgrown|grew out|no longer|not anymore|resolved|used to be)\b")
_DENIED_CUE = re.compile(r"\b(?:not allergic|never (?:been )?allergic|wrong|mistake|never had)\b")


@dataclass(frozen=True, slots=True)
class AllergyRow:
    reported: AllergySchema
    chart: tuple[ChartAllergyLike, ...]  # a vague report ("pollen") can cover several chart entries
    status: AllergyStatus


@dataclass(frozen=True, slots=True)
class AllergyReconciliation:
    rows: tuple[AllergyRow, ...]
    chart_only: tuple[ChartAllergyLike, ...]

    @property
    def allergies(self) -> list[AllergySchema]:
        return [row.reported.model_copy(update={"status": row.status}) for row in self.rows]


def _allergy_status(allergy: AllergySchema, matched: bool) -> AllergyStatus:
    if allergy.status in ("denied", "resolved"):
        return allergy.status
    text = f"{allergy.substance} {allergy.reaction}".lower()
    if _DENIED_CUE.search(text):
        return "denied"
    if _RESOLVED_CUE.search(text):
        return "resolved"
    return "confirmed" if matched else "new"


def reconcile_allergies(reported: Iterable[AllergySchema], chart: Sequence[ChartAllergyLike]) -> AllergyReconciliation:
    active = [c for c in chart if _is_active(c)]
    chart_tokens = [allergy_tokens(c.substance) for c in active]
    used: set[int] = set()
    rows: list[AllergyRow] = []
    for allergy in reported:
        tokens = allergy_tokens(allergy.substance)
        matches = tuple(c for c, t in zip(active, chart_tokens, strict=True) if tokens and _allergy_match(tokens, t))
        used.update(id(c) for c in matches)
        rows.append(AllergyRow(reported=allergy, chart=matches, status=_allergy_status(allergy, bool(matches))))
    chart_only = tuple(c for c in active if id(c) not in used)
    return AllergyReconciliation(rows=tuple(rows), chart_only=chart_only)


# --- Whole summary ----------------------------------------------------------------------------


class ChartListsLike(Protocol):
    """What `summary_reconcile` needs of `patients.ehr.ChartSnapshot`."""

    @property
    def medications(self) -> Sequence[ChartMedicationLike]: ...
    @property
    def allergies(self) -> Sequence[ChartAllergyLike]: ...


def summary_reconcile(*, summary: PatientSummarySchema, chart: ChartListsLike) -> PatientSummarySchema:
    """The summary with medication and allergy statuses decided by these rules, not by the model."""
    meds = reconcile_medications(summary.medications, chart.medications)
    allergies = reconcile_allergies(summary.allergies, chart.allergies)
    return summary.model_copy(update={"medications": meds.medications, "allergies": allergies.allergies})


# --- One comparison for everyone (the evaluation scores with these too) ------------------------


def same_drug(a: str, b: str) -> bool:
    """Do two drug names, however written, share an ingredient?"""
    ours, theirs = drug_tokens(a), drug_tokens(b)
    return bool(ours and theirs and drugs.same_ingredient(ours, theirs))


def class_of(name: str) -> frozenset[str]:
    """The member ingredients when `name` is only an everyday class name ("my inhaler", "water pill"),
    else empty."""
    for rx, members in _CLASS_RE.items():
        if rx.search(name) and not drug_tokens(rx.sub(" ", name)):
            return members
    return frozenset()


def same_drug_or_class(a: str, b: str) -> bool:
    """One medicine named twice, once by its class ("my inhaler" and then "albuterol")?"""
    if same_drug(a, b):
        return True
    for cls, named in ((a, b), (b, a)):
        members = class_of(cls)
        if members and not class_of(named) and drug_tokens(named) & members:
            return True
    return False


def same_allergen_named(a: str, b: str) -> bool:
    """One allergen named twice in an intake ("bees" / "bee stings", "shrimp" / "shellfish"): by the
    words and their synonyms only, never by a shared drug-library ingredient ("tree nuts" and "tree
    pollen" are two allergens)."""
    ours, theirs = allergy_tokens(a), allergy_tokens(b)
    if not ours or not theirs:
        return False
    strong_ours, strong_theirs = ours - _ALLERGY_WEAK, theirs - _ALLERGY_WEAK
    if strong_ours and strong_theirs:
        return any(_similar(x, y) for x in strong_ours for y in strong_theirs)
    return ours <= theirs or theirs <= ours


def same_allergen(a: str, b: str) -> bool:
    """Do two allergen descriptions name the same thing ("bee stings", "Allergy to bee venom")?"""
    ours, theirs = allergy_tokens(a), allergy_tokens(b)
    return bool(ours and theirs and (_allergy_match(ours, theirs) or _allergy_match(theirs, ours)))
