"""The one place that talks to the google-genai SDK.

The rest of the app calls these functions and gets plain dataclasses and `LlmError` back, so no other
module imports `google.genai`. Whether the SDK talks to Google or to the local emulator is decided
only by settings (base URL and key); nothing here branches on it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from django.conf import settings


class LlmError(Exception):
    """A model call failed. `permanent` says whether retrying the same call can help."""

    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code

    @property
    def not_found(self) -> bool:
        return self.status_code == 404


def base_url() -> str:
    return settings.GEMINI_BASE_URL or "https://generativelanguage.googleapis.com"


def endpoint_reachable() -> str | None:
    """None when the Gemini endpoint answers HTTP at all, else a short reason."""
    parts = urlsplit(base_url())
    try:
        httpx.get(f"{parts.scheme}://{parts.netloc}/", timeout=2.0)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None
