"""Drug names to ingredients, however the patient or the chart writes them. Pure code: no ORM.

Decisions:
- The vocabulary is `drug-named-entity-recognition` (DrugBank, MeSH and Wikipedia names with
  brand names and synonyms, shipped inside the package, read offline): "Advil" -> ibuprofen,
  "Zyrtec" -> cetirizine, "HCTZ" -> hydrochlorothiazide. Its longest multi-word name wins, so
  "vitamin b 12" is one ingredient, not "vitamin" and "12".
- Misspellings ("metforman", "lisinipril") fall back to `rapidfuzz` over the same vocabulary's
  one-word names, with a high cutoff and the same first letter (patients rarely misspell that).
  The library's own fuzzy mode is not used: it also matches dose-form words ("oral" -> "bioral").
- Strengths, units, dose forms and schedules are dropped before lookup; salts ("maleate",
  "succinate", "hydrochloride") are dropped unless nothing else names the drug ("potassium
  chloride"). These are words about how a drug is packaged, not a drug-name table.
- Combination products ("ethinylestradiol/etonogestrel") give each ingredient.
- A name the vocabulary does not know keeps its remaining words as ingredients, so two
  spellings of an unknown product still match each other.
- The vocabulary takes a few seconds to load: it is loaded once, on first use.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any


def _vocab(words: str) -> frozenset[str]:
    # Whitespace-separated word lists read better than long list literals.
    return frozenset(words.split())


# Words in drug names that are not the drug: dosage forms, release, packaging, units, schedules.
NOISE = _vocab(
    """
    oral tablet tablets tab tabs capsule capsules cap caps chewable extended release delayed er xr sr dr hr
    day days pack topical cream ointment gel lotion solution suspension syrup injection injectable
    auto injector autoinjector drug implant vaginal ring metered dose doses inhaler actuat inhalation
    spray nasal patch transdermal film coated per prefilled syringe pen kit drops ophthalmic
    mg mcg ug g gm ml l unit units iu meq
    daily once twice thrice times time a an every each morning mornings night nightly evening bedtime
    as needed prn bid tid qid qd qhs hours hour week weekly monthly with without food meals
    the my of and or for to in on at i take taking took pill pills medicine medication meds about
    shot shots puff puffs generic brand stuff only just also still
    """
)
# Salt and ester words; dropped unless they are all that is left.
SALTS = _vocab(
    """
    hydrochloride hcl sodium potassium succinate hydrobromide propionate maleate besylate tartrate
    citrate sulfate sulphate mesylate calcium acetate bromide fumarate phosphate chloride magnesium
    """
)
# Everyday words patients use around drug names, never misspelt drug names themselves.
NOT_DRUGS = _vocab(
    "vitamin vitamins supplement supplements allergy allergies water sugar blood pressure cholesterol "
    "thyroid heart stopped quit diabetes"
)
_WORD = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]|[a-z]")
_COMBO_SPLIT = re.compile(r"\s*(?:/|,\s*and\s+|,\s*|\s+and\s+)\s*")
FUZZY_CUTOFF = 83.0
FUZZY_MIN_LENGTH = 6
_MAX_NGRAM = 4
_SUFFIX_MIN = 7  # shorter names end too many others ("-caine", "-statin" are not drugs)


@cache
def _vocabulary() -> tuple[dict[str, list[str]], dict[str, dict[str, Any]], dict[str, list[str]]]:
    """(name -> canonical names, canonical -> data, first letter -> one-word names), loaded once."""
    from drug_named_entity_recognition import drugs_finder  # slow import: a 1.5 MB dictionary

    names: dict[str, list[str]] = drugs_finder.drug_variant_to_canonical
    by_letter: dict[str, list[str]] = {}
    for name in names:
        if name.isalpha() and len(name) >= FUZZY_MIN_LENGTH:
            by_letter.setdefault(name[0], []).append(name)
    return names, drugs_finder.drug_canonical_to_data, by_letter


# Vitamin letters ("b12", "d3") name a drug; any other token with a digit is a strength or a code.
_CODE = re.compile(r"\b(?![a-z]\d{1,2}\b)\w*\d\w*\b")


def words(text: str) -> list[str]:
    """Lower-case words of a drug name, without strengths, codes or punctuation."""
    names = _vocabulary()[0]
    out: list[str] = []
    text = re.sub(r"\b([a-z])[- ](\d{1,2})\b", r"\1\2", (text or "").lower())  # "b-12", "b 12"
    for part in _WORD.findall(_CODE.sub(" ", text)):
        joined = part.replace("-", "")
        # "epi-pen" is the name "epipen"; "auto-injector" is two words.
        out.extend([joined] if joined in names else [w for w in part.split("-") if w])
    return out


def _lookup(ws: list[str]) -> list[str] | None:
    """Canonical names for a phrase, trying "epi pen" as "epipen" and "b12" as "b 12"."""
    names = _vocabulary()[0]
    if len(ws) == 1 and ws[0] in NOISE:
        return None
    phrase = " ".join(ws)
    spaced = re.sub(r"\b([a-z])(\d+)\b", r"\1 \2", phrase)
    # A vitamin letter said alone ("B12 shots") is the vitamin.
    vitamin = f"vitamin {spaced}" if re.fullmatch(r"[a-z]\d{1,2}", phrase) else ""
    for candidate in (phrase, "".join(ws), spaced, vitamin):
        if candidate in names:
            return names[candidate]
    return None


def _canonical_parts(canonicals: list[str]) -> set[str]:
    parts: set[str] = set()
    for canonical in canonicals:
        parts.update(p.strip() for p in _COMBO_SPLIT.split(canonical.lower()) if p.strip())
    return parts


def _fuzzy(word: str) -> list[str]:
    names, _, by_letter = _vocabulary()
    if len(word) < FUZZY_MIN_LENGTH or word in NOT_DRUGS:
        return []
    from rapidfuzz import fuzz, process

    best = process.extractOne(word, by_letter.get(word[0], []), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return names[best[0]] if best else []


@lru_cache(maxsize=4096)
def ingredients(name: str) -> frozenset[str]:
    """Normalised ingredient names in a drug name, patient- or chart-written; empty if none."""
    ws = words(name)
    found: set[str] = set()
    leftover: list[str] = []
    i = 0
    while i < len(ws):
        for n in range(min(_MAX_NGRAM, len(ws) - i), 0, -1):
            canonicals = _lookup(ws[i : i + n])
            if canonicals:
                found |= _canonical_parts(canonicals)
                i += n
                break
        else:
            if ws[i] not in NOISE:
                leftover.append(ws[i])
            i += 1
    for word in leftover:
        if word not in SALTS:
            found |= _canonical_parts(_fuzzy(word))
    if found:
        return frozenset(found)
    # Unknown to the vocabulary: the words themselves, salts only if nothing else is left.
    core = [w for w in leftover if w not in SALTS and len(w) > 2]
    return frozenset(core or [w for w in leftover if len(w) > 2])


@lru_cache(maxsize=4096)
def _keys(ingredient: str) -> frozenset[str]:
    # DrugBank ids join entries the vocabulary keeps apart. (Its MeSH ids are often a drug class,
    # which would make Claritin "the same" as Zyrtec, so they are not used.)
    data = _vocabulary()[1].get(ingredient, {})
    ids = {f"db:{data['drugbank_id']}"} if data.get("drugbank_id") else set()
    # A salt names its base: "potassium chloride" is the "potassium" a patient takes (the vocabulary
    # lists K-Dur under "potassium"), "metformin hydrochloride" is metformin.
    words = ingredient.split()
    if len(words) == 1 or all(w in SALTS for w in words[1:]):
        ids.add(f"base:{words[0]}")
    return frozenset({ingredient, *ids})


@lru_cache(maxsize=4096)
def _one_word_names(ingredient: str) -> frozenset[str]:
    # An ingredient's own name only counts when it lacks a DrugBank id (a duplicate entry such as
    # "thyroxine"): "esomeprazole" ends in "omeprazole" and is another drug.
    data = _vocabulary()[1].get(ingredient, {})
    names = set(data.get("synonyms") or []) - {ingredient}
    if not data.get("drugbank_id"):
        names.add(ingredient)
    return frozenset(n for n in names if n.isalpha() and len(n) >= _SUFFIX_MIN)


def _suffix_match(x: str, y: str) -> bool:
    # The longer word must be an ingredient itself: a synonym such as "dehydrocortisone" (prednisone)
    # ending in "hydrocortisone" says nothing.
    return any(x.endswith(b) for b in _one_word_names(y)) or any(y.endswith(a) for a in _one_word_names(x))


def same_ingredient(a: frozenset[str], b: frozenset[str]) -> bool:
    """Do two ingredient sets share a drug? By name, by DrugBank id, or by a name (or synonym) that
    ends in the other's: the vocabulary lists "levothyroxine" and "thyroxine", "vitamin b 12"
    ("cobalamin") and "cyanocobalamin" apart."""
    if a & b:
        return True
    a_keys = set().union(*(_keys(x) for x in a)) if a else set()
    if any(a_keys & _keys(y) for y in b):
        return True
    return any(_suffix_match(x, y) for x in a for y in b)
