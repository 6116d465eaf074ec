"""Deterministic emergency rules, checked on every patient message before the model sees it.

Pure code and one table (`RULES`). The emergency message is fixed text, never model output, and
urgency only ever goes up: `max_urgency` lets the model raise urgency but never lower it.

Scope decisions, deliberately on the side of flagging:
- Negation ("no chest pain", "I don't have chest pain", "denies shortness of breath") is a cue in a
  short window before the match, inside the same clause. Plain cues ("no", "not", "don't") stop at a
  comma or "and", so "no fever, chest pain since noon" still flags; list cues ("denies", "without",
  "negative for") carry across a comma-separated list.
- A match about a relative ("my father had chest pain") or with a history cue before it ("history
  of seizures") is not a current emergency, except where a rule says otherwise (infant fever is
  always about someone else; past self-harm is still flagged for a human to follow up).
- "Heartburn after pizza" is not chest pain: the chest rule needs the word chest (or heart attack)
  next to a pain word. "Chest of drawers" never matches. Mild exertional breathlessness ("a bit
  short of breath on the stairs") is not an emergency; breathlessness at rest or trouble breathing is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Urgency = Literal["routine", "urgent", "emergent"]
URGENCY_ORDER: tuple[Urgency, ...] = ("routine", "urgent", "emergent")


def max_urgency(a: str, b: str) -> Urgency:
    """The higher of two urgency levels; unknown values count as routine, so they never lower it."""
    rank = {u: i for i, u in enumerate(URGENCY_ORDER)}
    return URGENCY_ORDER[max(rank.get(a, 0), rank.get(b, 0))]


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    label: str
    patterns: tuple[re.Pattern[str], ...]
    instruction: str  # patient-facing, added to the emergency message
    about_others: bool = False  # the rule is about someone else by design (an infant)
    past_counts: bool = False  # a history of it is still flagged


def _rx(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


# Reusable fragments. Texts are lowercased with straight apostrophes before matching.
_CANT = r"(?:can'?t|cannot|can not|unable to|could ?n'?t)"
_MY = r"(?:my|the|his|her|their)"
# Up to two filler words, never "of" (so "chest of drawers" stays furniture).
_FILL2 = r"(?:(?!of\b)[\w']+\s+){0,2}"
_PAIN = (
    r"(?:pain|pains|pressure|tightness|tight|hurts?|hurting|aches?|aching|discomfort|heaviness|heavy"
    r"|squeez\w*|crushing)"
)
# "baby aspirin" is a medicine, not a baby.
_INFANT = r"\b(?:baby|infant|newborn|\d+[- ]?(?:day|week|month)s?[- ]old)\b(?!\s+aspirin)"
_NO_NEG = r"(?:(?!\b(?:no|not|never|without|denies?)\b)[^.;!?])"  # a character not starting a negation

RULES: tuple[Rule, ...] = (
    Rule(
        "chest_pain",
        "Chest pain or pressure",
        _rx(
            rf"\bchest\s+{_FILL2}{_PAIN}\b",
            rf"\b(?:pain|pressure|tightness|heaviness|squeezing|discomfort|ache)\s+(?:in|on|across|around)\s+{_MY}\s+chest\b",
            r"\b(?:tight|crushing|heavy|squeezing)\s+chest\b",
            r"\b(?:having|had|think i'?m having|is this)\s+a\s+heart\s+attack\b",
        ),
        "Chest pain can be a heart attack. Do not drive yourself.",
    ),
    Rule(
        "stroke",
        "Signs of stroke",
        _rx(
            r"\b(?:face|mouth|smile)\s+(?:is\s+|feels\s+|started\s+|has\s+started\s+)?droop\w*",
            r"\b(?:droop\w*|drooping)\s+(?:face|mouth|smile|on one side)\b",
            r"\bone side of (?:my|his|her) (?:face|mouth)\s+(?:is\s+)?(?:droop\w*|numb|sagging|fell)\b",
            r"\bfacial\s+droop\b",
            r"\bslurr\w*\s+(?:speech|words|my words|his words|her words)\b",
            r"\b(?:speech|words?)\s+(?:is|are|was|were|sounds?)\s+slurred\b",
            rf"\bsudden\w*\s+{_CANT}\s+(?:speak|talk|get (?:my|the) words out|understand)\b",
            r"\b(?:weak\w*|numb\w*|paraly\w*|tingl\w*)\s+(?:\w+\s+){0,3}?(?:on|down)\s+"
            r"(?:one|the (?:left|right)|my (?:left|right)) side\b",
            r"\bone side of (?:my|his|her) body\s+(?:is|feels|went|has gone)\s+(?:weak|numb|dead)\b",
            rf"\b{_CANT}\s+(?:move|lift|feel)\s+my\s+(?:left|right)\s+(?:arm|leg|hand|side)\b",
            r"\b(?:left|right)\s+(?:arm|leg|side)\s+(?:and\s+(?:arm|leg)\s+)?(?:is|are|went|feels?)\s+(?:suddenly\s+)?(?:weak|numb|dead|limp)\b",
            r"\bsudden(?:ly)?\s+(?:[\w']+\s+){0,2}?confus\w*\b",
            r"\bconfus\w*\s+(?:all of a\s+)?sudden(?:ly)?\b",
            r"\bworst\s+headache\s+(?:of\s+my\s+life|i'?ve\s+ever|ever)\b",
            r"\bthunderclap\s+headache\b",
            r"\b(?:having|had|think i'?m having)\s+a\s+stroke\b",
        ),
        "These can be signs of a stroke. Note the time the symptoms started.",
    ),
    Rule(
        "breathing",
        "Severe trouble breathing",
        _rx(
            rf"\b{_CANT}\s+(?:breathe|breath|catch\s+my\s+breath|get\s+(?:enough\s+)?air)\b",
            r"\b(?:struggling|fighting|gasping)\s+(?:to breathe|for air|for breath)\b",
            r"\b(?:trouble|difficulty|hard time|problems?)\s+breathing\b",
            r"\b(?:hard|difficult)\s+to\s+breathe\b",
            r"\b(?:short(?:ness)?\s+of\s+breath|breathless|winded)\s+(?:\w+\s+){0,2}?(?:at\s+rest|resting|sitting|lying)",
            r"\b(?:severe|severely|very|extremely)\s+short(?:ness)?\s+of\s+breath\b",
            r"\bchok(?:ing|ed)\b",
            r"\blips?\s+(?:(?:are|is|look|looks|turned|turning|going|gone|have|has|getting)\s+){0,3}(?:blue|purple|grey|gray)\b",
            r"\bblue\s+lips\b",
        ),
        "Trouble breathing is an emergency.",
    ),
    Rule(
        "bleeding",
        "Severe bleeding",
        _rx(
            r"\b(?:won'?t|will not|doesn'?t|does not|can'?t|cannot)\s+stop\s+(?:the\s+)?bleed\w*",
            r"\bbleed\w*\s+(?:\w+\s+){0,2}?(?:won'?t|will not|doesn'?t|does not|hasn'?t|has not)\s+stop",
            r"\b(?:bleeding|losing blood)\s+(?:heavily|a lot|badly|profusely|everywhere)\b",
            r"\b(?:heavy|severe|uncontrolled|massive)\s+bleeding\b",
            r"\b(?:blood\s+(?:is\s+)?(?:spurting|gushing|pouring))\b",
            r"\bsoak\w*\s+through\b",
            r"\b(?:cough\w*|vomit\w*|throw\w*\s+up|threw\s+up|spit\w*)\s+(?:up\s+)?(?:some\s+)?blood\b",
            r"\bblood\s+in\s+(?:my\s+)?(?:vomit|sick)\b",
        ),
        "Press firmly on any wound while you get help.",
    ),
    Rule(
        "anaphylaxis",
        "Severe allergic reaction",
        _rx(
            r"\bthroat\s+(?:is\s+|feels\s+(?:like\s+it'?s\s+)?|feel\s+)?(?:closing|swelling|swollen|tight\w*)",
            r"\btongue\s+(?:is\s+)?(?:swelling|swollen)\b",
            r"\bswollen\s+tongue\b",
            r"\b(?:lips?|face|mouth)\s+(?:is\s+|are\s+)?(?:swelling|swelled)\s+up\b",
            r"\bhives\b.{0,60}\b(?:breath\w*|wheez\w*|throat)\b",
            r"\b(?:breath\w*|wheez\w*)\b.{0,60}\bhives\b",
            r"\banaphyla\w*",
            r"\b(?:used|needed|had to use)\s+my\s+epi\s?-?pen\b",
        ),
        "Use your epinephrine auto-injector now if you have one.",
    ),
    Rule(
        "self_harm",
        "Thoughts of suicide or self-harm",
        _rx(
            r"\b(?:want|wanna|going|planning|plan|thinking about|thought about|think about)"
            r"\s+(?:to\s+)?(?:die|dying)\b",
            r"\bwish\s+i\s+(?:was|were)\s+dead\b",
            r"\bkill(?:ing)?\s+myself\b",
            r"\b(?:end|ending|take|taking)\s+my\s+(?:own\s+)?life\b",
            r"\bend\s+it\s+all\b",
            r"\b(?:hurt|hurting|harm|harming|cut|cutting)\s+myself\b",
            r"\bself[- ]?harm\w*",
            r"\bsuicid\w*",
            r"\b(?:don'?t|do not)\s+want\s+to\s+(?:live|be alive|be here)\b",
            r"\bbetter\s+off\s+dead\b",
            r"\bno\s+reason\s+to\s+live\b",
        ),
        "You can call or text 988, the Suicide & Crisis Lifeline, any time. You are not alone.",
        past_counts=True,
    ),
    Rule(
        "overdose",
        "Overdose or poisoning",
        _rx(
            r"\boverdos\w*",
            r"\btook\s+(?:way\s+)?too\s+many\s+(?:of\s+(?:my|the)\s+)?(?:pills|tablets|meds|medications?|capsules)\b",
            r"\btook\s+(?:a|the|an?)\s+(?:whole|entire)\s+(?:bottle|pack|box)\b",
            r"\b(?:swallowed|drank|ate|drinking)\s+(?:some\s+)?"
            r"(?:bleach|antifreeze|poison|detergent|pesticide|rat poison|drain cleaner|pods?)\b",
            r"(?<!food )(?<!food-)\bpoison(?:ed|ing)\b",
        ),
        "Call Poison Help at 1-800-222-1222 if you cannot reach emergency services.",
    ),
    Rule(
        "unconscious_seizure",
        "Loss of consciousness or seizure",
        _rx(
            r"\b(?:passed|pass|passing)\s+out\b",
            r"\bfaint(?:ed|ing)\b",
            r"\b(?:lost|losing|loss of)\s+consciousness\b",
            r"\bblack(?:ed|ing)\s+out\b",
            r"\b(?:unconscious|unresponsive)\b",
            r"\b(?:won'?t|will not|can'?t)\s+wake\s+(?:up|him|her|them)\b",
            r"\b(?:had|having|have|just had|is having|has had)\s+(?:a\s+)?(?:seizure|convulsion|fit)s?\b",
            r"\bseiz(?:ing|ed)\b",
            r"\bconvuls\w+",
        ),
        "If someone is with you, ask them to stay with you.",
    ),
    Rule(
        "abdominal_rigid",
        "Severe abdominal pain",
        _rx(
            r"\b(?:abdomen|belly|stomach|tummy)\s+(?:is\s+|feels\s+)?"
            r"(?:rigid|hard as a (?:board|rock)|board[- ]?like|very hard)\b",
            r"\brigid\s+(?:abdomen|belly|stomach)\b",
            r"\b(?:severe|excruciating|unbearable|worst|terrible|extreme)\s+(?:abdominal|stomach|belly|tummy)\s+pain\b",
            r"\b(?:abdominal|stomach|belly|tummy)\s+pain\s+(?:is\s+)?(?:severe|excruciating|unbearable)\b",
        ),
        "Do not eat or drink until you are seen.",
    ),
    Rule(
        "pregnancy_bleeding",
        "Bleeding in pregnancy",
        _rx(
            rf"\bpregnan\w*\b{_NO_NEG}{{0,60}}\b(?:bleed\w*|spotting heavily|passing clots)",
            rf"\b(?:bleed\w*|passing clots)\b{_NO_NEG}{{0,60}}\b(?:pregnan\w*|weeks along)\b",
        ),
        "Bleeding in pregnancy needs to be seen now.",
    ),
    Rule(
        "infant_fever",
        "Fever in an infant",
        _rx(
            rf"{_INFANT}{_NO_NEG}{{0,60}}\b(?:fever|temperature|temp)\b",
            rf"\b(?:fever|temperature|temp)\b{_NO_NEG}{{0,60}}{_INFANT}",
        ),
        "A fever in a baby under three months old must be seen right away.",
        about_others=True,
    ),
)

BASE_EMERGENCY_MESSAGE = (
    "What you describe may be a medical emergency. Please call 911 (or your local emergency number) "
    "or go to the nearest emergency department now. Do not wait for this form."
)


# --- Context rules: negation, other people, history ------------------------------------------

# Cues whose scope ends at a comma or "and": "no fever, chest pain" still flags chest pain.
_PLAIN_NEG = re.compile(
    r"\b(?:no|not|never|none|nor|don'?t|doesn'?t|didn'?t|haven'?t|hasn'?t|hadn'?t|isn'?t|aren'?t|wasn'?t|"
    r"weren'?t|without|deny|denies|denied|negative for|free of|ruled out)\b"
)
# Cues that carry across a list: "denies fever, chills, chest pain".
_LIST_NEG = re.compile(r"\b(?:deny|denies|denied|without|negative for|free of|no history of|no signs of)\b")
# Phrases that contain a negation word but do not negate what follows.
_PSEUDO_NEG = re.compile(
    r"\b(?:no idea|not sure|not only|not just|no doubt|no matter|not certain|can'?t stop|won'?t stop|"
    r"couldn'?t stop|doesn'?t stop|not stop|can'?t tell|don'?t know)\b"
)
_CLAUSE_BREAK = re.compile(r"[.;!?]|\b(?:but|however|although|though|except|yet)\b")
_SOFT_BREAK = re.compile(r",|\b(?:and|then|now|today)\b")
_FAMILY = re.compile(
    r"\b(?:mother|mom|mum|father|dad|parents?|grand\w+|aunt|uncle|cousin|brother|sister|siblings?|"
    r"family history)\b"
)
_HISTORY_BEFORE = re.compile(r"\b(?:history of|h/o|in the past|used to|as a (?:child|kid|teen\w*))\b")
_HISTORY_AFTER = re.compile(
    r"^[^.;!?]*?\b(?:(?:\d+|a|one|two|three|a few|several|many)\s+(?:years?|decades?)\s+ago|"
    r"as a (?:child|kid|teen\w*)|back in (?:19|20)\d\d)\b"
)
_WINDOW_WORDS = 6


def _normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    return " ".join(text.split())


def _clause_before(text: str, start: int) -> str:
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    return before[breaks[-1].end() :] if breaks else before


def _negated(before: str) -> bool:
    before = _PSEUDO_NEG.sub(" ", before)
    window = " ".join(before.split()[-_WINDOW_WORDS:])
    if _LIST_NEG.search(window):
        return True
    # A plain cue counts only when no comma or "and" sits between it and the match.
    soft = list(_SOFT_BREAK.finditer(window))
    tail = window[soft[-1].end() :] if soft else window
    return bool(_PLAIN_NEG.search(tail))


def _applies(rule: Rule, text: str, match: re.Match[str]) -> bool:
    before = _clause_before(text, match.start())
    if _negated(before):
        return False
    if not rule.about_others and _FAMILY.search(before):
        return False
    is_past = bool(_HISTORY_BEFORE.search(before) or _HISTORY_AFTER.search(text[match.end() :]))
    return rule.past_counts or not is_past


def rule_matches(rule: Rule, text: str) -> bool:
    norm = _normalise(text)
    return any(_applies(rule, norm, m) for p in rule.patterns for m in p.finditer(norm))


@dataclass(frozen=True, slots=True)
class RedFlagResult:
    matched: tuple[Rule, ...]
    emergency_message: str  # "" when nothing matched

    @property
    def is_emergency(self) -> bool:
        return bool(self.matched)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.matched)

    @property
    def urgency(self) -> Urgency:
        return "emergent" if self.matched else "routine"


def emergency_message(rules: tuple[Rule, ...]) -> str:
    if not rules:
        return ""
    # Self-harm first: the 988 line is the most specific help we can give.
    ordered = sorted(rules, key=lambda r: r.key != "self_harm")
    return " ".join([BASE_EMERGENCY_MESSAGE, *(r.instruction for r in ordered)])


def evaluate(text: str) -> RedFlagResult:
    matched = tuple(rule for rule in RULES if rule_matches(rule, text))
    return RedFlagResult(matched=matched, emergency_message=emergency_message(matched))
