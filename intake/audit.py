"""The audit trail's request side: a request id on every request, an audit row for every look at
patient data (staff pages, API, admin, FHIR export, the patient's own chat), and for every sign-in,
failed sign-in and sign-out.

One middleware, one table of the views that show PHI, so a new PHI view is audited by adding one
line here instead of remembering a call in each view. Rows name ids and the view, never PHI.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import apps
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse

from patients.audit import current_request_id, request_id_for
from patients.db import sync_to_async  # gives the DB connection back after each batch
from patients.models import AuditEvent

logger = logging.getLogger(__name__)
Action = AuditEvent.Action

# Staff pages and API calls that show one patient's data: URL name -> (model, URL kwarg of its id).
PHI_VIEWS: dict[str, tuple[str, str]] = {
    "staff:patient": ("patients.patient", "patient_id"),
    "staff:intake-start": ("patients.patient", "patient_id"),
    "research:request-summary": ("patients.patientsummary", "summary_id"),
    "research:request-patient": ("patients.patient", "patient_id"),
    "research:detail": ("agents.researchjob", "job_id"),
    "research:status": ("agents.researchjob", "job_id"),
    "api-v1:intake_detail": ("intake.intakesession", "intake_id"),
    "api-v1:intake_complete": ("intake.intakesession", "intake_id"),
    "api-v1:summary_detail": ("patients.patientsummary", "summary_id"),
}
# Pages and calls that list several patients (names, urgency): recorded as a list view.
PHI_LISTS = {"staff:dashboard", "staff:dashboard-rows", "api-v1:summary_list"}
# The patient's own chat: the browser's bound intake.
CHAT_VIEWS = {"patient-chat-current", "patient-chat-review"}
# Admin pages of models that hold PHI: change, history and export views of one row, and lists.
ADMIN_PHI_MODELS = {
    "patients.patient",
    "patients.patientsummary",
    "patients.fhirresource",
    "patients.auditevent",
    "intake.intakesession",
    "intake.intaketurn",
    "intake.intakerecord",
    "intake.intakerecordversion",
    "agents.researchjob",
}
# Rows that reach their patient through their intake: model label -> the lookup of the patient id.
_PATIENT_PATHS = {
    "intake.intaketurn": "session__patient_id",
    "intake.intakerecord": "session__patient_id",
    "intake.intakerecordversion": "record__session__patient_id",
}
_ADMIN_VIEW = re.compile(r"^admin:(?P<app>[a-z_]+?)_(?P<model>[a-z]+)_(?P<view>change|history|fhir|changelist)$")


def _patient_id_of(label: str, object_id: Any) -> int | None:
    """The patient a row belongs to, by model label and primary key (None if there is no such row)."""
    model = apps.get_model(label)
    try:
        pk = int(str(object_id))
    except ValueError:
        return None
    if label == "patients.patient":
        return pk if model.objects.filter(pk=pk).exists() else None
    if label in _PATIENT_PATHS:
        return model.objects.filter(pk=pk).values_list(_PATIENT_PATHS[label], flat=True).first()
    if label == "patients.fhirresource":
        ref = model.objects.filter(pk=pk).values_list("patient_ref", flat=True).first()
        patient_model = apps.get_model("patients.patient")
        return patient_model.objects.filter(fhir_patient_id=ref).values_list("pk", flat=True).first() if ref else None
    return model.objects.filter(pk=pk).values_list("patient_id", flat=True).first()


def _actor(request: HttpRequest) -> tuple[Any, str]:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, ""
    principal = getattr(request, "auth", None)  # the JSON API's Principal
    if principal is not None and getattr(principal, "user", None) is not None:
        return principal.user, ""
    if principal is not None and getattr(principal, "session_id", None):
        return None, f"intake-session:{principal.session_id}"
    return None, ""


def phi_access_record(request: HttpRequest, response: HttpResponse) -> None:
    """Write the audit row for a successful look at patient data, if this view shows any."""
    match = getattr(request, "resolver_match", None)
    if match is None or not (200 <= response.status_code < 300):
        return
    name = match.view_name
    actor, label = _actor(request)
    action, patient_id, object_type, object_id = None, None, "", ""
    if name in PHI_VIEWS:
        model_label, kwarg = PHI_VIEWS[name]
        object_id = str(match.kwargs.get(kwarg, ""))
        action, object_type = Action.PHI_VIEW, model_label
        patient_id = _patient_id_of(model_label, object_id)
    elif name in PHI_LISTS:
        action = Action.PHI_LIST
    elif name in CHAT_VIEWS:
        from intake.links import CHAT_SESSION_KEY

        intake_id = (request.session.get(CHAT_SESSION_KEY) or {}).get("id")
        action, object_type, object_id = Action.PHI_VIEW, "intake.intakesession", str(intake_id or "")
        patient_id = _patient_id_of("intake.intakesession", intake_id) if intake_id else None
        label = label or f"intake-session:{intake_id}"
    elif m := _ADMIN_VIEW.match(name):
        model_label = f"{m['app']}.{m['model']}"
        if model_label not in ADMIN_PHI_MODELS:
            return
        if m["view"] == "changelist":
            action, object_type = Action.PHI_LIST, model_label
        else:
            object_id = str(match.kwargs.get("object_id", ""))
            action, object_type = Action.PHI_VIEW, model_label
            patient_id = _patient_id_of(model_label, object_id)
    if action is None or (actor is None and not label):
        return
    AuditEvent.objects.create(
        actor=actor,
        actor_label=label,
        patient_id=patient_id,
        action=action,
        object_type=object_type,
        object_id=object_id[:64],
        detail={"view": name, "method": request.method},
    )


class AuditMiddleware:
    """Stamps a request id (X-Request-ID in and out) and records looks at PHI after the view ran.

    Sync and async capable, so the async chat endpoints keep running without a thread each."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        token = self._begin(request)
        try:
            response = self.get_response(request)
            phi_access_record(request, response)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        token = self._begin(request)
        try:
            response = await self.get_response(request)
            await sync_to_async(phi_access_record)(request, response)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response

    @staticmethod
    def _begin(request: HttpRequest) -> Any:
        request.request_id = request_id_for(request.headers.get("X-Request-ID"))  # type: ignore[attr-defined]
        return current_request_id.set(request.request_id)  # type: ignore[attr-defined]


# --- Sign-in, failed sign-in, sign-out (connected in intake/apps.py) ---------------------------


def audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    AuditEvent.objects.create(actor=user, action=Action.LOGIN, object_type="User", object_id=str(user.pk))


def audit_logout(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        AuditEvent.objects.create(actor=user, action=Action.LOGOUT, object_type="User", object_id=str(user.pk))


def audit_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
    """The account tried, if it exists; what was typed is never stored (it may be a password)."""
    username = str(credentials.get("username") or "")[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    AuditEvent.objects.create(
        actor=user,
        actor_label="" if user else "unknown-account",
        action=Action.LOGIN_FAILED,
        object_type="User",
        object_id=str(user.pk) if user else "",
        detail={"path": request.path[:200] if request is not None else ""},
    )
