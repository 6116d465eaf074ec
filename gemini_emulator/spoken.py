"""Contact details said aloud or typed as speech, rewritten the way they are written.

- Numbers read out digit by digit or in pairs: "five five five, two four six, fourteen ninety nine"
  is 555-246-1499; "oh" is zero, "double five" is 55, "eight hundred" is 800.
- Email addresses spelled out: "mikeb88 at gmail dot com" is mikeb88@gmail.com, "bea dot holloway
  at example dot net" is bea.holloway@example.net ("underscore", "dash", "at sign" too).

General English readings only: nothing here knows the calling program's fields or sentences.
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0,
    "oh": 0,
    "o": 0,
    "nought": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_REPEAT = {"double": 2, "triple": 3}
_WORD = "|".join(sorted([*_UNITS, *_TEENS, *_TENS, *_REPEAT, "hundred", "thousand"], key=len, reverse=True))
# A run of number words and digit groups, separated by spaces, commas, dashes or dots.
_RUN_RE = re.compile(rf"(?<![\w@.])(?:(?:{_WORD}|\d+)(?:[\s,.-]+|$))+", re.I)
_TOKEN_RE = re.compile(rf"{_WORD}|\d+", re.I)


def _digits_of(tokens: list[str]) -> str:
    """The digits a spoken run stands for ("" when the run does not read as one)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i].lower()
        nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
        if tok.isdigit():
            out.append(tok)
        elif tok in _REPEAT:
            if nxt not in _UNITS and not (nxt.isdigit() and len(nxt) == 1):
                return ""
            out.append(str(_UNITS.get(nxt, nxt)) * _REPEAT[tok])
            i += 1
        elif tok in _UNITS:
            if nxt == "hundred":
                out.append(f"{_UNITS[tok]}00")
                i += 1
            elif nxt == "thousand":
                out.append(f"{_UNITS[tok]}000")
                i += 1
            else:
                out.append(str(_UNITS[tok]))
        elif tok in _TEENS:
            out.append(str(_TEENS[tok]) + ("00" if nxt == "hundred" else ""))
            i += nxt == "hundred"
        elif tok in _TENS:
            if nxt in _UNITS and _UNITS[nxt] and nxt not in ("o", "oh"):
                out.append(str(_TENS[tok] + _UNITS[nxt]))
                i += 1
            else:
                out.append(str(_TENS[tok]))
        else:  # "hundred" / "thousand" with nothing before it
            return ""
        i += 1
    return "".join(out)


def _written(digits: str) -> str:
    if len(digits) == 10:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if len(digits) == 11 and digits[0] == "1":
        return f"+1 {digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    if len(digits) == 7:
        return f"{digits[:3]}-{digits[3:]}"
    return digits


def spoken_numbers(text: str) -> str:
    """`text` with each spoken number run of 7 to 15 digits (a phone number) written in digits.
    A run needs at least three parts and at least one number word: "in 2 or 3 days" stays as it is."""

    def repl(m: re.Match[str]) -> str:
        run = m.group(0)
        tokens = _TOKEN_RE.findall(run)
        if len(tokens) < 3 or all(t.isdigit() for t in tokens):
            return run
        digits = _digits_of(tokens)
        if not 7 <= len(digits) <= 15:
            return run
        tail = re.search(r"[\s,.-]*$", run).group(0)  # type: ignore[union-attr]
        return _written(digits) + tail

    return _RUN_RE.sub(repl, text)


_TLDS = r"com|net|org|edu|gov|mil|io|co|us|uk|ca|au|de|fr|info|me|biz"
_PART = r"[a-z0-9][a-z0-9_+-]*"
_JOIN = r"\s+dot\s+|\."
_LOCAL_JOIN = rf"{_JOIN}|\s+(?:underscore|under score)\s+|\s+(?:dash|hyphen)\s+|[._+-]"
# Words that say where, not whose: "reach me at gmail dot com" names no mailbox.
_NOT_LOCAL = r"(?:me|us|you|him|her|them|it|is|was|be|email|e-mail|mail|address|work|home|school|reach|contact)"
SPOKEN_EMAIL_RE = re.compile(
    rf"(?<![\w@.])(?!{_NOT_LOCAL}\s)({_PART}(?:(?:{_LOCAL_JOIN}){_PART})*?)\s*(?:\s(?:at|at sign|@)\s|@)\s*"
    rf"({_PART}(?:(?:{_JOIN}){_PART})*(?:{_JOIN})(?:{_TLDS}))(?![\w-])",
    re.I,
)


def _glue(part: str) -> str:
    part = re.sub(r"\s+dot\s+", ".", part, flags=re.I)
    part = re.sub(r"\s+(?:underscore|under score)\s+", "_", part, flags=re.I)
    return re.sub(r"\s+(?:dash|hyphen)\s+", "-", part, flags=re.I).lower()


def spoken_emails(text: str) -> str:
    """`text` with each email address spelled out with "at" and "dot" written as an address."""
    return SPOKEN_EMAIL_RE.sub(lambda m: f"{_glue(m.group(1))}@{_glue(m.group(2))}", text)
