"""Medicines in one patient message: names, doses, schedules, and whether they still take them.

General rules over the drug-name library (`drugs.find`: brands, salts, misspellings) and a few
word tables kept here as data. Nothing here knows an app's field names or a card's sentences.

- Mentions: library names, the vocabulary's drug words and classes ("water pill"), an unknown word
  right before a dose ("zestoretic 20 mg") or right after a taking verb ("taking nyquil"). A class
  word in apposition to a named drug ("a water pill, hydrochlorothiazide") is that drug; a dose-form
  word after a drug ("Claritin chewables") is part of it.
- Dose: written after the name ("25mg", "fifty milligrams", a bare "500" = 500 mg, "the 500s"),
  before it ("1000mg of metformin"), or as a count of a strength ("two of the 500 mg ones" =
  1000 mg, "half a 25" = 12.5 mg; a total said outright, "so 12.5", wins).
- Status, ConText-style: cue phrases with a direction and a scope. A stop cue before a name ("I
  stopped the X", "no more X", "switched from X to Y") reaches forward to the next break; a cue with
  no name after it ("X, but I stopped", "tried X but gave up on it", "never had one filled") reaches
  back to the nearest name. "Never started / never filled" is *not taking*; "still", "back on",
  "switched to" keep it current.
- A self-correction ("Zyrtec. No wait, it's Claritin") drops the name it corrects.
- A drug named as what the patient reacts to ("allergic to X", "X gives me hives") is an allergen,
  not a medicine; "for my allergies" is what a medicine is for, not an allergy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gemini_emulator import drugs, vocab

# --- numbers ---------------------------------------------------------------------------------

_ORDER = tuple(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen""".split()  # noqa: SIM905 (a word list reads better than a literal)
)
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SMALL = {w: i for i, w in enumerate(_ORDER)} | _TENS
_NUM_WORD = r"(?:" + "|".join(sorted([*_SMALL, "hundred", "thousand"], key=len, reverse=True)) + r")"
# "the five hundreds" is "the 500s": a plural "s" may follow
_NUM_PHRASE = re.compile(rf"\b{_NUM_WORD}(?:[\s-]+(?:and\s+)?{_NUM_WORD})*(?:\s+and\s+a\s+half)?(?:s)?\b", re.I)


def _phrase_value(phrase: str) -> float | None:
    total, current = 0, 0
    half = bool(re.search(r"and\s+a\s+half$", phrase, re.I))
    words = re.findall(r"[a-z]+", re.sub(r"and\s+a\s+half$", "", phrase.lower()))
    for w in words:
        if w == "and":
            continue
        if w in _SMALL:
            current += _SMALL[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
    value = float(total + current)
    return value + 0.5 if half else value


def words_to_digits(text: str) -> str:
    """ "five hundred milligram" -> "500 milligram", "fifty" -> "50"; a lone "one" (a pronoun as often
    as a number) only before a unit or "hundred"."""

    def sub(m: re.Match[str]) -> str:
        phrase, plural = m.group(0), ""
        if re.search(r"(?:hundred|thousand|ty)s$", phrase, re.I):
            phrase, plural = phrase[:-1], "s"
        elif phrase.lower().endswith("s") and phrase.lower() not in _SMALL:
            return phrase
        if phrase.lower() == "one" and not re.match(rf"\s*(?:{_UNIT_ALT})\b", text[m.end() :], re.I):
            return phrase
        value = _phrase_value(phrase)
        if value is None:
            return m.group(0)
        return (str(int(value)) if value.is_integer() else str(value)) + plural

    return _NUM_PHRASE.sub(sub, text)


# --- doses -----------------------------------------------------------------------------------

UNIT_WORDS = {
    "milligrams": "mg",
    "milligram": "mg",
    "mgs": "mg",
    "mg": "mg",
    "micrograms": "mcg",
    "microgram": "mcg",
    "mcg": "mcg",
    "µg": "mcg",
    "grams": "g",
    "gram": "g",
    "g": "g",
    "milliliters": "ml",
    "millilitres": "ml",
    "ml": "ml",
    "cc": "ml",
    "units": "units",
    "unit": "units",
    "iu": "units",
    "meq": "mEq",
    "puffs": "puffs",
    "puff": "puff",
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNIT_WORDS, key=len, reverse=True))
_NUMBER = r"(\d+(?:[.,]\d+)?)"
DOSE = re.compile(rf"{_NUMBER}\s?({_UNIT_ALT})(?![a-z])", re.I)
# Words that may stand between a name and its bare strength ("metforman 500 ER", "Toprol XL 50",
# "my metformin ER is 750 now"): dose forms, releases, salts.
FORM_WORDS = vocab.word_set(
    """er xr sr xl cr dr la hcl chewable chewables tablet tablets tab tabs pill pills capsule capsules cream
    ointment gel patch extra strength regular otc generic brand is at of"""
)
_AFTER_NAME = re.compile(
    rf"^(?:\s*(?:{'|'.join(sorted(FORM_WORDS | drugs.SALTS, key=len, reverse=True))})\b)*\s*(?:now\s+)?{_NUMBER}"
    rf"(?!\d|\.\d)(?!\s*(?:-|or|to|at a time|times?|x\b|hours?|hrs?|hr|days?|weeks?|months?|years?|%|/))",
    re.I,
)
_BARE_PLURAL = re.compile(r"\b(?:the\s+)?(\d+(?:\.\d+)?)s\b", re.I)  # "the Tylenol 500s"
_COUNT_OF = re.compile(
    rf"\b(\d+(?:\.\d+)?|half|a half)\s+(?:of\s+)?(?:the|my|those|these)\s+{_NUMBER}\s*({_UNIT_ALT})?"
    r"(?:\s*-?\s*(?:ones?|tablets?|tabs?|pills?|capsules?)"
    # "two of the 500s", "half of the 25 now": a count "of" a strength, without "ones"
    r"|s\b|(?<=\d)(?=\s*(?:now|then|a day|daily|every|each|at|in the|,|\.|;|$)))",
    re.I,
)
_COUNT_OF_BEFORE = re.compile(
    rf"\b(\d+(?:\.\d+)?|half)\s+of\s+(?:the|my|those|these)\s+{_NUMBER}\s*({_UNIT_ALT})?\s*$", re.I
)
_HALF_BEFORE = re.compile(r"\bhalf\s+(?:of\s+)?(?:a|an|my|the)\s*$", re.I)
_CHANGED_TO = re.compile(
    r"\b(?:cut|reduced|lowered|decreased|dropped|increased|upped|raised|bumped|doubled|went|changed|adjusted)"
    rf"(?:\s+(?:it|me|that|the dose|my dose))?(?:\s+(?:down|up|back))?\s+to\s+{_NUMBER}\s*({_UNIT_ALT})?(?!\d|\.\d)",
    re.I,
)
_SAID_TOTAL = re.compile(rf"\bso\s+(?:that's\s+|thats\s+|about\s+)?{_NUMBER}\s*({_UNIT_ALT})?", re.I)
_STRENGTH_IN = re.compile(rf"{_NUMBER}\s*({_UNIT_ALT})", re.I)
_COUNT_BEFORE = re.compile(
    rf"(?:{_NUMBER}\s?({_UNIT_ALT})|(\d+|half a|an?)\s+(puffs?|tablets?|tabs|capsules?|pills?|drops|sprays?|units?))"
    r"\s+(?:of\s+)?(?:my\s+|the\s+|your\s+)?$",
    re.I,
)


# The unit a medicine's strength is written in when a patient leaves it out ("metoprolol 25" is 25 mg,
# "Synthroid 88" is 88 mcg, "Lantus 20" is 20 units), as the drugs' US labels (DailyMed) state their
# strengths. Most tablets and capsules are labelled in mg; these are not.
USUAL_UNITS: dict[str, str] = {
    **dict.fromkeys(
        vocab.word_set(
            """levothyroxine liothyronine thyroxine cyanocobalamin fentanyl fluticasone budesonide mometasone
            beclomethasone ciclesonide salmeterol formoterol tiotropium ipratropium albuterol salbutamol
            levalbuterol misoprostol calcitriol desmopressin liraglutide semaglutide dulaglutide exenatide"""
        ),
        "mcg",
    ),
    **dict.fromkeys(
        vocab.word_set("insulin heparin enoxaparin cholecalciferol ergocalciferol"),
        "units",
    ),
    # minerals and supplements sold by their mg ("magnesium 400")
    **dict.fromkeys(vocab.word_set("magnesium calcium zinc iron melatonin"), "mg"),
}
# Medicines labelled in several units by form (a patch in mcg a day, a tablet in mg): left out.
UNIT_BY_FORM = vocab.word_set("estradiol nitroglycerin testosterone clonidine buprenorphine nicotine")


def _unit(word: str | None, ingredient: str) -> str:
    if word:
        return UNIT_WORDS.get(word.lower(), word.lower())
    # A bare strength: the unit the medicine is labelled in. A name the drug library does not know
    # ("nyquil 30"), or a medicine labelled in several units, keeps the number as said, unit unknown.
    words = set(re.findall(r"[a-z]+", ingredient.lower()))
    usual = next((USUAL_UNITS[w] for w in words if w in USUAL_UNITS), "")
    if usual:
        return usual
    if not drugs.ingredient(ingredient) or words & UNIT_BY_FORM:
        return ""
    return "mg"


def _num(text: str) -> float:
    return float(text.replace(",", "."))


def _fmt(value: float, unit: str) -> str:
    amount = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{amount} {unit}".strip()


def dose_of(before: str, after: str, ingredient: str) -> str:
    """The dose told around one mention: `before` is the text just before the name (same
    sentence), `after` the text from the name's end to the next mention."""
    before, after = words_to_digits(before), words_to_digits(after)
    changed = _CHANGED_TO.search(after)
    if changed:  # "Zoloft 100 but I cut it down to 50": the dose now
        return _fmt(_num(changed.group(1)), _unit(changed.group(2), ingredient))
    said = _SAID_TOTAL.search(after)
    if said:  # "half a Benadryl, so 12.5": the total said outright
        return _fmt(_num(said.group(1)), _unit(said.group(2), ingredient))
    count = _COUNT_OF.search(after)
    if count:  # "two of the five hundred milligram ones"
        n = 0.5 if "half" in count.group(1).lower() else _num(count.group(1))
        return _fmt(n * _num(count.group(2)), _unit(count.group(3), ingredient))
    if _HALF_BEFORE.search(before):  # "half a lorazepam, the 1 mg ones"
        strength = _STRENGTH_IN.search(after) or _AFTER_NAME.search(after)
        if strength:
            unit = strength.group(2) if strength.re is _STRENGTH_IN else None
            return _fmt(0.5 * _num(strength.group(1)), _unit(unit, ingredient))
    count_before = _COUNT_OF_BEFORE.search(before)
    if count_before:  # "three of the 100 mg gabapentin"
        n = 0.5 if "half" in count_before.group(1).lower() else _num(count_before.group(1))
        return _fmt(n * _num(count_before.group(2)), _unit(count_before.group(3), ingredient))
    m = _COUNT_BEFORE.search(before)
    if m and m.group(1):  # "1000mg of metformin"
        return _fmt(_num(m.group(1)), _unit(m.group(2), ingredient))
    explicit = DOSE.search(after)
    bare = _AFTER_NAME.search(after)
    if bare and (not explicit or bare.start(1) < explicit.start()):
        unit_after = re.match(rf"\s*({_UNIT_ALT})(?![a-z])", after[bare.end() :], re.I)
        return _fmt(_num(bare.group(1)), _unit(unit_after.group(1) if unit_after else None, ingredient))
    if explicit:
        return _fmt(_num(explicit.group(1)), _unit(explicit.group(2), ingredient))
    plural = _BARE_PLURAL.search(after[:30])
    if plural:
        return _fmt(_num(plural.group(1)), _unit(None, ingredient))
    if m and m.group(3):  # "two puffs of albuterol"
        count = {"half a": "0.5", "an": "1", "a": "1"}.get(m.group(3).lower(), m.group(3))
        return f"{count} {m.group(4).lower()}"
    return ""


# --- status (ConText-style cues) -------------------------------------------------------------

STOP, NEVER, CURRENT = "stopped", "never", "current"
# (pattern, category). Forward: the cue governs the names after it up to a break. A cue with no
# name after it in its scope governs the nearest name before it.
CUES: tuple[tuple[str, str], ...] = (
    (r"stopped|quit|came off|gave up(?: on)?|no more|no longer(?: take| taking| on| use| using)?|ran out of", STOP),
    (r"not taking|not on|don'?t take|do not take|don'?t use|do not use|didn'?t take|not using", STOP),
    (r"switched (?:me )?(?:off|from)|changed (?:me )?from|took me off|taken off|done with|discontinued", STOP),
    (r"used to (?:take|be on|use|have)|got rid of|not anymore|not any more|finished|completed", STOP),
    (r"haven'?t been (?:taking|using|on)|not been taking|i'?m off|been off|went off|gone off|came off", STOP),
    # "I'm supposed to take it but I don't": a bare "I don't" reaches back
    (r"i don'?t(?=\s*(?:really|anymore|any more)?\s*(?:[,.;!]|$))", STOP),
    # "haven't needed it since the rash cleared" stops; "haven't used my epipen yet" does not
    (
        r"haven'?t (?:taken|needed|used|touched|had)"
        r"(?=[^.;]*\b(?:since|in (?:years|months|a while)|for (?:years|months)))",
        STOP,
    ),
    # "never picked it up", "never got the prescription filled", "didn't bother filling it"
    (
        r"never (?:started|took|taken|filled|picked (?:(?:it|them|that|those|one) )?up|got around to"
        r"|had (?:it|one|them|that)? ?filled|got (?:it|one|them|that|the (?:script|prescription)) filled)",
        NEVER,
    ),
    (
        r"didn'?t (?:start|fill|pick (?:(?:it|them|that) )?up|get (?:it|them|that) filled|bother (?:filling|starting))"
        r"|not started|haven'?t (?:started|begun|filled|picked (?:(?:it|them|that) )?up|gotten (?:it|them) filled)",
        NEVER,
    ),
    (
        r"still|back on|switched (?:me )?to|changed (?:me )?to|now on|started (?:me )?on|restarted|i take|i'm on",
        CURRENT,
    ),
)
CUE_RE = re.compile(r"\b(?:" + "|".join(f"(?P<c{i}>{p})" for i, (p, _) in enumerate(CUES)) + r")\b", re.I)
# What ends a cue's scope: a sentence or clause break, or a contrast.
SCOPE_END = re.compile(r"[.;!?]|\b(?:but|still|now|whereas|while|though)\b|,\s*(?:and\s+)?(?:i|i'm|my)\b", re.I)
_ANYMORE = re.compile(r"\b(?:anymore|any more|no longer)\b", re.I)
# A self-correction: the name before it was a slip ("Zyrtec. No wait, it's Claritin").
CORRECTION_RE = re.compile(
    r"\b(?:no wait|wait,? no|i mean|sorry,? (?:i mean|it's|its|it was|no)|no,? sorry|oops|scratch that|my mistake"
    r"|actually,? no|no,? actually|correction)\b",
    re.I,
)


def _cue_category(m: re.Match[str]) -> str:
    for i, (_, cat) in enumerate(CUES):
        if m.group(f"c{i}"):
            return cat
    return ""


# --- allergen vs medicine --------------------------------------------------------------------

ALLERGEN_BEFORE = re.compile(
    r"\b(?:allergic to|allergy to|allergies to|reaction to|react to|can'?t take|cannot take|can'?t have|"
    r"intolerant (?:of|to)|sensitive to)\s+(?:the\s+|any\s+|all\s+)?(?:[a-z-]+\s+){0,2}$",
    re.I,
)
ALLERGEN_AFTER = re.compile(
    r"^\s*(?:,|-|\u2013)?\s*(?:\w+\s+)?(?:gives?|gave|makes?|made|causes?|caused|breaks?|broke)\s+me\b"
    # "it makes me feel better", "gives me relief": what it does for them, not a reaction
    r"(?!\s+(?:feel\s+)?(?:(?:a\s+lot|much|way|so\s+much)\s+)?(?:better|good|fine|normal|okay|ok|sleep|relief)\b)",
    re.I,
)
# What a medicine is for: "for my allergies", "when my allergies act up" say why, not what to avoid.
INDICATION_RE = re.compile(
    r"\b(?:for|when|with)\s+(?:my\s+|the\s+|seasonal\s+)?(?:allerg(?:y|ies)|hay fever)"
    r"(?:\s+(?:act(?:s|ing)? up|flare(?:s)? up|are bad|season))?"
    r"|\ballergy\s+(?:pill|pills|medicine|meds|medication|tablets?|shots?)\b",
    re.I,
)


def without_indications(text: str) -> str:
    """`text` with "for my allergies"-style reasons for a medicine blanked out (same length)."""
    return INDICATION_RE.sub(lambda m: " " * len(m.group(0)), text)


# --- mentions --------------------------------------------------------------------------------

MED_CUE_RE = re.compile(
    r"\b(?:take|takes|taking|took|on|prescribed|pills?|tablets?|meds?|medications?|medicines?|dose|doses|"
    r"mg|mcg|milligrams?|stopped|quit|started|daily|twice|inhaler|shots?|injections?|switched|using)\b",
    re.I,
)
TAKE_VERB_RE = re.compile(
    r"\b(?:taking|take|takes|took|tried|trying)\s+(?:the\s+|my\s+|some\s+|a\s+|an\s+)?"
    r"(?:(?:\d+|one|two|three|four|half an?|a couple of)\s+)?([A-Za-z][A-Za-z-]{3,})\b",
    re.I,
)
# Class words ("the pill", "my water pill") followed by the product's own name: "the pill, Sprintec".
_NAMED_AFTER_CLASS = re.compile(
    r"\b(?:pill|pills|medicine|medication|inhaler|cream|shot|shots|drops|birth control|contraceptive)\s*[,:(-]\s*"
    r"([A-Z][A-Za-z-]{3,})\b"
)


NOT_A_MEDICINE_AFTER = re.compile(
    r"\s+(?:deficien\w*|overload|levels?|toxicity|poisoning|insufficiency"
    r"|was (?:low|high)|(?:is|are|were) (?:low|high))\b",
    re.I,
)
NOT_A_MEDICINE_BEFORE = re.compile(r"\b(?:low|high|lack of|not enough|too much|deficient in|deficiency of)\s+$", re.I)


@dataclass
class Mention:
    start: int
    end: int
    name: str
    ingredient: str = ""
    cls: bool = False  # an everyday class name ("water pill")


def _plain_word(word: str, *, salt_ok: bool = False) -> bool:
    low = word.lower()
    if salt_ok and low in drugs.SALTS:  # "potassium 20 mEq" names a supplement
        return False
    return (
        low in _SMALL
        or low in ("half", "hundred", "thousand")
        or low in drugs.COMMON
        or low in vocab.STOP_WORDS
        or low in FORM_WORDS
        or low.endswith(drugs.ENGLISH_ENDINGS)
        or low in drugs.SALTS
        or any(low in forms for forms, _ in vocab.DRUG_CLASSES.values())
    )


def mentions(sentence: str, *, about_meds: bool) -> list[Mention]:
    fuzzy = about_meds or bool(MED_CUE_RE.search(sentence))
    found = [Mention(h.start, h.end, h.name, h.ingredient) for h in drugs.find(sentence, fuzzy=fuzzy)]

    def free(s: int, e: int) -> bool:
        return not any(m.start < e and s < m.end for m in found)

    from gemini_emulator.extract import CLASS_RE, CONDITION_RE, DRUG_RE  # the vocabulary's names

    # "high cholesterol" is a condition, although the library lists cholesterol as a substance.
    conditions = [(m.start(), m.end()) for rx in CONDITION_RE.values() for m in rx.finditer(sentence)]
    for m in DRUG_RE.finditer(sentence):
        if free(m.start(), m.end()) and m.group(0).lower() not in drugs.SALTS:
            found.append(Mention(m.start(), m.end(), m.group(0).lower()))
    found = [f for f in found if not any(s <= f.start and f.end <= e for s, e in conditions)]
    # "iron deficiency anemia", "low potassium", "my vitamin D levels": a condition or a lab, not a medicine
    found = [
        f
        for f in found
        if not NOT_A_MEDICINE_AFTER.match(sentence[f.end :]) and not NOT_A_MEDICINE_BEFORE.search(sentence[: f.start])
    ]
    for rx in CLASS_RE.values():  # "my cholesterol pill" is the class, not the substance in it
        for m in rx.finditer(sentence):
            found = [f for f in found if not (m.start() <= f.start and f.end <= m.end())]
    named = list(found)
    for canon, rx in CLASS_RE.items():
        for m in rx.finditer(sentence):
            if not free(m.start(), m.end()):
                continue
            # "albuterol inhaler" (a form after a name) and "a water pill, hydrochlorothiazide" (a
            # class beside its named drug) are the named drug.
            near = any(0 <= m.start() - d.end <= 2 or 0 <= d.start - m.end() <= 3 for d in named)
            if not near:
                found.append(Mention(m.start(), m.end(), canon, cls=True))
    # Unknown words that still name a medicine: before a dose, after a taking verb, after a class word.
    unknown: list[tuple[int, int, str, bool]] = []
    for m in re.finditer(rf"\b([A-Za-z][A-Za-z-]{{3,}})\s+(?={DOSE.pattern})", sentence, re.I):
        unknown.append((m.start(1), m.end(1), m.group(1), True))
    if about_meds:
        for rx in (TAKE_VERB_RE, _NAMED_AFTER_CLASS):
            for m in rx.finditer(sentence):
                unknown.append((m.start(1), m.end(1), m.group(1), False))
    for s, e, word, before_dose in unknown:
        after_named = any(0 <= s - d.end <= 1 for d in found)  # "Claritin chewables 5mg"
        if not _plain_word(word, salt_ok=before_dose) and free(s, e) and not after_named:
            found.append(Mention(s, e, word.lower()))
    found.sort(key=lambda x: x.start)
    return found


# --- reading ---------------------------------------------------------------------------------


@dataclass
class MedFact:
    name: str
    dose: str = ""
    frequency: str = ""
    status: str = ""  # "" taking, "stopped", "never"
    allergen: bool = False  # the message names it as something they react to


def _status(sentence: str, found: list[Mention]) -> list[str]:
    statuses = [""] * len(found)
    for cue in CUE_RE.finditer(sentence):
        cat = _cue_category(cue)
        # Forward scope: to the next break ("switched from X to Y": up to "to").
        rest = sentence[cue.end() :]
        stop = SCOPE_END.search(rest)
        end = cue.end() + (stop.start() if stop else len(rest))
        if re.match(r"switched|changed", cue.group(0), re.I) and cat == STOP:
            to = re.search(r"\bto\b", rest)
            end = min(end, cue.end() + to.start()) if to else end
        ahead = [i for i, m in enumerate(found) if cue.end() <= m.start < end]
        behind = [i for i, m in enumerate(found) if m.end <= cue.start()]
        if ahead:
            for i in ahead:
                statuses[i] = "" if cat == CURRENT else cat
            # "I was taking ibuprofen but switched to Tylenol": what they switched from is stopped
            if cat == CURRENT and re.match(r"switched|changed", cue.group(0), re.I) and behind:
                statuses[behind[-1]] = statuses[behind[-1]] or STOP
            continue
        if cat == CURRENT:
            continue
        if behind:
            statuses[behind[-1]] = cat
    for i, m in enumerate(found):  # "I don't take tylenol anymore": the negation before, "anymore" after
        seg_end = found[i + 1].start if i + 1 < len(found) else len(sentence)
        if not statuses[i] and _ANYMORE.search(sentence[m.end : seg_end]):
            statuses[i] = STOP
    return statuses


def read_sentence(sentence: str, *, about_meds: bool, about_allergies: bool = False) -> list[MedFact]:
    """The medicines one sentence names, with dose, schedule and status."""
    from gemini_emulator.extract import REACTION_RE, _freq, _negated  # shared readers

    found = mentions(sentence, about_meds=about_meds)
    if not found:
        return []
    plain = without_indications(sentence)
    statuses = _status(plain, found)
    out: list[MedFact] = []
    for i, m in enumerate(found):
        prev_end = found[i - 1].end if i else 0
        nxt = found[i + 1].start if i + 1 < len(found) else len(sentence)
        before, after = sentence[prev_end : m.start], sentence[m.end : nxt]
        dose = dose_of(before[-40:], after, m.ingredient or m.name)
        freq = _freq(after) or (_freq(sentence) if len(found) == 1 else "")
        use_verb = re.search(r"\b(?:use|used|need|needed)\b(?:\s+to\s+use)?\s+(?:my|the|an?)?\s*$", plain[: m.start])
        if not statuses[i] and _negated(plain, m.start) and not use_verb:
            continue  # "no blood thinners"; but "haven't needed my inhaler" still has one
        allergic_to = bool(ALLERGEN_BEFORE.search(plain[max(0, m.start - 60) : m.start]))
        # "I stopped the Benadryl, it made me groggy": a medicine stopped for a side effect, not an allergen
        allergen = allergic_to or (bool(ALLERGEN_AFTER.search(after)) and statuses[i] not in (STOP, NEVER))
        if not dose and not MED_CUE_RE.search(sentence):
            # A bare drug name answering "any allergies?", or told with what it does to them
            # ("amoxicillin - I got hives"), is an allergen; "Benadryl when I get hives" is a use.
            others = sentence[: m.start] + " " * (m.end - m.start) + sentence[m.end :]
            # "the rash" / "my rash" is what the medicine treats, not what it did to them
            reaction = any(
                not re.search(r"\b(?:the|my|his|her|this|that)\s+$", others[: r.start()])
                for rx in REACTION_RE.values()
                for r in rx.finditer(others)
            )
            # "Benadryl when I get hives" says when it is used; "when I was little" says when it happened
            indication = re.search(
                r"\bfor\b(?!\s+(?:hours|days|weeks|months|ages|a (?:while|day|week|few)|several|a couple|\d+"
                r"|two|three))|\b(?:when|if|whenever)\b"
                r"(?!\s+(?:i|we|she|he)\s+(?:was|were|had (?:my|surgery|an operation|a baby))\b)",
                after,
                re.I,
            )
            told_use = bool(statuses[i])  # "stopped it", "never started it": a medicine, not an allergen
            allergen = allergen or (
                ((about_allergies and not about_meds) or reaction) and not indication and not told_use
            )
        out.append(MedFact(m.name, dose, freq, statuses[i], allergen))
    return out


def read(text: str, *, about_meds: bool, about_allergies: bool = False) -> list[MedFact]:
    """The medicines a whole message names. A correction ("no wait, it's X") drops the name before
    it; a later sentence's bare stop cue ("I stopped it") reaches back to the last name."""
    from gemini_emulator.extract import asks, split_sentences

    out: list[MedFact] = []
    for sentence in split_sentences(text):
        if asks(sentence):
            continue
        facts = read_sentence(sentence, about_meds=about_meds, about_allergies=about_allergies)
        corrected = CORRECTION_RE.search(sentence)
        if (
            corrected
            and facts
            and out
            and not any(m.start < corrected.start() for m in mentions(sentence, about_meds=about_meds))
        ):
            out.pop()  # "I take Zyrtec every day. No wait, it's Claritin"
        elif corrected and len(facts) >= 2:
            starts = [m.start for m in mentions(sentence, about_meds=about_meds)]
            if len(starts) == len(facts):
                keep = [
                    f
                    for f, s, s2 in zip(facts, starts, [*starts[1:], 10**9], strict=True)
                    if not (s < corrected.start() < s2)
                ]
                facts = keep
        changed = _CHANGED_TO.search(words_to_digits(sentence))
        if not facts and out and changed and re.search(r"\b(?:it|that|the dose|my dose|them)\b", sentence, re.I):
            # "Sertraline 50. They bumped it up to 100 last month.": the dose now, of the medicine just named
            dose = dose_of("", sentence, out[-1].name)
            unit_before = re.search(r"[a-z]+$", out[-1].dose, re.I)
            if dose and not re.search(r"[a-z]", dose, re.I) and unit_before:
                dose = f"{dose} {unit_before.group(0)}"  # "20 mg ... lowered it to 10": still mg
            out[-1].dose = dose or out[-1].dose
            continue
        if not facts and out:
            cue = next((c for c in CUE_RE.finditer(sentence) if _cue_category(c) in (STOP, NEVER)), None)
            if cue and re.search(r"\b(?:it|them|that|those|one)\b|^\W*(?:i\s+)?(?:stopped|quit)\W*$", sentence, re.I):
                out[-1].status = _cue_category(cue)
        out.extend(facts)
    return out


def same(a: str, b: str) -> bool:
    """Two names of one medicine ("paracetamol" and "tylenol", "epi pen" and "epipen")?"""
    if a.lower() == b.lower():
        return True
    ia, ib = drugs.ingredient(a), drugs.ingredient(b)
    return bool(ia and ib and ia == ib)
