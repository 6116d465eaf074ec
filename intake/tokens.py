"""Staff API tokens: issued once, stored only as a hash, with an expiry; they die on revocation,
on a password change and on deactivation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from intake.models import ApiToken
from patients.models import AuditEvent

# Every staff API token starts with this; patient intake tokens are looked up without it.
API_TOKEN_PREFIX = "stf_"  # noqa: S105 (a public prefix, not a secret)


class ApiTokenError(Exception):
    pass


def token_hash(token: str) -> str:
    """Tokens are stored only as this digest, for staff API tokens and patient intake tokens alike."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_fingerprint(user: User) -> str:
    """A keyed digest of the user's password hash: any password change (or reset) changes it."""
    return salted_hmac("intake.api-token", user.password, algorithm="sha256").hexdigest()


def api_token_issue(*, username: str, label: str = "", days: int | None = None) -> str:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise ApiTokenError(f"No user named {username!r}.")
    if not (user.is_active and user.is_staff):
        raise ApiTokenError(f"{username!r} is not an active staff user; only staff may use the API.")
    days = settings.API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ApiTokenError(f"A token may last from 1 to {settings.API_TOKEN_MAX_DAYS} days.")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user,
        key_hash=token_hash(token),
        label=label,
        expires_at=timezone.now() + timedelta(days=days),
        password_fingerprint=password_fingerprint(user),
    )
    AuditEvent.objects.create(actor=user, action="api_token.issue", object_type="User", object_id=str(user.pk))
    return token


def api_token_is_live(api_token: ApiToken) -> bool:
    """Whether a stored token may still be used (its user is loaded with it)."""
    user = api_token.user
    if not (user.is_active and user.is_staff) or api_token.revoked_at is not None:
        return False
    if api_token.expires_at is None or api_token.expires_at <= timezone.now():
        return False
    return constant_time_compare(api_token.password_fingerprint, password_fingerprint(user))


def api_token_revoke(*, token_ids: list[int], actor: User) -> int:
    """Revoke tokens now (idempotent: already revoked ones keep their time). Returns how many."""
    revoked = 0
    for api_token in ApiToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True):
        ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        AuditEvent.objects.create(
            actor=actor, action="api_token.revoke", object_type="ApiToken", object_id=str(api_token.pk)
        )
        revoked += 1
    return revoked
