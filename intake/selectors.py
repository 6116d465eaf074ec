"""Read-only queries for the intake API and pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone

from intake import plan
from intake.links import intake_link_live_q
from intake.models import ApiToken, IntakeRecord, IntakeRecordVersion, IntakeSession, IntakeTurn
from intake.record import IntakeRecordSchema, record_changes, record_review_groups, record_staff_groups
from intake.tokens import API_TOKEN_PREFIX, api_token_is_live, token_hash
from patients.models import Patient, PatientSummary


def principal_for_token(token: str, *, principal_cls: type) -> Any:
    """A staff principal for an API token of an active staff user, a patient principal for an
    intake token, or None."""
    if len(token) > 200:
        return None
    digest = token_hash(token)
    # Only staff tokens carry the prefix, so a patient's request skips the API-token query. (A
    # patient token that happens to start with it still falls through to the intake lookup.)
    api_token = None
    if token.startswith(API_TOKEN_PREFIX):
        api_token = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
    if api_token is not None:
        if not api_token_is_live(api_token):
            return None
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
        return principal_cls(user=api_token.user)
    # A finished, expired or revoked intake's link opens nothing, here as on the chat page.
    live = intake_link_live_q()
    session_id = IntakeSession.objects.filter(live, token_hash=digest).values_list("pk", flat=True).first()
    if session_id is not None:
        return principal_cls(session_id=session_id)
    return None


def patient_get(patient_id: int) -> Patient:
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    return patient


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
        "record": intake_record(session.pk).model_dump(mode="json", exclude={"told"}),
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


# --- Pages: the patient chat and the staff pages ----------------------------------------------------

# What a person sees of a conversation: no tool hops, no summary bookkeeping rows.
_VISIBLE_ROLES = (IntakeTurn.Role.PATIENT, IntakeTurn.Role.MODEL, IntakeTurn.Role.SYSTEM)
_HIDDEN_SYSTEM_TEXTS = ("[summary]",)


def _visible(turn: IntakeTurn) -> bool:
    return turn.role in _VISIBLE_ROLES and not (
        turn.role == IntakeTurn.Role.SYSTEM and turn.text in _HIDDEN_SYSTEM_TEXTS
    )


def intake_transcript(session_id: int) -> list[dict[str, Any]]:
    """The messages of an intake as shown to people, oldest first."""
    turns = IntakeTurn.objects.filter(session_id=session_id, role__in=_VISIBLE_ROLES).order_by("index")
    return [
        {
            "index": t.index,
            "role": t.role,
            "text": t.text,
            "step": t.step,
            "attachments": t.attachments or [],
            "created_at": t.created_at,
        }
        for t in turns.only("index", "role", "text", "step", "attachments", "created_at")
        if _visible(t)
    ]


def intake_record(session_id: int) -> IntakeRecordSchema:
    """The intake's live record (empty for an intake that has none yet)."""
    document = IntakeRecord.objects.filter(session_id=session_id).values_list("document", flat=True).first()
    return IntakeRecordSchema.model_validate(document or {})


def intake_records_for_staff(session_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per intake, the live record as clinicians see it (grouped, with source turns) and the history
    of its corrections, read in two queries. Intakes without a record are left out."""
    rows = IntakeRecord.objects.filter(session_id__in=session_ids).values("pk", "session_id", "document", "version")
    out: dict[int, dict[str, Any]] = {}
    by_record: dict[int, int] = {}
    for row in rows:
        by_record[row["pk"]] = row["session_id"]
        out[row["session_id"]] = {
            "groups": record_staff_groups(IntakeRecordSchema.model_validate(row["document"] or {})),
            "version": row["version"],
            "versions": [],
        }
    versions = (
        IntakeRecordVersion.objects.filter(record_id__in=by_record)
        .order_by("record_id", "version")
        .values_list("record_id", "turn", "document")
    )
    for record_id, turn, document in versions:
        out[by_record[record_id]]["versions"].append((turn, document))
    for item in out.values():
        item["changes"] = record_changes(item.pop("versions"))
    return out


def intake_review_answers(session_id: int) -> list[dict[str, Any]]:
    """What the record holds, grouped by topic in plain words, for the review screen."""
    return record_review_groups(intake_record(session_id))


def intake_emergency_message(session_id: int) -> str:
    """The latest red-flag message of an intake ("" when none fired)."""
    texts = IntakeTurn.objects.filter(session_id=session_id, role=IntakeTurn.Role.SYSTEM).exclude(
        text__in=_HIDDEN_SYSTEM_TEXTS
    )
    return texts.order_by("-index").values_list("text", flat=True).first() or ""


def intake_chat_context(session: IntakeSession) -> dict[str, Any]:
    """Everything the patient chat page renders on load, so a reload resumes where it stopped."""
    progress = plan.progress(session.step_index)
    is_review = session.status == IntakeSession.Status.REVIEW
    return {
        "session": session,
        "status": session.status,
        "progress": progress,
        "step_title": (plan.step_at(session.step_index).title if plan.step_at(session.step_index) else ""),
        "messages": intake_transcript(session.pk),
        "emergency": intake_emergency_message(session.pk) if session.emergency_flagged else "",
        "review": intake_review_answers(session.pk) if is_review else [],
        "is_review": is_review,
        "is_finished": session.status
        in (IntakeSession.Status.COMPLETED, IntakeSession.Status.MANUAL, IntakeSession.Status.CANCELLED),
    }


_URGENCY_RANK = {
    IntakeSession.Urgency.EMERGENT: 0,
    IntakeSession.Urgency.URGENT: 1,
    IntakeSession.Urgency.ROUTINE: 2,
}


def _percent(step_index: int) -> int:
    """Share of the plan answered: 0 at the first question, 100 once all ten are answered."""
    return round(100 * min(max(step_index, 0), plan.TOTAL_STEPS) / plan.TOTAL_STEPS)


# What a dashboard row shows: polled every 10 s, so answers, tokens and the chain stay unread.
_DASHBOARD_FIELDS = (
    "patient__given_name",
    "patient__family_name",
    "patient__birth_date",
    "status",
    "step_index",
    "urgency",
    "emergency_flagged",
    "answers",
    "created_at",
    "finished_at",
)
# An intake the patient may still be answering: starting another for the same patient needs a confirmation.
OPEN_INTAKE_STATUSES = (IntakeSession.Status.ACTIVE, IntakeSession.Status.REVIEW, IntakeSession.Status.SUMMARIZING)


def intake_open_for_patient(*, patient_id: int) -> IntakeSession | None:
    """The patient's most recent intake that is still open, if any."""
    return (
        IntakeSession.objects.filter(patient_id=patient_id, status__in=OPEN_INTAKE_STATUSES)
        .order_by("-created_at")
        .first()
    )


def intake_dashboard_rows(*, since: Any) -> list[dict[str, Any]]:
    """Intakes started since `since`: emergent first, then urgent, then newest first."""
    sessions = (
        IntakeSession.objects.filter(created_at__gte=since)
        .select_related("patient")
        .only(*_DASHBOARD_FIELDS)
        .order_by("-created_at")
    )
    rows = []
    for s in sessions[:500]:
        progress = plan.progress(s.step_index)
        urgency = IntakeSession.Urgency.EMERGENT if s.emergency_flagged else s.urgency
        rows.append(
            {
                "id": s.pk,
                "patient_id": s.patient_id,
                "patient_name": s.patient.full_name,
                "birth_date": s.patient.birth_date,
                "status": s.status,
                "status_label": s.get_status_display(),
                "progress": progress,
                "percent": _percent(s.step_index),
                "urgency": urgency,
                "urgency_label": IntakeSession.Urgency(urgency).label,
                # Which sign raised it (the red-flag rules' labels), so "Emergent" says why.
                "red_flags": [str(f) for f in (s.answers or {}).get("red_flags") or [] if f],
                "created_at": s.created_at,
                "finished_at": s.finished_at,
            }
        )
    rows.sort(key=lambda r: _URGENCY_RANK.get(r["urgency"], 3))  # stable: newest first within a rank
    return rows


_USAGE_SUMS = {k: Sum(k) for k in ("input_tokens", "output_tokens", "cached_tokens", "thought_tokens")}


def _usage(sums: dict[str, Any]) -> dict[str, Any]:
    """Token usage from summed turn counts (every model call, tool hops and summaries included) and
    the estimated cost at the configured prices."""
    usage = {k: int(sums.get(k) or 0) for k in _USAGE_SUMS}
    # Cached tokens are part of the input count and billed at the cached rate instead.
    uncached = max(usage["input_tokens"] - usage["cached_tokens"], 0)
    cost = (
        uncached * settings.GEMINI_PRICE_INPUT_PER_MTOK
        + usage["cached_tokens"] * settings.GEMINI_PRICE_CACHED_PER_MTOK
        + (usage["output_tokens"] + usage["thought_tokens"]) * settings.GEMINI_PRICE_OUTPUT_PER_MTOK
    ) / 1_000_000
    return {
        **usage,
        "cost_usd": cost,
        "prices": {
            "input": settings.GEMINI_PRICE_INPUT_PER_MTOK,
            "output": settings.GEMINI_PRICE_OUTPUT_PER_MTOK,
            "cached": settings.GEMINI_PRICE_CACHED_PER_MTOK,
        },
    }


def patient_page(patient_id: int) -> dict[str, Any]:
    """The staff patient page: the patient, every intake with its transcript, the summaries, usage."""
    patient = patient_get(patient_id)
    sessions = list(IntakeSession.objects.filter(patient=patient).order_by("-created_at"))
    # One grouped query for every intake's usage; the patient's total is their sum.
    per_session = {
        row.pop("session_id"): row
        for row in IntakeTurn.objects.filter(session__patient=patient)
        .values("session_id")
        .order_by()
        .annotate(**_USAGE_SUMS)
    }
    total = {k: sum(int(row[k] or 0) for row in per_session.values()) for k in _USAGE_SUMS}
    intakes = [
        {
            "session": s,
            "progress": plan.progress(s.step_index),
            "messages": intake_transcript(s.pk),
            "usage": _usage(per_session.get(s.pk, {})),
        }
        for s in sessions
    ]
    summaries = list(PatientSummary.objects.filter(patient=patient).order_by("-created_at"))
    return {
        "patient": patient,
        "intakes": intakes,
        "summaries": summaries,
        "latest_summary": summaries[0] if summaries else None,
        "usage": _usage(total),
    }


def patient_chat_texts(patient_id: int) -> list[str]:
    """Everything the patient typed in any of their intakes (for the research identifier check)."""
    return list(
        IntakeTurn.objects.filter(session__patient_id=patient_id, role=IntakeTurn.Role.PATIENT)
        .order_by("session_id", "index")
        .values_list("text", flat=True)
    )
