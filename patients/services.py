"""Writes about patients: registration, chart linking. Each write is one transaction and audited."""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.ehr import ChartAccessError, chart_match_patient, chart_patient_exists
from patients.fhir_export import summary_fhir_bundle
from patients.models import AuditEvent, Patient, PatientSummary
from patients.review import changed_fields, summary_validate

logger = logging.getLogger(__name__)

PHONE_ALLOWED = re.compile(r"^\+?[0-9 ()./-]+$")
PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 7, 15  # E.164 allows at most 15 digits


class PatientInvalidError(ValueError):
    """The patient's details do not pass validation. `errors` maps field name -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class PatientDuplicateError(ValueError):
    """A patient with the same MRN, or the same name and birth date, is already registered."""

    def __init__(self, message: str, *, existing_id: int, field: str) -> None:
        super().__init__(message)
        self.existing_id = existing_id
        self.field = field


def _actor_fields(actor: Any, actor_label: str) -> dict[str, Any]:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return {"actor": actor, "actor_label": actor_label or f"user:{actor.pk}"}
    return {"actor": None, "actor_label": actor_label}


def _validate(
    *, given_name: str, family_name: str, birth_date: date, sex: str, phone: str, email: str, mrn: str | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    texts = {"given_name": given_name, "family_name": family_name, "phone": phone, "email": email, "mrn": mrn or ""}
    for field, value in texts.items():
        if "\x00" in value:
            # PostgreSQL text columns cannot hold NUL; the API has no form to strip it first.
            errors[field] = "Remove the null character (\\u0000) from this field."
    if not given_name:
        errors["given_name"] = "Please enter the patient's first name."
    if not family_name:
        errors["family_name"] = "Please enter the patient's last name."
    if not isinstance(birth_date, date):
        errors["birth_date"] = "Please enter the birth date as a date (YYYY-MM-DD)."
    elif birth_date > timezone.localdate():
        errors["birth_date"] = "The birth date cannot be in the future."
    elif birth_date.year < 1900:
        errors["birth_date"] = "The birth date is before 1900; please check the year."
    if sex not in Patient.Sex.values:
        errors["sex"] = f"Sex must be one of: {', '.join(Patient.Sex.labels)}."
    if phone:
        digits = re.sub(r"\D", "", phone)
        if not PHONE_ALLOWED.match(phone) or not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
            errors["phone"] = (
                "The phone number should contain 7 to 15 digits and only spaces, dashes, dots, "
                "brackets or a leading +, for example 555-123-4567."
            )
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = "The email address does not look right, for example name@example.com."
    if mrn is not None and len(mrn) > 64:
        errors["mrn"] = "The MRN is longer than 64 characters."
    return errors


def patient_create(
    *,
    given_name: str,
    family_name: str,
    birth_date: date,
    sex: str,
    phone: str = "",
    email: str = "",
    mrn: str | None = None,
    actor: Any = None,
    actor_label: str = "",
) -> Patient:
    """Register a patient, link the chart if it has exactly one match, and audit it.

    Raises PatientInvalidError (messages per field) or PatientDuplicateError."""
    given_name, family_name = given_name.strip(), family_name.strip()
    phone, email = phone.strip(), email.strip()
    mrn = (mrn or "").strip() or None
    errors = _validate(
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        sex=sex,
        phone=phone,
        email=email,
        mrn=mrn,
    )
    if errors:
        raise PatientInvalidError(errors)

    if mrn and (existing := Patient.objects.filter(mrn=mrn).values_list("pk", flat=True).first()):
        raise PatientDuplicateError(
            f"A patient with this MRN is already registered (patient #{existing}).",
            existing_id=existing,
            field="mrn",
        )
    same_person = Patient.objects.filter(
        given_name__iexact=given_name, family_name__iexact=family_name, birth_date=birth_date
    )
    if existing := same_person.values_list("pk", flat=True).first():
        raise PatientDuplicateError(
            f"A patient with the same name and birth date is already registered (patient #{existing}).",
            existing_id=existing,
            field="birth_date",
        )

    # The chart lookup happens before the transaction: it may be an HTTP call. A chart outage must
    # not stop registration; the patient is then left unlinked and can be linked later.
    try:
        fhir_patient_id = chart_match_patient(
            given_name=given_name, family_name=family_name, birth_date=birth_date, mrn=mrn
        )
    except ChartAccessError as exc:
        logger.warning("chart match failed during patient_create: %s", exc)
        fhir_patient_id = ""

    try:
        with transaction.atomic():
            patient = Patient.objects.create(
                given_name=given_name,
                family_name=family_name,
                birth_date=birth_date,
                sex=sex,
                phone=phone,
                email=email,
                mrn=mrn,
                fhir_patient_id=fhir_patient_id,
            )
            AuditEvent.objects.create(
                **_actor_fields(actor, actor_label),
                patient=patient,
                action="patient.create",
                object_type="Patient",
                object_id=str(patient.pk),
                detail={"chart_linked": bool(fhir_patient_id), "has_mrn": bool(mrn)},
            )
    except IntegrityError as exc:
        # Two registrations raced on the same MRN; the unique constraint caught the second.
        existing = Patient.objects.filter(mrn=mrn).values_list("pk", flat=True).first() or 0
        raise PatientDuplicateError(
            "A patient with this MRN is already registered.", existing_id=existing, field="mrn"
        ) from exc
    return patient


def patient_link_chart(
    *, patient: Patient, fhir_patient_id: str | None = None, actor: Any = None, actor_label: str = ""
) -> Patient:
    """Set the patient's chart link and audit it.

    `fhir_patient_id=None` matches the chart by MRN / name and birth date; a string links that chart
    Patient (it must exist in the chart); "" removes the link."""
    if fhir_patient_id is None:
        new_id = chart_match_patient(
            given_name=patient.given_name,
            family_name=patient.family_name,
            birth_date=patient.birth_date,
            mrn=patient.mrn,
        )
    else:
        new_id = fhir_patient_id.strip()
        if new_id and not chart_patient_exists(fhir_patient_id=new_id):
            raise PatientInvalidError({"fhir_patient_id": "The chart has no patient with this id."})
    with transaction.atomic():
        previous = patient.fhir_patient_id
        Patient.objects.filter(pk=patient.pk).update(fhir_patient_id=new_id)
        patient.fhir_patient_id = new_id
        AuditEvent.objects.create(
            **_actor_fields(actor, actor_label),
            patient=patient,
            action="patient.link_chart",
            object_type="Patient",
            object_id=str(patient.pk),
            detail={
                "linked": bool(new_id),
                "changed": previous != new_id,
                "matched": fhir_patient_id is None,
            },
        )
    return patient


# --- Summary review: edits, decisions and the FHIR export -----------------------------------------

APPROVE_PERMISSION = "patients.approve_patientsummary"


class SummaryPermissionError(PermissionError):
    """The user may not make this review decision (needs `patients.approve_patientsummary`)."""


class SummaryInvalidError(ValueError):
    """The summary data does not match PatientSummarySchema. `errors` is [(field, message)]."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors


class SummaryNotApprovedError(ValueError):
    """Only an approved summary may leave the app (FHIR export)."""


def _summary_audit(*, summary: PatientSummary, actor: Any, action: str, detail: dict[str, Any]) -> None:
    AuditEvent.objects.create(
        **_actor_fields(actor, ""),
        patient_id=summary.patient_id,
        action=action,
        object_type="PatientSummary",
        object_id=str(summary.pk),
        detail=detail,
    )


def summary_record_view(*, summary: PatientSummary, viewer: Any, what: str = "change_page") -> None:
    """Audit that a user looked at a summary (the admin change page, its history)."""
    _summary_audit(summary=summary, actor=viewer, action="summary.view", detail={"page": what})


def summary_record_list(*, viewer: Any, shown: int, searched: bool) -> None:
    """Audit that a user listed summaries (the list shows names and complaints): counts only."""
    AuditEvent.objects.create(
        **_actor_fields(viewer, ""),
        action="summary.list",
        object_type="PatientSummary",
        detail={"shown": shown, "searched": searched},
    )


def _locked(summary: PatientSummary) -> PatientSummary:
    return PatientSummary.objects.select_for_update().get(pk=summary.pk)


def _refresh_from(summary: PatientSummary, fresh: PatientSummary) -> PatientSummary:
    for field in ("data", "urgency", "review_status", "reviewer_id", "reviewed_at", "review_note"):
        setattr(summary, field, getattr(fresh, field))
    return summary


def summary_update(
    *, summary: PatientSummary, data: Any, editor: Any, review_note: str | None = None
) -> PatientSummary:
    """Replace the summary's data after validating it against PatientSummarySchema.

    The urgency column follows `urgency_level`. Editing an approved summary sends it back to
    pending: the approval was for other content. Nothing is written when nothing changed.
    Raises SummaryInvalidError with readable messages."""
    clean, errors = summary_validate(data)
    if clean is None:
        raise SummaryInvalidError(errors)
    with transaction.atomic():
        fresh = _locked(summary)
        fields = changed_fields(fresh.data or {}, clean)
        note_changed = review_note is not None and review_note != fresh.review_note
        if not fields and not note_changed:
            return _refresh_from(summary, fresh)
        was_approved = fresh.review_status == PatientSummary.ReviewStatus.APPROVED and bool(fields)
        fresh.data = clean
        fresh.urgency = clean["urgency_level"]
        if review_note is not None:
            fresh.review_note = review_note
        if was_approved:
            fresh.review_status = PatientSummary.ReviewStatus.PENDING
        fresh._history_user = editor  # type: ignore[attr-defined]
        reason = f"Edited: {', '.join(fields)}" if fields else "Review note edited"
        reason += " (approval withdrawn)" if was_approved else ""
        # simple_history keeps at most 100 characters (PostgreSQL enforces it); the audit row has every field.
        fresh._change_reason = reason if len(reason) <= 100 else reason[:99] + "\u2026"  # type: ignore[attr-defined]
        fresh.save()
        _summary_audit(
            summary=fresh,
            actor=editor,
            action="summary.change",
            detail={"fields": fields, "note_changed": note_changed, "approval_withdrawn": was_approved},
        )
    return _refresh_from(summary, fresh)


# The audit action of each decision, by the review status it sets.
_DECISION_ACTIONS = {
    PatientSummary.ReviewStatus.APPROVED: "summary.approve",
    PatientSummary.ReviewStatus.REJECTED: "summary.reject",
    PatientSummary.ReviewStatus.CHANGES_REQUESTED: "summary.request_changes",
}


def _summary_decide(*, summary: PatientSummary, reviewer: Any, status: str, note: str | None) -> PatientSummary:
    if reviewer is None or not reviewer.has_perm(APPROVE_PERMISSION):
        raise SummaryPermissionError(
            "Only reviewers with the “approve summaries” permission can approve, reject or request changes."
        )
    with transaction.atomic():
        fresh = _locked(summary)
        if status == PatientSummary.ReviewStatus.APPROVED:
            clean, errors = summary_validate(fresh.data)
            if clean is None:
                raise SummaryInvalidError(errors)
        previous = fresh.review_status
        fresh.review_status = status
        fresh.reviewer = reviewer
        fresh.reviewed_at = timezone.now()
        if note is not None:
            fresh.review_note = note
        fresh._history_user = reviewer  # type: ignore[attr-defined]
        fresh._change_reason = f"{PatientSummary.ReviewStatus(status).label}"  # type: ignore[attr-defined]
        fresh.save()
        _summary_audit(
            summary=fresh,
            actor=reviewer,
            action=_DECISION_ACTIONS[status],
            detail={"from": previous, "to": status, "has_note": bool(fresh.review_note)},
        )
    return _refresh_from(summary, fresh)


def summary_approve(*, summary: PatientSummary, reviewer: Any, note: str | None = None) -> PatientSummary:
    """Approve a summary whose data validates. Raises SummaryPermissionError, SummaryInvalidError."""
    return _summary_decide(summary=summary, reviewer=reviewer, status=PatientSummary.ReviewStatus.APPROVED, note=note)


def summary_reject(*, summary: PatientSummary, reviewer: Any, note: str | None = None) -> PatientSummary:
    return _summary_decide(summary=summary, reviewer=reviewer, status=PatientSummary.ReviewStatus.REJECTED, note=note)


def summary_request_changes(*, summary: PatientSummary, reviewer: Any, note: str | None = None) -> PatientSummary:
    status = PatientSummary.ReviewStatus.CHANGES_REQUESTED
    return _summary_decide(summary=summary, reviewer=reviewer, status=status, note=note)


def summary_fhir_export(*, summary: PatientSummary, actor: Any) -> dict[str, Any]:
    """The approved summary as a validated FHIR R4 Bundle (JSON dict), audited.

    Raises SummaryNotApprovedError for any other review status."""
    if summary.review_status != PatientSummary.ReviewStatus.APPROVED or summary.reviewer_id is None:
        raise SummaryNotApprovedError(
            f"Only an approved summary can be exported to FHIR; this one is “{summary.get_review_status_display()}”."
        )
    bundle = summary_fhir_bundle(summary=summary)
    counts: dict[str, int] = {}
    for entry in bundle.get("entry", []):
        rtype = entry["resource"]["resourceType"]
        counts[rtype] = counts.get(rtype, 0) + 1
    _summary_audit(summary=summary, actor=actor, action="summary.export_fhir", detail={"resources": counts})
    return bundle
