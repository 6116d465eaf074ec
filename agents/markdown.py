"""Model-written Markdown to safe HTML, and the links it cites.

The report comes from outside the clinic, so its HTML is sanitised with nh3 (an allow-list), and
every link opens without a referrer or an opener handle. Pages render reports only through here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe

_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_ATTRIBUTES = {"a": {"href", "title"}}
_URL_SCHEMES = {"http", "https"}


_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S")


def _loosen_lists(text: str) -> str:
    """Models often start a list right under a sentence; Markdown needs a blank line there."""
    out: list[str] = []
    for line in text.splitlines():
        if out and out[-1].strip() and _LIST_ITEM.match(line) and not _LIST_ITEM.match(out[-1]):
            out.append("")
        out.append(line)
    return "\n".join(out)


def markdown_to_html(text: str) -> SafeString:
    """Render Markdown; raw HTML in the input is removed by the sanitiser, never trusted."""
    raw = md.markdown(_loosen_lists(text or ""), extensions=["tables", "sane_lists"], output_format="html")
    clean = nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    # Safe because nh3 produced it from an allow-list of tags, attributes and URL schemes.
    return mark_safe(clean)


_INLINE_LINK = re.compile(r"\[([^\]\n]{1,300})\]\((https?://[^\s)]+)(?:\s+\"[^\"]*\")?\)")
_REFERENCE_LINK = re.compile(r"^\s*\[([^\]\n]{1,300})\]:\s*(https?://\S+)", re.MULTILINE)
_BARE_URL = re.compile(r"(?<![(<\[])\bhttps?://[^\s)<>\]]+")


def markdown_sources(text: str, *, limit: int = 50) -> list[dict[str, str]]:
    """The http(s) links a report cites, in order, de-duplicated: [{"title", "url"}]."""
    found: dict[str, str] = {}
    for pattern in (_INLINE_LINK, _REFERENCE_LINK):
        for match in pattern.finditer(text or ""):
            title, url = " ".join(match.group(1).split()), match.group(2).rstrip(".,;")
            found.setdefault(url, title)
    for match in _BARE_URL.finditer(text or ""):
        url = match.group().rstrip(".,;")
        found.setdefault(url, urlsplit(url).netloc)
    sources = [{"title": title or urlsplit(url).netloc, "url": url} for url, title in found.items()]
    return sources[:limit]
