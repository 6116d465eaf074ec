"""Staff API tokens: issued once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import User

from intake.models import ApiToken
from patients.models import AuditEvent

# Every staff API token starts with this; patient intake tokens are looked up without it.
API_TOKEN_PREFIX = "stf_"  # noqa: S105 (a public prefix, not a secret)


class ApiTokenError(Exception):
    pass


def token_hash(token: str) -> str:
    """Tokens are stored only as this digest, for staff API tokens and patient intake tokens alike."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def api_token_issue(*, username: str, label: str = "") -> str:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise ApiTokenError(f"No user named {username!r}.")
    if not (user.is_active and user.is_staff):
        raise ApiTokenError(f"{username!r} is not an active staff user; only staff may use the API.")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=token_hash(token), label=label)
    AuditEvent.objects.create(actor=user, action="api_token.issue", object_type="User", object_id=str(user.pk))
    return token
