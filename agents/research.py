"""Pure helpers for Deep Research prompts: what may leave the clinic, and a check that nothing else did.

No ORM, no SDK, no settings. The prompt is built only from allowed fields (age band, sex, coded
problems, medications, the staff's question) and then checked against the patient's own
identifiers with normalised matching, so a name typed into the question is still caught.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

# Safe Harbor: ages over 89 are themselves identifying, so they collapse into one band.
_TOP_BAND = 90
_MIN_NAME_TOKEN = 3
_MIN_DIGITS = 4  # shorter digit strings (doses, years of age) match too much to mean anything
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def age_band(birth_date: date, today: date) -> str:
    """A ten-year band ("40-49"); "90+" for 90 and over; "0-9" for children under ten."""
    years = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    years = max(0, years)
    if years >= _TOP_BAND:
        return "90+"
    low = years // 10 * 10
    return f"{low}-{low + 9}"


def _clean_items(items: Iterable[str], *, limit: int = 20) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        text = " ".join(str(item).split())
        if text and text.casefold() not in {k.casefold() for k in seen}:
            seen[text] = None
    return list(seen)[:limit]


def research_question_default(*, chief_complaint: str, problems: Sequence[str], medications: Sequence[str]) -> str:
    """The editable question staff see prefilled."""
    parts: list[str] = []
    complaint = " ".join(chief_complaint.split())
    if complaint:
        parts.append(f"What is the current guidance for evaluating and managing: {complaint}?")
    if problems:
        parts.append(f"Consider the coexisting conditions: {', '.join(_clean_items(problems))}.")
    meds = _clean_items(medications)
    if len(meds) >= 2:
        parts.append(f"Are there clinically relevant interactions among: {', '.join(meds)}?")
    elif meds:
        parts.append(f"Note the current medication: {meds[0]}.")
    return " ".join(parts) or "What is the current guidance relevant to this visit?"


def research_prompt_build(
    *, age_band: str, sex: str, problems: Sequence[str], medications: Sequence[str], question: str
) -> str:
    """The de-identified research prompt. Only these fields are ever put into it."""
    problem_lines = "\n".join(f"- {p}" for p in _clean_items(problems)) or "- none recorded"
    med_lines = "\n".join(f"- {m}" for m in _clean_items(medications)) or "- none recorded"
    return (
        "Prepare a cited pre-visit research report for a clinician. Use current clinical guidance and "
        "primary literature; cite every claim with a link.\n\n"
        f"Patient context (de-identified): age band {age_band}, sex {sex or 'unknown'}.\n"
        f"Coded problems:\n{problem_lines}\n"
        f"Current medications:\n{med_lines}\n\n"
        f"Question: {' '.join(question.split())}\n"
    )


@dataclass(frozen=True)
class PatientIdentifiers:
    """The patient's own identifiers, which must never appear in a prompt."""

    given_name: str = ""
    family_name: str = ""
    birth_date: date | None = None
    mrn: str = ""
    phones: Sequence[str] = field(default_factory=tuple)
    emails: Sequence[str] = field(default_factory=tuple)
    addresses: Sequence[str] = field(default_factory=tuple)
    insurer_ids: Sequence[str] = field(default_factory=tuple)


def _fold(text: str) -> str:
    """Case- and accent-free text with punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^0-9a-z@]+", " ", stripped).split())


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", _fold(text))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# A run of digits that may be broken up by the separators people type in numbers and dates.
_DIGIT_RUN = re.compile(r"\d(?:[\s().\-/+]{0,3}\d)*")


def _digit_runs(prompt: str) -> list[str]:
    return [_digits(m.group()) for m in _DIGIT_RUN.finditer(prompt)]


def _has_word(folded_prompt: str, folded_phrase: str) -> bool:
    if not folded_phrase:
        return False
    return re.search(rf"(?<![0-9a-z]){re.escape(folded_phrase)}(?![0-9a-z])", folded_prompt) is not None


def _name_tokens(*names: str) -> list[str]:
    tokens: list[str] = []
    for name in names:
        # Synthea-style digit suffixes ("Blair354") are not part of the name people type.
        for token in _fold(re.sub(r"\d+", " ", name)).split():
            if len(token) >= _MIN_NAME_TOKEN and token not in tokens:
                tokens.append(token)
    return tokens


def _date_digit_forms(d: date) -> set[str]:
    y4, y2 = f"{d.year:04d}", f"{d.year % 100:02d}"
    mm, dd, m, dy = f"{d.month:02d}", f"{d.day:02d}", str(d.month), str(d.day)
    forms = {
        y4 + mm + dd,  # 1980-03-07, 19800307
        mm + dd + y4,  # 03/07/1980
        dd + mm + y4,  # 07.03.1980
        m + dy + y4,  # 3/7/1980
        dy + m + y4,  # 7/3/1980
        mm + dd + y2,  # 03/07/80
        dd + mm + y2,  # 07/03/80
        y4 + m + dy,  # 1980-3-7
    }
    return {f for f in forms if len(f) >= 6}


def _date_word_forms(d: date) -> set[str]:
    month = _MONTHS[d.month - 1]
    forms: set[str] = set()
    for name in (month, month[:3], month[:4] if month == "september" else month[:3]):
        for day in (str(d.day), f"{d.day:02d}"):
            forms.add(f"{name} {day} {d.year}")
            forms.add(f"{day} {name} {d.year}")
    return forms


_ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b")
_OF = re.compile(r"\b(\d{1,2}) of ([a-z]+)\b")


def _dob_hit(prompt: str, folded: str, birth_date: date) -> bool:
    runs = set(_digit_runs(prompt))
    if runs & _date_digit_forms(birth_date):
        return True
    words = _OF.sub(r"\1 \2", _ORDINAL.sub(r"\1", folded))
    return any(_has_word(words, form) for form in _date_word_forms(birth_date))


def _number_hit(runs: Sequence[str], identifier: str, *, tail: int | None = None) -> bool:
    digits = _digits(identifier)
    if tail is not None:
        digits = digits[-tail:]
    if len(digits) < _MIN_DIGITS:
        return False
    return any(digits in run for run in runs)


def _code_hit(prompt: str, folded: str, runs: Sequence[str], identifier: str) -> bool:
    """MRNs and insurer ids: match ignoring case and punctuation; digits alone if mostly numeric."""
    code = _alnum(identifier)
    if len(code) < _MIN_DIGITS:
        return False
    if code in _alnum(prompt):
        return True
    digits = _digits(code)
    # "MRN 000-12-345" typed without its letters still gives the patient away.
    return len(digits) >= 6 and any(digits in run for run in runs)


def _address_hit(folded: str, address: str) -> bool:
    # Each line of an address ("12 Oak Street", "Springfield") is checked on its own.
    for line in address.splitlines() or [address]:
        line_folded = _fold(line)
        if len(line_folded) >= 6 and _has_word(folded, line_folded):
            return True
        if re.fullmatch(r"\d{5}(?: \d{4})?", line_folded) and _has_word(folded, line_folded[:5]):
            return True
    return False


def phi_check(prompt: str, identifiers: PatientIdentifiers) -> list[str]:
    """Which kinds of the patient's identifiers appear in the prompt ("name", "MRN", ...).

    Returns labels only, never the matched text, so the result can be shown and logged safely.
    """
    folded = _fold(prompt)
    runs = _digit_runs(prompt)
    hits: list[str] = []
    name_tokens = _name_tokens(identifiers.given_name, identifiers.family_name)
    if any(_has_word(folded, token) for token in name_tokens):
        hits.append("name")
    if identifiers.birth_date and _dob_hit(prompt, folded, identifiers.birth_date):
        hits.append("date of birth")
    if identifiers.mrn and _code_hit(prompt, folded, runs, identifiers.mrn):
        hits.append("MRN")
    if any(_number_hit(runs, phone, tail=10) or _number_hit(runs, phone, tail=7) for phone in identifiers.phones):
        hits.append("phone number")
    for email in identifiers.emails:
        email_folded = email.strip().casefold()
        local = _fold(email_folded.split("@")[0])
        if email_folded and (email_folded in prompt.casefold() or (len(local) >= 4 and _has_word(folded, local))):
            hits.append("email address")
            break
    if any(_address_hit(folded, address) for address in identifiers.addresses if address.strip()):
        hits.append("address")
    if any(_code_hit(prompt, folded, runs, ident) for ident in identifiers.insurer_ids if ident.strip()):
        hits.append("insurer id")
    return hits


def phi_refusal_message(hits: Sequence[str]) -> str:
    """What staff read when a prompt is refused. Names the kinds of identifier, never the values."""
    kinds = ", ".join(hits)
    return (
        f"Research was not requested: the prompt contains the patient's {kinds}. "
        "Remove identifying details from the question and try again. Nothing was sent."
    )
