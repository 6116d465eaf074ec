"""Patient chat links that end: open a link once, then the browser's session carries the intake.

A link (`/i/<token>/`) works while its intake is in progress and younger than
`INTAKE_LINK_TTL_HOURS`; once the intake is finished, or staff revoke the link, it shows nothing.
Its first visit binds the intake to the browser's Django session (an HttpOnly cookie) and
redirects to the token-less `/i/`, so the token leaves the address bar and every later request
line; the chat's API calls then authenticate with that session and the CSRF token.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from intake.models import IntakeSession
from intake.tokens import token_hash
from patients.models import AuditEvent

# The key in the browser's session that holds the bound intake: its id and its token's hash.
CHAT_SESSION_KEY = "intake_chat"
FINISHED = (IntakeSession.Status.COMPLETED, IntakeSession.Status.MANUAL, IntakeSession.Status.CANCELLED)


class IntakeLinkError(Exception):
    """The link shows nothing; the message says why, in words a patient can act on."""

    status_code = 404
    title = "This link is not valid"


class IntakeLinkEndedError(IntakeLinkError):
    status_code = 410
    title = "This link has ended"


class IntakeLinkFinishedError(IntakeLinkEndedError):
    title = "Your intake is finished"


def intake_link_live_q() -> Q:
    """The intakes whose link still works: not finished and younger than the configured lifetime."""
    oldest = timezone.now() - timedelta(hours=settings.INTAKE_LINK_TTL_HOURS)
    return ~Q(status__in=FINISHED) & Q(created_at__gt=oldest)


def _check_live(session: IntakeSession) -> IntakeSession:
    if session.status in FINISHED:
        raise IntakeLinkFinishedError(
            "This intake is finished, so its link no longer shows anything. Thank you. "
            "If you need to add something, please tell the front desk."
        )
    if session.created_at <= timezone.now() - timedelta(hours=settings.INTAKE_LINK_TTL_HOURS):
        raise IntakeLinkEndedError("This intake link has expired. Please ask the front desk for a new one.")
    return session


def intake_link_open(token: str) -> IntakeSession:
    """The live intake a link's token opens, or IntakeLinkError."""
    session = None
    if token and len(token) <= 200:
        session = IntakeSession.objects.select_related("patient").filter(token_hash=token_hash(token)).first()
    if session is None:
        raise IntakeLinkError("This intake link is not valid. Please ask the front desk for a new one.")
    return _check_live(session)


def intake_chat_bind(browser_session: Any, session: IntakeSession) -> None:
    """Bind the intake to this browser: a fresh session key (no fixation), the token itself not kept."""
    browser_session.cycle_key()
    browser_session[CHAT_SESSION_KEY] = {"id": session.pk, "token_hash": session.token_hash}


def intake_chat_session(browser_session: Any) -> IntakeSession:
    """The intake bound to this browser, if its link still works (a revoked link changed its hash)."""
    bound = browser_session.get(CHAT_SESSION_KEY) or {}
    session = None
    if isinstance(bound, dict) and isinstance(bound.get("id"), int):
        session = (
            IntakeSession.objects.select_related("patient")
            .filter(pk=bound["id"], token_hash=str(bound.get("token_hash", "")))
            .first()
        )
    if session is None:
        raise IntakeLinkError("This chat is not open in this browser. Please open the link from the front desk again.")
    return _check_live(session)


def intake_link_revoke(*, session_id: int, actor: Any) -> IntakeSession:
    """Make the intake's link (and every browser bound to it) stop working at once. Audited.

    The token hash is replaced by the hash of a token nobody is given; the intake itself and its
    record stay as they are, and staff can open a new intake for the patient."""
    with transaction.atomic():
        session = IntakeSession.objects.select_for_update().select_related("patient").filter(pk=session_id).first()
        if session is None:
            raise IntakeLinkError("No such intake.")
        session.token_hash = token_hash(secrets.token_urlsafe(24))
        session.save(update_fields=["token_hash"])
        AuditEvent.objects.create(
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label="" if getattr(actor, "pk", None) else "system",
            patient=session.patient,
            action="intake.link_revoke",
            object_type="IntakeSession",
            object_id=str(session.pk),
        )
    return session
