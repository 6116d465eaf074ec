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


def research_question_default(*, problems: Sequence[str], medications: Sequence[str]) -> str:
    """The editable question staff see prefilled: coded problems and medications only. Nothing the
    patient typed (the chief complaint included) is ever prefilled; staff type the question."""
    parts: list[str] = []
    if problems:
        parts.append(f"Consider the coexisting conditions: {', '.join(_clean_items(problems))}.")
    meds = _clean_items(medications)
    if len(meds) >= 2:
        parts.append(f"Are there clinically relevant interactions among: {', '.join(meds)}?")
    elif meds:
        parts.append(f"Note the current medication: {meds[0]}.")
    return " ".join(parts)


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
    """Every identifier known for the patient (chart, registration, what they said in the chat),
    none of which may appear in a prompt."""

    given_name: str = ""
    family_name: str = ""
    birth_date: date | None = None
    mrn: str = ""
    phones: Sequence[str] = field(default_factory=tuple)
    emails: Sequence[str] = field(default_factory=tuple)
    addresses: Sequence[str] = field(default_factory=tuple)
    insurer_ids: Sequence[str] = field(default_factory=tuple)
    # Names of other people the patient named (relatives, coworkers, their doctor), name variants.
    other_names: Sequence[str] = field(default_factory=tuple)
    employers: Sequence[str] = field(default_factory=tuple)
    # Other record numbers (SSN, driver's licence, passport) matched like the MRN.
    other_ids: Sequence[str] = field(default_factory=tuple)


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_DIGIT_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


def _ascii_digits(text: str) -> str:
    """Any script's decimal digits (fullwidth, Arabic-Indic, ...) as ASCII digits."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text)


def _fold(text: str) -> str:
    """Case- and accent-free text with dashes unified and punctuation turned into single spaces."""
    text = _ascii_digits(unicodedata.normalize("NFKC", text).translate(_DASHES))
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^0-9a-z@]+", " ", stripped).split())


def _spell_digits(folded: str) -> str:
    """'five five five oh one four two' -> '5 5 5 0 1 4 2' ("oh" only between digits)."""
    words = [_DIGIT_WORDS.get(w, w) for w in folded.split()]
    for i, word in enumerate(words):
        if word in {"oh", "o"} and (
            (i > 0 and words[i - 1].isdigit()) or (i + 1 < len(words) and words[i + 1].isdigit())
        ):
            words[i] = "0"
    return " ".join(words)


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", _fold(text))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", _ascii_digits(text))


# A run of digits that may be broken up by single spaces (all punctuation is a space by then).
_DIGIT_RUN = re.compile(r"\d(?: ?\d)*")


def _digit_runs(folded: str) -> list[str]:
    return [m.group().replace(" ", "") for m in _DIGIT_RUN.finditer(_spell_digits(folded))]


def _has_word(folded_prompt: str, folded_phrase: str) -> bool:
    if not folded_phrase:
        return False
    return re.search(rf"(?<![0-9a-z]){re.escape(folded_phrase)}(?![0-9a-z])", folded_prompt) is not None


def _name_tokens(*names: str) -> list[str]:
    tokens: list[str] = []
    for name in names:
        # Synthea-style digit suffixes ("Blair354") are not part of the name people type.
        for token in _fold(re.sub(r"\d+", " ", name)).split():
            if len(token) >= _MIN_NAME_TOKEN and token not in tokens and token not in _NAME_STOPWORDS:
                tokens.append(token)
    return tokens


# Titles and particles that are parts of names but identify nobody.
_NAME_STOPWORDS = {"mr", "mrs", "ms", "miss", "dr", "the", "van", "von", "der", "del", "de", "la", "jr", "sr"}


def _typo_of(word: str, token: str) -> bool:
    """A misspelling of a name: one edit (two for names of 8+ letters), transpositions included,
    a final -y/-ee/-ie/-ey sound spelled any way ("Quimbee" for "Quimby"), keeping the first letter
    (people rarely mistype it; "permit" is not "Kermit")."""
    from rapidfuzz.distance import DamerauLevenshtein

    if len(token) < 4 or abs(len(word) - len(token)) > 1 or word[0] != token[0]:
        return False
    limit = 2 if len(token) >= 8 else 1
    pairs = ((word, token), (_SOUND_Y.sub("y", word), _SOUND_Y.sub("y", token)))
    return any(DamerauLevenshtein.distance(a, b, score_cutoff=limit) <= limit for a, b in pairs)


_SOUND_Y = re.compile(r"(?:ee|ey|ie|ea|y|i)$")


def _name_hit(folded: str, tokens: Sequence[str], vetted_words: set[str]) -> bool:
    if any(_has_word(folded, token) for token in tokens):
        return True
    # Fuzzy only over words that are not in the vetted (coded, non-identifying) parts of the prompt.
    words = {w for w in folded.split() if len(w) >= 4 and w not in vetted_words and not w.isdigit()}
    return any(_typo_of(word, token) for word in words for token in tokens)


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
        m + dy + y2,  # 5/21/74
        dy + m + y2,  # 21/5/74
        y4 + m + dy,  # 1980-3-7
        y2 + mm + dd,  # 80-03-07
    }
    # Compared to whole digit runs only, so five digits ("5/21/74") are specific enough.
    return {f for f in forms if len(f) >= 5}


def _date_word_forms(d: date) -> set[str]:
    month = _MONTHS[d.month - 1]
    forms: set[str] = set()
    years = (str(d.year), f"{d.year % 100:02d}")
    for name in {month, month[:3], month[:4]}:
        for day in (str(d.day), f"{d.day:02d}"):
            for year in years:
                forms.add(f"{name} {day} {year}")
                forms.add(f"{day} {name} {year}")
    return forms


_ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b")
_OF = re.compile(r"\b(\d{1,2}) of ([a-z]+)\b")


def _dob_hit(folded: str, runs: Sequence[str], birth_date: date) -> bool:
    if set(runs) & _date_digit_forms(birth_date):
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


def _code_hit(folded: str, runs: Sequence[str], identifier: str) -> bool:
    """MRNs and other record numbers: ignoring case, punctuation and a prefix; digits alone if
    mostly numeric, leading zeros optional."""
    code = _alnum(identifier)
    if len(code) < _MIN_DIGITS:
        return False
    if code in folded.replace(" ", ""):
        return True
    # "MRN-0048213" on file, "mrn 48213" or "0048213" typed: the number part is what identifies.
    numeric = re.sub(r"^[a-z]+", "", code)
    if len(numeric) >= 5 and numeric != code and _has_word(folded, _fold(numeric)):
        return True
    digits = _digits(code)
    if len(digits) >= 6 and any(digits in run for run in runs):
        return True
    bare = digits.lstrip("0")
    return len(bare) >= 5 and len(digits) >= 0.6 * len(code) and bare in runs


# Street words and their abbreviations, folded to one form (USPS Publication 28 suffixes).
_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "circle": "cir",
    "square": "sq",
    "hollow": "holw",
    "mount": "mt",
    "saint": "st",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "unit",
    "apt": "unit",
    "suite": "unit",
    "ste": "unit",
    "number": "unit",
    "no": "unit",
    "room": "unit",
    "floor": "unit",
    "fl": "unit",
}


def _street_fold(text: str) -> str:
    return " ".join(_STREET_WORDS.get(w, w) for w in _fold(text.replace("#", " unit ")).split())


def _address_hit(folded: str, street_folded: str, address: str) -> bool:
    # Each line of an address ("12 Oak Street Apt 4", "Springfield") is checked on its own, and a
    # street line also without its unit ("12 Oak St").
    for line in address.splitlines() or [address]:
        line_folded = _fold(line)
        if re.fullmatch(r"\d{5}(?: \d{4})?", line_folded):
            if _has_word(folded, line_folded[:5]):
                return True
            continue
        street = _street_fold(line)
        core = street.split(" unit ")[0].strip()
        parts = core.split()
        candidates = {street, core}
        if len(parts) >= 3 and parts[0].isdigit():
            candidates.add(" ".join(parts[1:]))  # "MacGyver Hollow" without the house number
        if any(len(c) >= 6 and _has_word(street_folded, c) for c in candidates):
            return True
    return False


def _email_hit(prompt: str, folded: str, email: str) -> bool:
    email_folded = email.strip().casefold()
    if not email_folded:
        return False
    local = _fold(email_folded.split("@")[0])
    if email_folded in prompt.casefold() or (len(local) >= 4 and _has_word(folded, local)):
        return True
    # "ada dot okafor at example dot com": spelled-out punctuation, spaces dropped.
    spoken = "".join(w for w in folded.split() if w not in {"at", "dot"}).replace("@", "")
    whole = _alnum(email_folded)
    return len(whole) >= 8 and whole in spoken


_ORG_SUFFIXES = {"inc", "llc", "ltd", "co", "corp", "corporation", "company", "the", "plc", "gmbh"}


def _employer_hit(folded: str, employer: str) -> bool:
    words = [w for w in _fold(employer).split() if w not in _ORG_SUFFIXES]
    phrase = " ".join(words)
    return len(phrase) >= 4 and _has_word(folded, phrase)


def phi_check(prompt: str, identifiers: PatientIdentifiers, *, vetted: Sequence[str] = ()) -> list[str]:
    """Which kinds of the patient's identifiers appear in the prompt ("name", "MRN", ...).

    The prompt is normalised for case, accents, spacing, punctuation, dashes, digit forms, spelled
    digits, date formats and street abbreviations; names also match with a typo. `vetted` is the
    coded, non-identifying text put into the prompt (problems, medications): its words are exempt
    from fuzzy name matching (never from exact matching).

    Returns labels only, never the matched text, so the result can be shown and logged safely.
    """
    folded = _fold(prompt)
    runs = _digit_runs(folded)
    vetted_words = {w for text in vetted for w in _fold(text).split()}
    hits: list[str] = []
    name_tokens = _name_tokens(identifiers.given_name, identifiers.family_name)
    if _name_hit(folded, name_tokens, vetted_words):
        hits.append("name")
    if identifiers.birth_date and _dob_hit(folded, runs, identifiers.birth_date):
        hits.append("date of birth")
    if identifiers.mrn and _code_hit(folded, runs, identifiers.mrn):
        hits.append("MRN")
    if any(_number_hit(runs, phone, tail=10) or _number_hit(runs, phone, tail=7) for phone in identifiers.phones):
        hits.append("phone number")
    if any(_email_hit(prompt, folded, email) for email in identifiers.emails):
        hits.append("email address")
    street_folded = _street_fold(prompt)
    if any(_address_hit(folded, street_folded, address) for address in identifiers.addresses if address.strip()):
        hits.append("address")
    if any(_code_hit(folded, runs, ident) for ident in identifiers.insurer_ids if ident.strip()):
        hits.append("insurer id")
    if any(_code_hit(folded, runs, ident) for ident in identifiers.other_ids if ident.strip()):
        hits.append("record number")
    if _name_hit(folded, _name_tokens(*identifiers.other_names), vetted_words):
        hits.append("name of another person")
    if any(_employer_hit(folded, employer) for employer in identifiers.employers if employer.strip()):
        hits.append("employer")
    return hits


# --- What the patient said: identifiers to check prompts against (never to put into one) -------

_PHONE_IN_TEXT = re.compile(r"(?<!\w)\+?\d[\d\s().\-\u2010-\u2015]{5,}\d(?!\w)")
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_STREET_SUFFIX = (
    r"(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Ct|Court|Pl|Place|Way|Hollow|Terrace)"
)
_ADDRESS_IN_TEXT = re.compile(
    rf"\b\d{{1,6}}\s+(?:[A-Za-z][\w'-]*\s+){{0,3}}{_STREET_SUFFIX}\b\.?(?:,?\s*(?:Apt|Unit|Suite|#)\s*\w+)?",
    re.IGNORECASE,
)
_NAME = r"([A-Z][a-z'\-]+(?:\s+[A-Z][a-z'\-]+)?)"
_RELATIONS = (
    "wife|husband|partner|son|daughter|mother|mom|mum|father|dad|brother|sister|friend|neighbou?r|coworker|"
    "co-worker|colleague|boss|manager|roommate|caregiver|carer|doctor|aunt|uncle|cousin|grandmother|"
    "grandfather|grandma|grandpa|girlfriend|boyfriend|fianc[ée]e?|stepmother|stepfather|landlord|nurse"
)
_NAMES_IN_TEXT = [
    re.compile(rf"\b(?:my|our)\s+(?:{_RELATIONS})(?:'s name)?(?:\s+is|\s+named|\s+called|,)?\s+{_NAME}", re.I),
    re.compile(rf"\b(?:name is|named|called|i am|i'm|this is)\s+{_NAME}", re.I),
    re.compile(rf"\b(?:Dr|Doctor)\.?\s+{_NAME}"),
]
_EMPLOYER_IN_TEXT = re.compile(
    r"\b(?:work(?:s|ed|ing)?\s+(?:at|for)|employed\s+(?:at|by)|employer\s+is|job\s+at)\s+"
    r"((?:the\s+)?[A-Z0-9][\w&'.-]*(?:\s+[A-Z0-9&][\w&'.-]*){0,4})"
)


def identifiers_from_text(texts: Iterable[str]) -> dict[str, list[str]]:
    """Phones, emails, street lines, names of people and employers a patient mentioned, found
    with deliberately broad patterns (a false find only makes the check stricter)."""
    found: dict[str, list[str]] = {"phones": [], "emails": [], "addresses": [], "names": [], "employers": []}
    for text in texts:
        text = unicodedata.normalize("NFKC", text or "")
        found["emails"] += _EMAIL_IN_TEXT.findall(text)
        found["phones"] += [m for m in _PHONE_IN_TEXT.findall(text) if 7 <= len(_digits(m)) <= 15]
        found["addresses"] += [m.group() for m in _ADDRESS_IN_TEXT.finditer(text)]
        for pattern in _NAMES_IN_TEXT:
            found["names"] += [m.group(1) for m in pattern.finditer(text)]
        found["employers"] += [m.group(1) for m in _EMPLOYER_IN_TEXT.finditer(text)]
    return {key: list(dict.fromkeys(values)) for key, values in found.items()}


def phi_refusal_message(hits: Sequence[str]) -> str:
    """What staff read when a prompt is refused. Names the kinds of identifier, never the values."""
    kinds = ", ".join(hits)
    return (
        f"Research was not requested: the prompt contains the patient's {kinds}. "
        "Remove identifying details from the question and try again. Nothing was sent."
    )
