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

The spaCy pipeline is built once per process, at start-up (`warm_up`, a few seconds), then each message
costs a millisecond or two of CPU (`manage.py eval_redflags --bench` prints p50/p95/max): the matchers
are indexed by each pattern's first word (`_IndexedMatcher`, the same matches as spaCy's own Matcher)
and `manage.py eval_redflags --compare` checks the result against the slow reference pipeline.
"""

from __future__ import annotations

import difflib
import functools
import gc
import itertools
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Sequence
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


def _prepare_matcher(component: Any, attr: str, *, indexed: bool) -> None:
    """Before rules are added: give a medspaCy component an `_IndexedMatcher` for its spaCy Matcher.

    spaCy validates each token pattern with pydantic as it is added: seconds for our ~5,000 patterns,
    so it is skipped; tests/intake/test_redflags.py validates them all once instead.
    Private names of medspaCy 1.3 (requirements.txt pins it).
    """
    outer = getattr(component, attr)
    inner = outer._MedspacyMatcher__matcher
    if indexed:
        outer._MedspacyMatcher__matcher = _IndexedMatcher(inner.vocab)
    else:
        inner.validate = False


_MATCHER_ATTRS = (("medspacy_target_matcher", "_TargetMatcher__matcher"), ("medspacy_context", "_ConText__matcher"))


def _indexed_matchers(nlp: Any) -> list[_IndexedMatcher]:
    return [getattr(nlp.get_pipe(name), attr)._MedspacyMatcher__matcher for name, attr in _MATCHER_ATTRS]


# Token attributes a pattern's first word can be indexed by, and how a token's value is read (as spaCy does).
_INDEX_ATTRS = {"NORM": "norm", "LOWER": "lower", "ORTH": "orth", "TEXT": "orth"}


def _regex_prefixes(regex: str) -> list[str] | None:
    r"""The words a first-token regex `^(?:w1|w2\S*|...)$` can start with, or None for any other regex.

    Each alternative is read as a prefix (an exact word starts with itself), so the index may run a
    group that then finds nothing, never the other way round.
    """
    m = re.fullmatch(r"\^\(\?:(.*)\)\$", regex)
    if not m:
        return None
    prefixes, word, body, i = [], [], m.group(1), 0
    while i <= len(body):
        if i == len(body) or body[i] == "|":
            if not word:
                return None
            prefixes.append("".join(word))
            word = []
        elif body.startswith(r"\S*", i) and (i + 3 == len(body) or body[i + 3] == "|"):
            i += 2  # `\S*` at the end of an alternative: the word is a prefix
        elif body[i] == "\\" and i + 1 < len(body) and not body[i + 1].isalnum():
            word.append(body[i + 1])
            i += 1
        elif body[i] in r".^$*+?{}[]()\|":
            return None
        else:
            word.append(body[i])
        i += 1
    return prefixes


# A word a token must be: (token attribute, word hash), or (token attribute, prefix text) for a prefix.
_Word = tuple[str, int | str]


def _spec_words(spec: dict[str, Any], strings: Any) -> frozenset[_Word] | None:
    """The words one token of a pattern can be (any one of them), or None if it may be absent or anything.

    A regular expression of words (`^(?:w1|w2\\S*|...)$`, as `compile_pattern` writes them) is read as
    prefixes: an exact word starts with itself, so the index may run a pattern that then finds nothing,
    never the other way round.
    """
    if spec.get("OP", "1") not in ("1", "+"):
        return None  # optional, repeated from none, or negated: the pattern matches without it
    for attr, value in spec.items():
        read = _INDEX_ATTRS.get(attr.upper()) if isinstance(attr, str) else None
        if read is None:
            continue
        if isinstance(value, str):
            return frozenset({(read, strings.add(value))})
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("IN"), list):
            return frozenset((read, strings.add(str(v))) for v in value["IN"])
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("REGEX"), str):
            prefixes = _regex_prefixes(value["REGEX"])
            if prefixes:
                return frozenset((read, p) for p in prefixes)
    return None


class _IndexedMatcher:
    """spaCy's Matcher with its patterns indexed by their first word: the same matches, in the same order.

    spaCy's Matcher starts every pattern at every token: ~5,000 patterns times each word of a message,
    most of the CPU of a check. Here the patterns that start with the same token are one group, its own
    spaCy Matcher, indexed by the words (or, for a regular expression of words, the prefixes) that
    token can be; a message runs only the groups whose first word it contains. A pattern that starts
    with anything else (a number, an operator) is in a group that runs on every message.

    Exactness: spaCy moves each pattern's states independently and keeps them in order, so a Matcher of
    some of the patterns returns exactly the full Matcher's matches of those patterns, in the same
    relative order. Matches of two groups are merged into the full Matcher's order: a match ending at
    token `e` is emitted while spaCy reads token `e - 1` or `e`, so two matches whose ends differ by two
    or more come in the order of their ends. When two groups' matches end closer than that, the matched
    patterns are run again together in one Matcher of just them (cached by the set), which is spaCy's
    own order. `tests/intake/test_redflags.py` compares this with the full Matcher on every tuning message.
    """

    def __init__(self, vocab: Any) -> None:
        self.vocab = vocab
        self._patterns: list[tuple[str, list[dict[str, Any]]]] = []
        self._groups: list[Any] | None = None
        self._always: list[int] = []
        # A word -> (the groups that start with it, the sets of words it belongs to).
        self._index: dict[_Word, tuple[frozenset[int], frozenset[int]]] = {}
        # Per group, what each of its patterns needs (one word of each set, by id), the weakest needs only.
        self._needs: list[list[frozenset[int]]] = []
        self._by_key: dict[int, list[int]] = {}
        self._plain: dict[int, tuple[int, int]] = {}
        self.merged = functools.lru_cache(maxsize=1024)(self._matcher)
        self.word = functools.lru_cache(maxsize=8192)(self._word)

    def add(self, key: str, patterns: list[list[dict[str, Any]]], on_match: Any = None) -> None:
        if on_match is not None:
            raise ValueError("the indexed matcher takes no on_match callbacks")
        self._patterns.extend((key, p) for p in patterns)
        self._groups = None

    def _matcher(self, indices: Iterable[int]) -> Any:
        from spacy.matcher import Matcher

        matcher = Matcher(self.vocab, validate=False)
        for i in sorted(indices):  # the full Matcher's order
            key, pattern = self._patterns[i]
            matcher.add(key, [pattern])
        return matcher

    def build(self) -> None:
        """Group and compile the patterns (once, after the last `add`)."""
        import json

        by_first: dict[str, list[int]] = {}
        self._by_key = {}
        for i, (key, pattern) in enumerate(self._patterns):
            self._by_key.setdefault(self.vocab.strings.add(key), []).append(i)
            by_first.setdefault(json.dumps(pattern[0], sort_keys=True), []).append(i)
        strings = self.vocab.strings
        self._always, self._needs = [], []
        clause_ids: dict[frozenset[_Word], int] = {}
        first: dict[_Word, set[int]] = {}
        groups = []
        for g, (first_spec, indices) in enumerate(by_first.items()):
            groups.append(self._matcher(indices))
            needs = set()
            for i in indices:
                specs = (_spec_words(spec, strings) for spec in self._patterns[i][1])
                needs.add(frozenset(clause_ids.setdefault(w, len(clause_ids)) for w in specs if w is not None))
            self._needs.append([n for n in needs if not any(other < n for other in needs)])
            first_words = _spec_words(json.loads(first_spec), strings)
            if first_words is None:
                self._always.append(g)
            for word in first_words or ():
                first.setdefault(word, set()).add(g)
        clauses: dict[_Word, set[int]] = {}
        for words, c in clause_ids.items():
            for word in words:
                clauses.setdefault(word, set()).add(c)
        self._index = {
            w: (frozenset(first.get(w, ())), frozenset(clauses.get(w, ()))) for w in first.keys() | clauses.keys()
        }
        self._reads = sorted({read for read, _ in self._index})
        self._longest = {
            read: max((len(w) for r, w in self._index if r == read and isinstance(w, str)), default=0)
            for read in self._reads
        }
        # Patterns whose matches can be "plain" (see _merge_by_end): key -> (required tokens, pattern index).
        self._plain = {}
        for key, indices in self._by_key.items():
            pattern = self._patterns[indices[0]][1]
            ops = [spec.get("OP") for spec in pattern]
            if len(indices) == 1 and ops[-1] is None and set(ops) <= {None, "?", "*"}:
                self._plain[key] = (ops.count(None), indices[0])
        self._groups = groups
        self.merged.cache_clear()
        self.word.cache_clear()

    def _word(self, read: str, value: int) -> tuple[frozenset[int], frozenset[int]]:
        """For one word of a message: the groups that start with it, and the needs (sets of words) it meets."""
        nothing: tuple[frozenset[int], frozenset[int]] = (frozenset(), frozenset())
        found = [self._index.get((read, value), nothing)]
        if self._longest[read]:
            text = self.vocab.strings[value]
            longest = min(len(text), self._longest[read])
            found.extend(self._index.get((read, text[:k]), nothing) for k in range(1, longest + 1))
        return frozenset().union(*(g for g, _ in found)), frozenset().union(*(c for _, c in found))

    def _candidates(self, doc: Any) -> list[int]:
        """The groups that could match: the message has their first word and every word one of their
        patterns needs."""
        found, met = set(self._always), set()
        for token in doc:
            for read in self._reads:
                groups, needs = self.word(read, getattr(token, read))
                found.update(groups)
                met.update(needs)
        return sorted(g for g in found if any(need <= met for need in self._needs[g]))

    def __call__(self, doc: Any) -> list[tuple[int, int, int]]:
        if self._groups is None:
            self.build()
        assert self._groups is not None
        runs = [run for g in self._candidates(doc) if (run := self._groups[g](doc))]
        if len(runs) <= 1:
            return runs[0] if runs else []
        merged = _merge_by_end(runs, self._plain)
        if merged is not None:
            return merged
        keys = {key for run in runs for key, _, _ in run}
        return self.merged(frozenset(i for key in keys for i in self._by_key[key]))(doc)


_Match = tuple[int, int, int]  # (key, start, end), as spaCy's Matcher returns them


def _merge_by_end(runs: list[list[_Match]], plain: dict[int, tuple[int, int]]) -> list[_Match] | None:
    """Merge several groups' matches into spaCy's order, or None when that order cannot be told.

    spaCy emits a match ending at token `e` while it reads token `e - 1` or `e`, in the order its states
    stand at that token. So matches whose ends differ by two or more come in the order of their ends.
    A "plain" match (`plain[key]` = (tokens, pattern index): its pattern's last token is required and the
    match is exactly as long as the pattern's required tokens, so it took no optional word) is emitted at
    `e - 1` by a state that was never copied, and such states stand in the order of their start, then of
    their pattern: two plain matches come in the order (end, start, pattern).
    """

    def before(a: _Match, b: _Match) -> bool | None:
        if abs(a[2] - b[2]) >= 2:
            return a[2] < b[2]
        pa, pb = plain.get(a[0]), plain.get(b[0])
        if pa and pb and pa[0] == a[2] - a[1] and pb[0] == b[2] - b[1]:
            return (a[2], a[1], pa[1]) < (b[2], b[1], pb[1])
        return None

    for run_a, run_b in itertools.combinations(runs, 2):
        if any(before(a, b) is None for a in run_a for b in run_b):
            return None
    heads = [0] * len(runs)
    out: list[_Match] = []
    while live := [k for k, run in enumerate(runs) if heads[k] < len(run)]:
        k = next(k for k in live if all(before(runs[k][heads[k]], runs[j][heads[j]]) for j in live if j != k))
        out.append(runs[k][heads[k]])
        heads[k] += 1
    return out


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
    return _pipeline(indexed=True)


@functools.cache
def _reference_nlp() -> Any:
    """The same pipeline on spaCy's own Matchers: slow, the reference `reference_evaluate` reads with."""
    return _pipeline(indexed=False)


def _pipeline(*, indexed: bool) -> Any:
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
    _prepare_matcher(matcher, "_TargetMatcher__matcher", indexed=indexed)
    matcher.add(rules)
    context = nlp.add_pipe(
        "medspacy_context",
        config={"rules": None, "input_span_type": "group", "span_attrs": None, "prune_on_target_overlap": True},
    )
    _prepare_matcher(context, "_ConText__matcher", indexed=indexed)
    context.add(ctx_rules)
    if indexed:
        for inner in _indexed_matchers(nlp):
            inner.build()
    # The pipeline lives as long as the process: ~190,000 objects a full garbage collection would walk
    # each time (0.25-0.5 s of CPU, on whichever patient's turn triggers it). Frozen, it walks none of them.
    gc.freeze()
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
    nlp = _nlp()
    norms = nlp.get_pipe("redflag_norms")
    if norms.vocabulary is not None:
        norms.vocabulary.read.cache_clear()
    for inner in _indexed_matchers(nlp):
        inner.merged.cache_clear()
        inner.word.cache_clear()


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


_MessageHits = tuple[tuple[str, str, int, int, frozenset[str]], ...]


@functools.lru_cache(maxsize=4096)
def _message_hits(text: str) -> _MessageHits:
    """The signs in one message with their ConText modifiers. Cached: each turn re-reads the earlier messages."""
    nlp = _nlp()
    with _NLP_LOCK:  # spaCy adds new words to a shared vocabulary: one message at a time per process
        doc = nlp.make_doc(_normalise(text))
        for name, component in nlp.pipeline:
            if name == "medspacy_context" and not doc.spans.get("medspacy_spans"):
                break  # no sign, nothing for ConText to read (it would only find modifiers of nothing)
            doc = component(doc)
    return _signs(doc)


def _reference_hits(text: str) -> _MessageHits:
    """`_message_hits` the slow way: spaCy's own Matchers, every component on every message, no cache."""
    nlp = _reference_nlp()
    with _NLP_LOCK:
        doc = nlp(_normalise(text))
    return _signs(doc)


def _signs(doc: Any) -> _MessageHits:
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


def _hits(texts: Sequence[str], read: Callable[[str], _MessageHits]) -> list[_Hit]:
    return [
        _Hit(concept, words, i == 0, i, start, end, mods)
        for i, text in enumerate(texts)
        for concept, words, start, end, mods in read(text)
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
    return _evaluate([text, *history], _message_hits)


def reference_evaluate(text: str, *, history: Sequence[str] = ()) -> RedFlagResult:
    """`evaluate` read by the slow reference pipeline (spaCy's own Matchers, ConText on every message).

    The fast path must give the same result for every message: `tests/intake/test_redflags.py` and
    `manage.py eval_redflags --compare` check it on the whole suite.
    """
    return _evaluate([text, *history], _reference_hits)


def _evaluate(texts: Sequence[str], read: Callable[[str], _MessageHits]) -> RedFlagResult:
    hits = _hits(texts, read)
    findings = [f for cat in CATEGORIES if (f := _finding(cat, hits))]
    by_key = {c.key: c for c in CATEGORIES}
    matched = _ordered(by_key[f.category] for f in findings if f.urgency == "emergent")
    findings.sort(key=lambda f: (-URGENCY_ORDER.index(f.urgency), not f.stop_intake))
    return RedFlagResult(findings=tuple(findings), matched=tuple(matched), emergency_message=emergency_message(matched))
