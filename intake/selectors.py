"""Read-only queries for the intake API and pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils import timezone

from intake import plan
from intake.models import ApiToken, IntakeSession
from intake.tokens import token_hash
from patients.models import Patient, PatientSummary


def principal_for_token(token: str, *, principal_cls: type) -> Any:
    """A staff principal for an API token of an active staff user, a patient principal for an
    intake token, or None."""
    if len(token) > 200:
        return None
    digest = token_hash(token)
    api_token = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
    if api_token is not None:
        if not (api_token.user.is_active and api_token.user.is_staff):
            return None
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
        return principal_cls(user=api_token.user)
    session_id = IntakeSession.objects.filter(token_hash=digest).values_list("pk", flat=True).first()
    if session_id is not None:
        return principal_cls(session_id=session_id)
    return None


def patient_get(patient_id: int) -> Patient:
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    return patient


async def aintake_exists(intake_id: int) -> None:
    if not await IntakeSession.objects.filter(pk=intake_id).aexists():
        raise Http404("No such intake.")


def intake_detail(intake_id: int) -> dict[str, Any]:
    session = IntakeSession.objects.filter(pk=intake_id).first()
    if session is None:
        raise Http404("No such intake.")
    progress = plan.progress(session.step_index)
    turns = [
        {
            "index": t.index,
            "role": t.role,
            "text": t.text,
            "step": t.step,
            "interaction_id": t.interaction_id,
            "previous_interaction_id": t.previous_interaction_id,
            "request_bytes": t.request_bytes,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
            "cached_tokens": t.cached_tokens,
            "thought_tokens": t.thought_tokens,
            "latency_ms": t.latency_ms,
        }
        for t in session.turns.order_by("index")
    ]
    return {
        "id": session.pk,
        "status": session.status,
        "mode": session.mode,
        "store": session.store,
        "step": progress.current,
        "total_steps": progress.total,
        "step_title": progress.title,
        "urgency": session.urgency,
        "emergency_flagged": session.emergency_flagged,
        "head_interaction_id": session.head_interaction_id,
        "rebuild_count": session.rebuild_count,
        "summary_id": session.summary_id,
        "turns": turns,
    }


def _summary_row(summary: PatientSummary) -> dict[str, Any]:
    session = getattr(summary, "intake_session", None)
    return {
        "id": summary.pk,
        "patient_id": summary.patient_id,
        "intake_id": session.pk if session else None,
        "urgency": summary.urgency,
        "review_status": summary.review_status,
        "created_at": summary.created_at,
        "reviewed_at": summary.reviewed_at,
        "data": summary.data,
    }


def summary_dict(summary_id: int) -> dict[str, Any]:
    return _summary_row(PatientSummary.objects.select_related("intake_session").get(pk=summary_id))


def summary_list(*, status: str | None) -> list[dict[str, Any]]:
    qs = PatientSummary.objects.select_related("intake_session").order_by("-created_at")
    if status:
        qs = qs.filter(review_status=status)
    return [_summary_row(s) for s in qs[:500]]
