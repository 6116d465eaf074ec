"""Red-flag detection: checked on every patient message before the model sees it.

Pure code (no ORM, no SDK) over three data files in `intake/redflag_data/`:
- `concepts.toml`: each warning sign (BE-FAST stroke, chest-pain, anaphylaxis, ASQ/C-SSRS suicide risk,
  POST-BIRTH, NICE infant fever, sepsis, head injury ...) in the words patients type. medspaCy's
  TargetMatcher finds them on a blank spaCy English pipeline (no model download).
- `context.toml`: ConText rules. medspaCy's ConText decides whether a sign is negated ("no chest pain"),
  historical ("ten years ago", "when I was 19"), about a relative ("my dad had a stroke"),
  hypothetical ("what if") or a figure of speech, and then it is not a current emergency.
- `categories.toml`: which signs (alone, or together, possibly across the patient's messages) raise
  which category, at which urgency, with its fixed emergency message.

Any layer raises, none lowers: this layer, the model's own per-turn judgement and the final summary
each produce an urgency and the session keeps `max_urgency` of them all, so no layer can lower what
another raised. The emergency message is fixed text, never model output.

The spaCy pipeline is built once, on first use (about a second), then each message costs about a
millisecond of CPU (`manage.py eval_redflags --bench` prints p50/p95).
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
import threading
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Urgency = Literal["routine", "urgent", "emergent"]
URGENCY_ORDER: tuple[Urgency, ...] = ("routine", "urgent", "emergent")
DATA_DIR = Path(__file__).resolve().parent / "redflag_data"

# ConText categories that set a sign aside; FAMILY only where the category is not about others.
_SET_ASIDE = frozenset({"NEGATED_EXISTENCE", "HYPOTHETICAL", "FIGURATIVE"})
# A filler token ("~") never crosses a negation or the end of a sentence.
_FILLER_STOP = ["not", "no", "never", "without", "nor", ".", "!", "?", ";", "but"]


def max_urgency(a: str, b: str) -> Urgency:
    """The higher of two urgency levels; unknown values count as routine, so they never lower it."""
    rank = {u: i for i, u in enumerate(URGENCY_ORDER)}
    return URGENCY_ORDER[max(rank.get(a, 0), rank.get(b, 0))]


# --- the data --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sign:
    """One criterion: one concept from each group (`all`), at `urgency`."""

    groups: tuple[tuple[str, ...], ...]
    urgency: Urgency = "emergent"
    same_message: bool = False


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of emergency. The emergency path reads `key`, `label` and `instruction`."""

    key: str
    label: str
    instruction: str
    signs: tuple[Sign, ...]
    about_others: bool = False
    stop_intake: bool = False
    history_urgency: Urgency | None = None


def _load(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open("rb") as fh:
        return tomllib.load(fh)


def _categories() -> tuple[str, tuple[Category, ...]]:
    data = _load("categories.toml")
    cats = []
    for c in data["category"]:
        signs = tuple(
            Sign(
                groups=tuple((g,) if isinstance(g, str) else tuple(g) for g in s["all"]),
                urgency=s.get("urgency", "emergent"),
                same_message=s.get("window") == "message",
            )
            for s in c["signs"]
        )
        cats.append(
            Category(
                key=c["key"],
                label=c["label"],
                instruction=c["instruction"],
                signs=signs,
                about_others=c.get("about_others", False),
                stop_intake=c.get("stop_intake", False),
                history_urgency=c.get("history_urgency"),
            )
        )
    return data["base_message"], tuple(cats)


BASE_EMERGENCY_MESSAGE, CATEGORIES = _categories()
CONCEPT_SIGNS: dict[str, str] = {k: v["sign"] for k, v in _load("concepts.toml")["concept"].items()}


# Word classes (`[class]` in concepts.toml), written once and used in many patterns as `@name`: a body
# part or a symptom verb is added to every pattern that uses its class, not sentence by sentence.
WORD_CLASSES: dict[str, list[str]] = _load("concepts.toml").get("class", {})


def _classes(pattern: str) -> list[str]:
    """One pattern per entry of each phrase class; a class of single words stays one token (`a|b|c`)."""
    m = re.search(r"@(\w+)", pattern)
    if not m:
        return [pattern]
    entries = WORD_CLASSES[m.group(1)]
    if all(re.fullmatch(r"[^\s()|]+", e) for e in entries):
        return _classes(pattern[: m.start()] + "|".join(entries) + pattern[m.end() :])
    # One pattern per entry, the entry spliced in as written (its own groups are expanded later).
    return [p for e in entries for p in _classes(pattern[: m.start()] + e + pattern[m.end() :])]


def _expand(pattern: str) -> list[str]:
    """Expand word classes `@name` and phrase alternatives `(a b|c|)` into plain token strings."""
    if "@" in pattern:
        return [plain for p in _classes(pattern) for plain in _expand(p)]
    m = re.search(r"\(([^()]*)\)", pattern)
    if not m:
        return [" ".join(pattern.split())]
    branches = m.group(1).split("|")
    words = [b.strip() for b in branches if b.strip()]
    if all(" " not in w for w in words):  # one-token branches stay one token: "(a|b|)" is "a|b?"
        token = "|".join(words) + ("?" if len(words) < len(branches) else "")
        return _expand(pattern[: m.start()] + token + pattern[m.end() :])
    out = []
    for branch in branches:
        out.extend(_expand(pattern[: m.start()] + branch + pattern[m.end() :]))
    return out


# A caregiver writes in the third person ("she wants to kill herself", "his face is drooping"): signs
# are matched as if the patient wrote them. Which person it is, ConText's experiencer rules decide.
_PERSON: dict[str, str] = _load("concepts.toml")["person"]


def _regex_word(word: str) -> str:
    if word == "#":
        return r"[0-9]+(?:\.[0-9]+)?"
    return re.escape(word[:-1]) + r"\S*" if word.endswith("*") else re.escape(word)


def _token(spec: str) -> dict[str, Any]:
    optional = spec.endswith("?") and len(spec) > 1
    spec = spec.removesuffix("?") if optional else spec
    if spec == "~":
        return {"NORM": {"NOT_IN": _FILLER_STOP}, "OP": "?"}
    if spec == "#":
        tok: dict[str, Any] = {"LIKE_NUM": True}
    else:
        words = [_PERSON.get(w, w) for w in spec.split("|")]
        if any(w.endswith("*") or w == "#" for w in words):
            alts = "|".join(_regex_word(w) for w in words)
            tok = {"NORM": {"REGEX": rf"^(?:{alts})$"}}
        elif len(words) == 1:
            tok = {"NORM": words[0]}
        else:
            tok = {"NORM": {"IN": words}}
    if optional:
        tok["OP"] = "?"
    return tok


def compile_pattern(pattern: str, tokenizer: Any, *, hedges: bool = False) -> list[list[dict[str, Any]]]:
    """One vocabulary line to spaCy token patterns. Words are split the way the tokenizer splits text.

    With `hedges`, any words of the `hedge` class may sit between two words of the pattern ("bleeding
    really heavy", "face is kind of drooping"): people soften or stress in every pattern, not in some.
    """
    out = []
    for plain in _expand(pattern):
        tokens: list[dict[str, Any]] = []
        for spec in plain.split():
            if "|" in spec or spec in ("~", "#") or spec.endswith(("*", "?")):
                tokens.append(_token(spec))
            else:  # a plain word may be several tokens ("c-section", "od'd")
                tokens.extend({"NORM": t.norm_} for t in tokenizer(spec))
        if hedges:
            tokens = _with_hedges(tokens)
        out.extend(_plain_first(tokens))
    return out


# The norms component tags hedge words, so the matcher compares one hash, not a set, at every gap.
_HEDGE_WORDS = frozenset(WORD_CLASSES.get("hedge", []))
_HEDGE = {"TAG": "HEDGE", "OP": "*"}


def _with_hedges(tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = tokens[:1]
    for tok in tokens[1:]:
        # Before each word (a filler gap ends with hedges too: "words are coming out all jumbled"); next to
        # an optional word, or between two fillers, it adds nothing.
        if "OP" not in tok and out[-1] is not _HEDGE:
            out.append(_HEDGE)
        out.append(tok)
    return out


def _plain_first(tokens: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split a pattern so its first token is a plain word where possible.

    spaCy tries every pattern's first token at every position: a plain NORM is a C hash compare, a
    set or optional token is a Python call. Same matches, a fraction of the CPU.
    """
    if not tokens:
        return []
    first, rest = tokens[0], tokens[1:]
    if first.get("OP") == "?":
        return _plain_first(rest) + _plain_first([{k: v for k, v in first.items() if k != "OP"}, *rest])
    norm = first.get("NORM")
    if isinstance(norm, dict) and "IN" in norm and len(first) == 1:
        return [[{"NORM": word}, *rest] for word in norm["IN"]]
    return [tokens]


def _skip_validation(component: Any, attr: str) -> None:
    # spaCy validates each token pattern with pydantic as it is added: 5 s for our ~1,300 patterns.
    # tests/intake/test_redflags.py validates them all once instead. Private names of medspaCy 1.3.
    inner = getattr(getattr(component, attr, None), "_MedspacyMatcher__matcher", None)
    if inner is not None:
        inner.validate = False


class _Vocabulary:
    """Every word the patterns know, and a reading of words they do not: an inflection or a misspelling.

    A word no pattern names is read as a vocabulary word when it is another inflection of one ("bleeds",
    "swelled", "puffing": lemminflect's English tables, no model) or, if it is not an English word at all,
    one typing slip (a letter missing, extra, wrong or swapped) from one ("brething", "concsious").
    English words are never "corrected" ("paint" stays paint, not faint). The rules are general: no
    list of typos to keep up.
    """

    MIN_FUZZY = 5  # shorter words are too close to too many others to guess

    def __init__(self, patterns: Iterable[list[dict[str, Any]]]) -> None:
        from lemminflect import Lemmatizer, getAllInflections

        getAllInflections("be")  # load its tables now, not on a patient's message
        exact: set[str] = set()
        prefixes: set[str] = set()
        for pattern in patterns:
            for tok in pattern:
                norm = tok.get("NORM")
                if isinstance(norm, str):
                    exact.add(norm)
                elif isinstance(norm, dict) and "IN" in norm:
                    exact.update(norm["IN"])
                elif isinstance(norm, dict) and "REGEX" in norm:
                    for alt in norm["REGEX"].removeprefix("^(?:").removesuffix(")$").split("|"):
                        if alt.endswith(r"\S*"):
                            prefixes.add(re.sub(r"\\(.)", r"\1", alt.removesuffix(r"\S*")))
        self.exact = frozenset(exact)
        alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
        self._prefix = re.compile(f"^(?:{alternatives})")
        self.english = Lemmatizer()._getLemmaDict()  # ~70,000 English word forms (lemminflect 0.2.3)
        targets = {w for w in exact if w.isalpha() and len(w) >= self.MIN_FUZZY - 1}
        targets |= {w for w in self.english if w.isalpha() and len(w) >= self.MIN_FUZZY - 1 and self.known(w)}
        self._deletes: dict[str, set[str]] = {}
        for w in targets:
            for d in _deletions(w):
                self._deletes.setdefault(d, set()).add(w)
        self.read = functools.lru_cache(maxsize=8192)(self._read)

    def known(self, word: str) -> bool:
        return word in self.exact or self._prefix.match(word) is not None

    def _read(self, word: str) -> str | None:
        """The vocabulary word `word` stands for, or None (already known, or no good guess)."""
        if word in _PERSON:  # also inside contractions ("she's"), whose tokens carry their own NORM
            return _PERSON[word]
        if len(word) < 3 or not word.isalpha() or self.known(word):
            return None
        from lemminflect import getAllInflections, getAllLemmas

        for lemma in sorted({lem for lems in getAllLemmas(word).values() for lem in lems}):
            inflections = getAllInflections(lemma)
            if word in inflections.get("NNS", ()):
                continue  # a plural noun speaks of a kind ("I see a lot of overdoses"), not an event
            forms = [lemma, *sorted({f for fs in inflections.values() for f in fs})]
            for form in forms:
                if self.known(form):
                    return form
        if word in self.english or len(word) < self.MIN_FUZZY:
            return None
        close = {w for d in _deletions(word) for w in self._deletes.get(d, ())}
        ranked = sorted((-_likeness(word, w), w) for w in close if _slips(word, w) <= 1)
        if not ranked or (len(ranked) > 1 and ranked[0][0] == ranked[1][0]):
            return None  # no guess, or two equally good ones
        return ranked[0][1]


def _deletions(word: str) -> set[str]:
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def _likeness(a: str, b: str) -> float:
    """Breaks ties between one-slip candidates: "brethe" is more like breathe than breath."""
    return difflib.SequenceMatcher(None, a, b).ratio()


def _slips(a: str, b: str) -> int:
    """Typing slips between two words: insertions, deletions, substitutions, adjacent swaps (OSA distance)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


class _Norms:
    """Pipeline component: each token's NORM becomes the vocabulary word it stands for (see _Vocabulary)."""

    vocabulary: _Vocabulary | None = None

    def __call__(self, doc: Any) -> Any:
        if self.vocabulary is not None:
            for token in doc:
                if (word := self.vocabulary.read(token.norm_)) is not None:
                    token.norm_ = word
                # A blank pipeline has no tagger: the tag is ours (every token gets one, or spaCy refuses TAG).
                token.tag_ = "HEDGE" if token.norm_ in _HEDGE_WORDS else "W"
        return doc


def _register_norms() -> None:
    from spacy.language import Language

    if not Language.has_factory("redflag_norms"):
        Language.factory("redflag_norms", func=lambda nlp, name: _Norms())


_NLP_LOCK = threading.RLock()


@functools.cache
def _nlp() -> Any:
    """The pipeline, built once per process: blank English, sentencizer, TargetMatcher, ConText."""
    import spacy
    from medspacy.context import ConText, ConTextRule  # noqa: F401 (registers the factory)
    from medspacy.target_matcher import TargetMatcher, TargetRule  # noqa: F401

    _register_norms()
    nlp = spacy.blank("en")
    for typed, word in (_load("concepts.toml")["spelling"] | _PERSON).items():
        nlp.vocab[typed].norm_ = word  # patterns match the NORM; the text keeps what was typed
    nlp.add_pipe("sentencizer")
    rules = []
    for name, concept in _load("concepts.toml")["concept"].items():
        for line in concept["patterns"]:
            rules.extend(TargetRule(line, name, pattern=p) for p in compile_pattern(line, nlp.tokenizer, hedges=True))
    ctx_rules = _context_rules(nlp.tokenizer)
    words = _Vocabulary([r.pattern for r in rules] + [r.pattern for r in ctx_rules])
    nlp.add_pipe("redflag_norms").vocabulary = words
    matcher = nlp.add_pipe("medspacy_target_matcher", config={"result_type": "group", "prune": False})
    _skip_validation(matcher, "_TargetMatcher__matcher")
    matcher.add(rules)
    context = nlp.add_pipe(
        "medspacy_context",
        config={"rules": None, "input_span_type": "group", "span_attrs": None, "prune_on_target_overlap": True},
    )
    _skip_validation(context, "_ConText__matcher")
    context.add(ctx_rules)
    return nlp


def _context_rules(tokenizer: Any) -> list[Any]:
    from medspacy.context import ConTextRule

    ctx_rules = []
    for r in _load("context.toml")["rule"]:
        kwargs: dict[str, Any] = {"direction": r["direction"]}
        for key in ("max_scope",):
            if key in r:
                kwargs[key] = r[key]
        for key in ("allowed_types", "excluded_types", "terminated_by"):
            if key in r:
                kwargs[key] = set(r[key])
        for line in r["patterns"]:
            for p in compile_pattern(line, tokenizer):
                if r.get("attr") == "LOWER":  # the words as typed, before any NORM mapping
                    p = [{("LOWER" if k == "NORM" else k): v for k, v in tok.items()} for tok in p]
                ctx_rules.append(ConTextRule(line, r["category"], pattern=p, **kwargs))
    return ctx_rules


def clear_cache() -> None:
    """Forget every message and word seen (the benchmark times first sight)."""
    _message_hits.cache_clear()
    _present_verb.cache_clear()
    norms = _nlp().get_pipe("redflag_norms")
    if norms.vocabulary is not None:
        norms.vocabulary.read.cache_clear()


def warm_up() -> None:
    """Build the pipeline now (about a second) rather than on the first patient message."""
    with _NLP_LOCK:
        _nlp()


# --- matching --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hit:
    concept: str
    words: str  # the patient's own words
    current: bool  # from the latest message (else an earlier one)
    message: int  # index of the message (0 = the latest)
    start: int  # token offsets in that message
    end: int
    modifiers: frozenset[str]


_NUMBER_UNIT = re.compile(r"\b(\d+)(wks?|weeks?|days?|mo|mos|months?|yrs?|years?|yo|hrs?|hours?|mins?)\b", re.I)


def _normalise(text: str) -> str:
    # Straight apostrophes; "38.4C." and "101F" split from their unit so the number reads as a number.
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"(\d)([cCfF])\b", r"\1 \2", text)
    # "7wk old", "3mo", "10days": the number and its unit are two words, as in "7 wk old".
    return _NUMBER_UNIT.sub(r"\1 \2", text)


@functools.lru_cache(maxsize=4096)
def _message_hits(text: str) -> tuple[tuple[str, str, int, int, frozenset[str]], ...]:
    """The signs in one message with their ConText modifiers. Cached: each turn re-reads the earlier messages."""
    nlp = _nlp()
    with _NLP_LOCK:  # spaCy adds new words to a shared vocabulary: one message at a time per process
        doc = nlp(_normalise(text))
    return tuple(
        (span.label_, span.text, span.start, span.end, _modifiers(span)) for span in doc.spans.get("medspacy_spans", [])
    )


_EXPERIENCER = _load("context.toml")["experiencer"]
_NOW_CUES = frozenset(_EXPERIENCER["now"])
_FAMILY_HISTORY_CUES = frozenset(_EXPERIENCER["family_history"])
_FAMILY_HISTORY_CLOSED = frozenset(_EXPERIENCER["family_history_closed"])
_CLAUSE_BREAKS = frozenset({",", ";", "then", ":"})


@functools.lru_cache(maxsize=4096)
def _present_verb(word: str) -> bool:
    """A verb in the present third person ("takes", "looks"), not "has" (a relative "has asthma" is history)."""
    if not word.endswith("s") or word in _FAMILY_HISTORY_CUES or word in ("has", "does", "was", "is"):
        return False
    from lemminflect import getAllInflections, getAllLemmas

    return any(word in getAllInflections(lemma).get("VBZ", ()) for lemma in getAllLemmas(word).get("VERB", ()))


def _modifiers(span: Any) -> frozenset[str]:
    """The ConText categories of a sign; a relative's sign told as happening now is the relative's emergency.

    "My mum is confused and has a fever" is a caregiver writing for the patient; "my mum had a stroke"
    and "my dad died of a heart attack" are family history. The relative counts as the patient when
    the sentence says it is happening now and nothing between the relative and the sign says history.
    """
    mods = set()
    for m in span._.modifiers:
        cat = m.category.upper()
        if cat == "FAMILY":
            m_start, m_end = m.modifier_span  # token offsets of the relative's word
            start = min(m_start, span.start)
            if m_end <= span.start:
                # A later clause tells its own time: "my sister had a seizure, it stopped, then another
                # started" reads the history word of the first clause only for signs in that clause.
                breaks = [t.i for t in span.doc[m_end : span.start] if t.norm_ in _CLAUSE_BREAKS]
                start = breaks[-1] + 1 if breaks else start
            between = span.doc[start : max(m_end, span.end)]
            sentence = span.sent
            if not any(t.norm_ in _FAMILY_HISTORY_CUES for t in between) and any(
                t.norm_ in _NOW_CUES or _present_verb(t.norm_) for t in sentence
            ):
                continue
            if any(t.norm_ in _FAMILY_HISTORY_CLOSED for t in between):
                mods.add("FAMILY_HISTORY")
        mods.add(cat)
    return frozenset(mods)


def _hits(texts: Sequence[str]) -> list[_Hit]:
    return [
        _Hit(concept, words, i == 0, i, start, end, mods)
        for i, text in enumerate(texts)
        for concept, words, start, end, mods in _message_hits(text)
    ]


def _kept(hit: _Hit, cat: Category) -> Urgency | None:
    """The urgency at which a hit still counts for this category, or None if context sets it aside."""
    mods = hit.modifiers
    if mods & _SET_ASIDE or "FAMILY_HISTORY" in mods or ("FAMILY" in mods and not cat.about_others):
        return None
    if "HISTORICAL" in mods:
        return cat.history_urgency
    if "HABITUAL" in mods:
        return "urgent"
    return "emergent"


@dataclass(frozen=True, slots=True)
class Finding:
    """One category raised: what staff see (sign, the patient's words) and what the patient is told."""

    category: str
    label: str
    urgency: Urgency
    signs: tuple[str, ...]  # e.g. ("chest pain or pressure",)
    evidence: tuple[str, ...]  # the patient's words for each sign, latest message first
    message: str  # the fixed emergency message for this category ("" when not emergent)
    stop_intake: bool = False

    @property
    def sign(self) -> str:
        return " + ".join(self.signs)


def _overlapping(hits: list[_Hit]) -> bool:
    return any(
        a.message == b.message and a.start < b.end and b.start < a.end for a, b in itertools.combinations(hits, 2)
    )


def _match_sign(sign: Sign, cat: Category, hits: list[_Hit]) -> tuple[Urgency, list[_Hit]] | None:
    pools: list[list[tuple[Urgency, _Hit]]] = []
    for group in sign.groups:
        pool = []
        for h in hits:
            if h.concept in group and (not sign.same_message or h.current):
                level = _kept(h, cat)
                if level is not None:
                    pool.append((level, h))
        if not pool:
            return None
        pools.append(pool)
    best: tuple[int, list[_Hit]] | None = None
    for combo in itertools.product(*pools):
        if not any(h.current for _, h in combo):
            continue  # signs all from earlier messages were judged then
        if _overlapping([h for _, h in combo]):
            continue  # two signs of one criterion need two sets of words
        rank = min(URGENCY_ORDER.index(level) for level, _ in combo)
        if best is None or rank > best[0]:
            best = (rank, [h for _, h in combo])
    if best is None:
        return None
    level = URGENCY_ORDER[min(best[0], URGENCY_ORDER.index(sign.urgency))]
    return level, best[1]


def _finding(cat: Category, hits: list[_Hit]) -> Finding | None:
    top: tuple[Urgency, list[_Hit]] | None = None
    for sign in cat.signs:
        got = _match_sign(sign, cat, hits)
        if got and (top is None or URGENCY_ORDER.index(got[0]) > URGENCY_ORDER.index(top[0])):
            top = got
    if top is None or top[0] == "routine":
        return None
    level, used = top
    used = sorted(used, key=lambda h: h.message)
    emergent = level == "emergent"
    return Finding(
        category=cat.key,
        label=cat.label,
        urgency=level,
        signs=tuple(dict.fromkeys(CONCEPT_SIGNS[h.concept] for h in used)),
        evidence=tuple(dict.fromkeys(h.words for h in used)),
        message=emergency_message((cat,)) if emergent else "",
        stop_intake=cat.stop_intake and emergent,
    )


@dataclass(frozen=True, slots=True)
class RedFlagResult:
    findings: tuple[Finding, ...] = ()
    matched: tuple[Category, ...] = field(default=())  # emergent categories: the emergency path
    emergency_message: str = ""  # "" when nothing emergent

    @property
    def is_emergency(self) -> bool:
        return bool(self.matched)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.matched)

    @property
    def urgency(self) -> Urgency:
        level: Urgency = "routine"
        for f in self.findings:
            level = max_urgency(level, f.urgency)
        return level

    @property
    def category(self) -> str:
        """The first emergent category ("" if none): suicide and self-harm first."""
        return self.matched[0].key if self.matched else ""

    @property
    def stop_intake(self) -> bool:
        """True when unrelated intake questions must stop (suicidal thoughts, self-harm)."""
        return any(f.stop_intake for f in self.findings)


def emergency_message(categories: Iterable[Category]) -> str:
    cats = list(categories)
    if not cats:
        return ""
    return " ".join([BASE_EMERGENCY_MESSAGE, *(c.instruction for c in _ordered(cats))])


def model_emergency_message(signs: Sequence[str]) -> str:
    """The fixed advice when only the model judged the turn an emergency: the instructions of the
    categories its own words for the signs fall under, else the general advice."""
    matched = evaluate(". ".join(signs)).matched if signs else ()
    return emergency_message(matched) or BASE_EMERGENCY_MESSAGE


def _ordered(cats: Iterable[Category]) -> list[Category]:
    # Self-harm first: the 988 line is the most specific help we can give.
    return sorted(cats, key=lambda c: not c.stop_intake)


def evaluate(text: str, *, history: Sequence[str] = ()) -> RedFlagResult:
    """Red flags in the patient's latest message, read together with their earlier messages of this intake.

    A sign only in earlier messages does not raise again; it can complete a sign in the latest one
    (arm pain earlier, sweating now).
    """
    hits = _hits([text, *history])
    findings = [f for cat in CATEGORIES if (f := _finding(cat, hits))]
    by_key = {c.key: c for c in CATEGORIES}
    matched = _ordered(by_key[f.category] for f in findings if f.urgency == "emergent")
    findings.sort(key=lambda f: (-URGENCY_ORDER.index(f.urgency), not f.stop_intake))
    return RedFlagResult(findings=tuple(findings), matched=tuple(matched), emergency_message=emergency_message(matched))
