"""What Google serves and accepts, as data: model and agent names, enums, mime types, limits.

Each table names its source. The emulator refuses what these tables do not list, the way Google
does, so a program that works here does not meet its first 4xx in production.
"""

from __future__ import annotations

# Models. Source: the Interactions API reference's `ModelOption` values (ai.google.dev/api/
# interactions-api, snapshot 2026-04) and the gemini-skills `gemini-interactions-api` SKILL.md
# "Current Models" list; the 3.5 Flash ids are the ones public code calls in late 2026.
MODELS: frozenset[str] = frozenset(
    {
        "gemini-2.5-computer-use-preview-10-2025",
        "gemini-2.5-flash",
        "gemini-2.5-flash-image",
        "gemini-2.5-flash-lite",
        "gemini-2.5-flash-lite-preview-09-2025",
        "gemini-2.5-flash-native-audio-preview-12-2025",
        "gemini-2.5-flash-preview-09-2025",
        "gemini-2.5-flash-preview-tts",
        "gemini-2.5-pro",
        "gemini-2.5-pro-preview-tts",
        "gemini-3-flash-preview",
        "gemini-3-pro-image-preview",
        "gemini-3.1-pro-preview",
        "gemini-3.1-flash-image-preview",
        "gemini-3.1-flash-lite",
        "gemini-3.1-flash-lite-preview",
        "gemini-3.1-flash-tts-preview",
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "lyria-3-clip-preview",
        "lyria-3-pro-preview",
    }
)

# Retired names get the same 404 as unknown ones. Source: the skill's warning that gemini-2.0-* and
# gemini-1.5-* are legacy, and gemini-3-pro-preview's absence from every current list.
RETIRED_MODEL_PREFIXES: tuple[str, ...] = ("gemini-1.0-", "gemini-1.5-", "gemini-2.0-", "gemini-pro")

# Agents. Source: the same SKILL.md's "Current Agents". The December 2025 preview
# (deep-research-pro-preview-12-2025) is no longer listed there.
AGENTS: frozenset[str] = frozenset({"deep-research-preview-04-2026", "deep-research-max-preview-04-2026"})

# agent_config variants. Source: the pinned SDK's `_gaos/types/interactions/*agentconfig.py`
# (`type: Literal[...]`); the Deep Research agents accept only their own.
AGENT_CONFIG_TYPES: frozenset[str] = frozenset({"deep-research", "dynamic", "antigravity", "code-mender"})
DEEP_RESEARCH_CONFIG_KEYS: frozenset[str] = frozenset(
    {"type", "thinking_summaries", "visualization", "collaborative_planning"}
)

# generation_config enums. Source: the pinned SDK's thinkinglevel.py, thinkingsummaries.py and
# toolchoicetype.py; the API reference lists the same values.
THINKING_LEVELS: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh")
THINKING_SUMMARIES: frozenset[str] = frozenset({"auto", "none"})
TOOL_CHOICE_MODES: frozenset[str] = frozenset({"auto", "any", "none", "validated"})

# Fields Google removed from the create body. Source: "Breaking changes (May 2026)" in the
# gemini-interactions-api SKILL.md: a polymorphic `response_format` replaces `response_mime_type`,
# legacy schema removed June 8, 2026.
REMOVED_FIELDS: dict[str, str] = {
    "response_mime_type": "use response_format={'type': 'text', 'mime_type': 'application/json', 'schema': ...}",
}

# Content mime types. Source: the pinned SDK's imagecontent.py, audiocontent.py, videocontent.py and
# documentcontent.py `Literal[...]` lists (the wire notes list the same).
MIME_TYPES: dict[str, frozenset[str]] = {
    "image": frozenset(
        {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "image/gif", "image/bmp", "image/tiff"}
    ),
    "audio": frozenset(
        {
            "audio/wav",
            "audio/mp3",
            "audio/aiff",
            "audio/aac",
            "audio/ogg",
            "audio/flac",
            "audio/mpeg",
            "audio/m4a",
            "audio/l16",
            "audio/opus",
            "audio/alaw",
            "audio/mulaw",
            "audio/webm",
        }
    ),
    "video": frozenset(
        {
            "video/mp4",
            "video/mpeg",
            "video/mpg",
            "video/mov",
            "video/avi",
            "video/x-flv",
            "video/webm",
            "video/wmv",
            "video/3gpp",
        }
    ),
    "document": frozenset(
        {
            "application/pdf",
            "text/csv",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.ms-powerpoint",
            "application/vnd.oasis.opendocument.presentation",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-excel",
            "application/vnd.oasis.opendocument.spreadsheet",
            # Plain text documents are read as text by the API (document processing docs).
            "text/plain",
            "text/markdown",
            "text/html",
        }
    ),
}

# Implicit caching: the minimum prompt size for a cache hit. Source: ai.google.dev/gemini-api/docs/
# interactions/caching ("Gemini 3 Flash Preview 1024, Gemini 3 Pro Preview 4096, Gemini 2.5 Flash
# 1024, Gemini 2.5 Pro 4096"); later pages list 4096 for 3.5 Flash and 3.1 Pro.
CACHE_MIN_TOKENS_DEFAULT = 4096
CACHE_MIN_TOKENS: dict[str, int] = {
    "gemini-3-flash-preview": 1024,
    "gemini-2.5-flash": 1024,
    "gemini-2.5-flash-lite": 1024,
    "gemini-2.5-pro": 4096,
    "gemini-3.1-pro-preview": 4096,
    "gemini-3.5-flash": 4096,
}

# Thought tokens per interaction by thinking level (Gemini 3 defaults to "high"). Source: recorded
# real runs in the Gemini cookbook (a short prompt on gemini-3-flash-preview reported 382 thought
# tokens at the default level); the lower levels scale down the same budget.
THOUGHT_TOKENS_BY_LEVEL: dict[str, int] = {"minimal": 0, "low": 96, "medium": 224, "high": 384, "xhigh": 640}


def is_gemini3(model: str | None) -> bool:
    """Gemini 3 models require thought signatures on re-sent function calls (thought-signatures docs)."""
    return bool(model) and model.startswith("gemini-3")  # type: ignore[union-attr]


def model_known(model: str) -> bool:
    return model in MODELS and not model.startswith(RETIRED_MODEL_PREFIXES)


def cache_min_tokens(model: str | None) -> int:
    return CACHE_MIN_TOKENS.get(model or "", CACHE_MIN_TOKENS_DEFAULT)


def default_thinking_level(model: str | None) -> str:
    # Gemini 3 thinks at "high" unless told otherwise; the Flash-Lite models think little.
    if model and "lite" in model:
        return "minimal"
    return "high"
