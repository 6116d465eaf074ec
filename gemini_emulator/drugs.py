"""Drug names in free text, from the `drug-named-entity-recognition` library's dictionary.

The library maps ~100k names (generic, brand, salt forms: "Advil" -> ibuprofen, "chlorpheniramine
maleate" -> chlorpheniramine, "EpiPen" -> epinephrine) to their ingredient. We read its dictionary
file once at import instead of importing its finder: the finder builds an n-gram index at import
(seconds of CPU) for a fuzzy matcher that also matches ordinary words ("month" -> a drug).
Misspellings ("metforman", "lisinoprill") are matched with rapidfuzz against the same names,
only for words that are not common English and only at a high similarity.
"""

from __future__ import annotations

import bz2
import importlib.util
import itertools
import pickle
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from gemini_emulator import vocab

MAX_WORDS = 4  # longest name tried, in words ("abacavir dolutegravir and lamivudine" is longer, and rare)
FUZZY_MIN_LEN = 6  # shorter words are too easy to confuse ("bees" ~ a drug)
FUZZY_CUTOFF = 86.0
SPELLING_RATIO = 80.0  # a listed name this close to its ingredient is a spelling of it, not a brand


def _load() -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    spec = importlib.util.find_spec("drug_named_entity_recognition")
    if spec is None or spec.origin is None:
        return {}, {}
    path = Path(spec.origin).parent / "drug_ner_dictionary.pkl.bz2"
    try:
        with bz2.open(path, "rb") as f:
            data = pickle.load(f)  # noqa: S301 (the pinned library's own data file)
        return dict(data["drug_variant_to_canonical"]), dict(data["drug_canonical_to_data"])
    except (OSError, KeyError, pickle.UnpicklingError):  # a changed file layout: use the library's loader
        from drug_named_entity_recognition import drugs_finder

        return dict(drugs_finder.drug_variant_to_canonical), dict(drugs_finder.drug_canonical_to_data)


VARIANTS, _CANONICAL = _load()
# Library entries that are also everyday words in patients' messages (none of them is said as a drug).
NOT_DRUGS = vocab.word_set("sits")
# Misspellings are matched only against medicines (a DrugBank, MedlinePlus or NHS entry), not against
# the library's proteins and reagents, which sit one letter away from everyday words.
_BY_INITIAL: dict[str, list[str]] = {}
for _name, _canon in VARIANTS.items():
    if " " in _name or not _name.isalpha() or len(_name) < FUZZY_MIN_LEN - 1:
        continue
    if any({"drugbank_id", "medline_plus_id", "nhs_url"} & set(_CANONICAL.get(c, {})) for c in _canon):
        _BY_INITIAL.setdefault(_name[0], []).append(_name)
del _CANONICAL

# Salt and form words that follow an ingredient ("metoprolol succinate", "sertraline HCl").
SALTS = vocab.word_set(
    """hcl hydrochloride maleate succinate tartrate sodium potassium calcium besylate mesylate sulfate sulphate
    citrate phosphate acetate fumarate bromide chloride er xr sr xl cr dr extended release"""
)
# The everyday words a fuzzy match must never turn into a drug name.
COMMON = (
    vocab.STOP_WORDS
    | vocab.word_set(
        """morning evening tonight tomorrow yesterday monday tuesday wednesday thursday friday saturday sunday weekend
    months minutes seconds hours weekly monthly daily nightly bedtime twice medicine medication medications
    prescription prescribed pharmacy doctor nurse teacher insurance allergic allergies allergy reaction
    headache headaches migraine stomach nausea vomiting diarrhea fever cough coughing breathing chest pressure
    pain painful swelling swollen dizzy rashes hives itching itchy sneezing tablets tablet capsules capsule
    inhaler injection shots vitamins vitamin supplement supplements something anything nothing everything
    really actually usually always sometimes normally probably definitely currently recently started stopped
    taking needed whenever because before after during without within another mother father sister brother
    husband children grandmother grandfather grandma grandpa parent parents primary control generic reverse
    vaccine vaccines surgery operation hospital lactose gluten"""
    )
    | frozenset(
        w
        for table in (vocab.SYMPTOMS, vocab.CONDITIONS, vocab.REACTIONS)
        for forms in table.values()
        for form in forms
        for w in form.lower().split()
    )
)
# Everyday English endings that drug names do not have ("creation", "mapping", "payment").
ENGLISH_ENDINGS = ("tion", "sion", "ing", "ment", "ness", "ity", "ary", "ous", "ful", "less", "ship", "ward")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")


@dataclass(frozen=True)
class DrugHit:
    start: int
    end: int
    surface: str  # the words as written, salt words dropped
    name: str  # the name to record: the patient's word, spelled right
    ingredient: str  # the library's canonical ingredient


@lru_cache(maxsize=4096)
def _fuzzy(word: str) -> str:
    """The library name a misspelt word stands for ("" when none is close enough)."""
    pool = _BY_INITIAL.get(word[0], [])
    best = process.extractOne(
        word,
        [n for n in pool if abs(len(n) - len(word)) <= 1],
        scorer=fuzz.ratio,
        score_cutoff=FUZZY_CUTOFF,
    )
    return best[0] if best else ""


def _misspelling_candidate(low: str) -> bool:
    return (
        len(low) >= FUZZY_MIN_LEN
        and low.isalpha()
        and low not in COMMON
        and low not in VARIANTS
        and not low.endswith(ENGLISH_ENDINGS)
    )


def _vitamin(word: str) -> str:
    """ "B12", "D3": vitamins said without the word "vitamin"."""
    if re.fullmatch(r"[a-eA-EkK]\d{0,2}", word) and len(word) >= 2:
        name = f"vitamin {word.lower()}"
        return name if name in VARIANTS else ""
    return ""


def _proper_name(words: list[re.Match[str]], i: int) -> bool:
    """A capitalised word next to another capitalised non-drug word: a person or place ("Hana Kim")."""
    w = words[i].group(0)
    if not w[:1].isupper() or w.isupper():
        return False
    for j in (i - 1, i + 1):
        if 0 <= j < len(words):
            other = words[j].group(0)
            if other[:1].isupper() and other not in ("I", "I'm") and other.lower() not in VARIANTS:
                return True
    return False


@lru_cache(maxsize=8192)
def find(text: str, *, fuzzy: bool = False) -> tuple[DrugHit, ...]:
    """Drug names in `text`, longest match first, in reading order. `fuzzy`: the text is about
    medicines (the caller decides), so a misspelt name counts too."""
    words = list(_WORD_RE.finditer(text))
    hits: list[DrugHit] = []
    i = 0
    while i < len(words):
        found = None
        for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
            span = words[i : i + n]
            if n > 1 and any(text[a.end() : b.start()].strip() not in ("", "-") for a, b in itertools.pairwise(span)):
                continue  # a name never spans punctuation
            key = " ".join(w.group(0).lower() for w in span)
            if key not in VARIANTS and n <= 2:
                # "epi pen" and "epi-pen" are the listed name "epipen"
                joined = re.sub(r"[\s-]+", "", key)
                key = joined if joined != key and len(joined) >= 6 and joined in VARIANTS else key
            if key in VARIANTS and key not in NOT_DRUGS and (n > 1 or len(key) >= 4 or key.isupper()):
                if n == 1 and _proper_name(words, i):
                    break
                found = (n, key, key)
                break
        if found is None:
            w = words[i].group(0)
            low = w.lower()
            vit = _vitamin(w)
            if vit:
                found = (1, vit, vit)
            elif fuzzy and _misspelling_candidate(low):
                spelt = _fuzzy(low)
                if spelt:
                    found = (1, spelt, spelt)
        if found is None:
            i += 1
            continue
        n, key, spelt = found
        ingredient = VARIANTS[key][0]
        span = words[i : i + n]
        kept = [w.group(0).lower() for w in span]
        while len(kept) > 1 and kept[-1] in SALTS:
            kept.pop()  # "chlorpheniramine maleate" is chlorpheniramine
        if re.sub(r"[\s-]+", "", " ".join(kept)) == key:
            kept = [key]  # "epi pen" is recorded as "epipen"
        name = " ".join(kept) if spelt == key and " ".join(kept) in VARIANTS else spelt
        if name != spelt and spelt.startswith(name):
            name = " ".join(kept)
        bare, canon = name.replace(" ", ""), ingredient.replace(" ", "")
        same = canon.startswith(bare) or bare.startswith(canon)  # "b12" / "b 12", plurals
        if not same and fuzz.ratio(name, ingredient) >= SPELLING_RATIO:
            name = ingredient  # the library lists common misspellings ("ibuprophen"): write it right
        hits.append(DrugHit(span[0].start(), span[-1].end(), " ".join(kept), name, ingredient))
        i += n
    return tuple(hits)


def ingredient(name: str) -> str:
    """The ingredient a drug name stands for ("" when the library does not know it)."""
    hits = find(name)
    return hits[0].ingredient if hits else ""
