"""The typed JSON API (django-ninja). OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Endpoints parse input, call one service and shape the answer. Every error is JSON with a `detail`
a person can read. A patient's token opens only its own intake; anything else is 404.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security.base import AuthBase
from ninja.utils import check_csrf

from intake import links, selectors, services
from intake.attachments import MAX_ATTACHMENTS_PER_TURN, Attachment, AttachmentError, attachment_parse
from intake.busy import BUSY_DETAIL, BUSY_ERRORS, busy_response, turn_slot_take, turns_busy_response
from intake.ratelimit import RateLimitedError, rate_limit_check, rate_limit_refund
from patients import services as patient_services
from patients.db import sync_to_async  # gives the DB connection back after each batch
from patients.models import PatientSummary

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff user, or the patient holding one intake's token."""

    user: User | None = None
    session_id: int | None = None
    # The staff user's permissions, read once in auth (async endpoints cannot query for them).
    perms: frozenset[str] = frozenset()

    @property
    def is_staff(self) -> bool:
        return self.user is not None

    def has_perms(self, perms: tuple[str, ...]) -> bool:
        return self.user is not None and (self.user.is_superuser or set(perms) <= self.perms)


class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>`: a staff API token or an intake's patient token."""

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> Principal | None:
        # Parsed here rather than in ninja's HttpBearer, which logs bad headers verbatim in DEBUG.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        principal = selectors.principal_for_token(token.strip(), principal_cls=Principal)
        if principal is None:
            return None
        who = f"user:{principal.user.pk}" if principal.user else f"intake:{principal.session_id}"
        rate_limit_check(
            scope="api",
            key=who,
            limit=settings.RATE_LIMIT_API_PER_MINUTE,
            message="Too many requests. Please wait a minute and try again.",
        )
        if principal.user is not None:
            principal = replace(principal, perms=frozenset(principal.user.get_all_permissions()))
        return principal


class ChatSessionAuth(AuthBase):
    """The patient chat page: the browser's session bound to one intake by its link, plus CSRF."""

    openapi_type = "apiKey"
    openapi_in = "cookie"
    openapi_name = "sessionid"

    def __call__(self, request: HttpRequest) -> Principal | None:
        if not request.session.get(links.CHAT_SESSION_KEY):
            return None
        try:
            session = links.intake_chat_session(request.session)
        except links.IntakeLinkError:
            return None
        if check_csrf(request):
            raise HttpError(403, "This page has expired. Reload it, then send your message again.")
        return Principal(session_id=session.pk)


api = NinjaAPI(
    title="Clinic intake API",
    version="1.0",
    urls_namespace="api-v1",
    auth=[BearerAuth(), ChatSessionAuth()],
    docs_url="/docs",
)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(
        request, {"detail": "Send a valid token as 'Authorization: Bearer <token>'."}, status=401
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors[:10]:
        loc = [str(p) for p in error.get("loc", []) if p not in {"body", "payload", "query", "path"}]
        problems.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
    return api.create_response(request, {"detail": "Invalid request. " + "; ".join(problems)}, status=400)


# Errors whose own message is the answer, and the status each one means.
_DETAIL_ERRORS: dict[type[Exception], Callable[[Any], int]] = {
    services.IntakeError: lambda exc: exc.status_code,
    AttachmentError: lambda exc: 413 if exc.too_large else 415,
    patient_services.PatientInvalidError: lambda exc: 400,
    patient_services.PatientDuplicateError: lambda exc: 409,
    Http404: lambda exc: 404,
}


def _detail_handler(status_of: Callable[[Any], int]) -> Callable[[HttpRequest, Exception], HttpResponse]:
    def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, {"detail": str(exc) or "Not found."}, status=status_of(exc))

    return handler


for _error, _status_of in _DETAIL_ERRORS.items():
    api.add_exception_handler(_error, _detail_handler(_status_of))


for _busy in BUSY_ERRORS:  # out of database connections: 503, the page keeps the message
    api.add_exception_handler(_busy, busy_response)


@api.exception_handler(RateLimitedError)
def _rate_limited(request: HttpRequest, exc: RateLimitedError) -> HttpResponse:
    response = api.create_response(request, {"detail": str(exc)}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(
        request, {"detail": "The request is too large. Attachments may be at most 10 MB each."}, status=413
    )


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, HttpError):
        return api.create_response(request, {"detail": exc.message}, status=exc.status_code)
    logger.exception("unexpected API error (%s)", type(exc).__name__)
    return api.create_response(request, {"detail": "Something went wrong on our side. Please try again."}, status=500)


NO_PERMISSION = "Your account does not have permission for this call."


def _require_staff(request: HttpRequest, *perms: str) -> User:
    principal: Principal = request.auth  # type: ignore[attr-defined]
    if not principal.is_staff:
        raise HttpError(403, "This call is for clinic staff.")
    if not principal.has_perms(perms):
        raise HttpError(403, NO_PERMISSION)
    assert principal.user is not None
    return principal.user


def _intake_id_allowed(request: HttpRequest, intake_id: int, *staff_perms: str) -> None:
    """A patient's token opens only its own intake; staff need `staff_perms`."""
    principal: Principal = request.auth  # type: ignore[attr-defined]
    if principal.is_staff:
        if not principal.has_perms(staff_perms):
            raise HttpError(403, NO_PERMISSION)
        return
    if principal.session_id != intake_id:
        # Another intake's token: answer as if it did not exist.
        raise HttpError(404, "No such intake.")


@contextmanager
def _model_call_budget(intake_id: int) -> Iterator[None]:
    """Each message (or finish) costs model calls: a sensible number per intake per minute, then 429.

    A post the service turns away before any model call (409: another message in flight, the intake
    closed) gives its unit back, so a double-click does not eat the patient's budget."""
    rate_limit_check(
        scope="chat",
        key=str(intake_id),
        limit=settings.RATE_LIMIT_CHAT_MESSAGES_PER_MINUTE,
        message="You are sending messages faster than I can answer. Please wait a minute, then send it again.",
    )
    try:
        yield
    except services.IntakeError as exc:
        if exc.status_code == 409:
            rate_limit_refund(scope="chat", key=str(intake_id))
        raise


# --- Schemas ------------------------------------------------------------------------------------


class Error(Schema):
    detail: str


class PatientIn(Schema):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    phone: str = Field("", max_length=32)
    email: str = Field("", max_length=254)
    mrn: str | None = Field(None, max_length=64)


class PatientOut(Schema):
    id: int
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    mrn: str | None
    chart_matched: bool


class IntakeIn(Schema):
    patient_id: int
    store: bool | None = None


class IntakeCreated(Schema):
    id: int
    chat_url: str
    patient_token: str


class TurnOut(Schema):
    index: int
    role: str
    text: str
    step: int
    interaction_id: str
    previous_interaction_id: str
    request_bytes: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    thought_tokens: int
    latency_ms: int


class IntakeOut(Schema):
    id: int
    status: str
    mode: str
    store: bool
    step: int
    total_steps: int
    step_title: str
    urgency: str
    emergency_flagged: bool
    head_interaction_id: str
    rebuild_count: int
    summary_id: int | None
    record: dict[str, Any] = Field(
        default_factory=dict, description="The live intake record: each fact's state, value and source turns"
    )
    turns: list[TurnOut]


class AttachmentIn(Schema):
    mime_type: str = Field(max_length=100)
    data_base64: str


class MessageIn(Schema):
    text: str = Field("", max_length=services.MAX_TEXT_CHARS)
    language: str | None = Field(
        None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$", description="The patient's language tag, e.g. es"
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS_PER_TURN)


class MessageOut(Schema):
    reply: str
    step: int
    total_steps: int
    status: str
    urgency: str
    emergency: str | None = None
    step_title: str = ""


class SummaryOut(Schema):
    id: int
    patient_id: int
    intake_id: int | None
    urgency: str
    review_status: str
    created_at: Any
    reviewed_at: Any | None
    data: dict[str, Any]


# --- Endpoints ----------------------------------------------------------------------------------


@api.post("/patients", response={201: PatientOut, 400: Error, 409: Error}, tags=["staff"])
def patient_create(request: HttpRequest, payload: PatientIn) -> Status:
    user = _require_staff(request, "patients.add_patient")
    patient = patient_services.patient_create(**payload.dict(), actor=user)
    return Status(201, _patient_dict(patient))


def _patient_dict(patient: Any) -> dict[str, Any]:
    return {
        "id": patient.pk,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date,
        "sex": patient.sex,
        "mrn": patient.mrn,
        "chart_matched": bool(patient.fhir_patient_id),
    }


@api.post("/intakes", response={201: IntakeCreated, 404: Error}, tags=["staff"])
def intake_create(request: HttpRequest, payload: IntakeIn) -> Status:
    user = _require_staff(request, "patients.view_patient", "intake.start_intake")
    patient = selectors.patient_get(payload.patient_id)
    session, token = services.intake_start(patient=patient, store=payload.store, actor=user)
    return Status(
        201,
        {"id": session.pk, "chat_url": request.build_absolute_uri(f"/i/{token}/"), "patient_token": token},
    )


@api.get("/intakes/{intake_id}", response={200: IntakeOut, 404: Error}, tags=["intake"])
def intake_detail(request: HttpRequest, intake_id: int) -> dict[str, Any]:
    _intake_id_allowed(request, intake_id, "intake.view_intakesession", "intake.view_transcript")
    return selectors.intake_detail(intake_id)


_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _idempotency_key(request: HttpRequest) -> str:
    """The optional `Idempotency-Key` header: a retried message with the same key is stored once."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if key and not _IDEMPOTENCY_KEY.match(key):
        raise HttpError(400, "Idempotency-Key must be 8 to 64 letters, digits, '-' or '_'.")
    return key


def _attachments(payload: MessageIn) -> list[Attachment]:
    return [attachment_parse(mime_type=a.mime_type, data_base64=a.data_base64) for a in payload.attachments]


@api.post(
    "/intakes/{intake_id}/messages",
    response={200: MessageOut, 400: Error, 404: Error, 409: Error, 413: Error, 415: Error, 422: Error, 503: Error},
    tags=["intake"],
)
async def intake_message(request: HttpRequest, intake_id: int, payload: MessageIn) -> Any:
    give_back = turn_slot_take(payload.text, settings.CHAT_MAX_TURNS_IN_FLIGHT)
    if give_back is None:
        return turns_busy_response()  # before anything is read or stored: the page keeps the message
    try:
        _intake_id_allowed(request, intake_id, "intake.start_intake")
        with _model_call_budget(intake_id):
            outcome = await services.aintake_turn_submit(
                session_id=intake_id,
                text=payload.text,
                attachments=_attachments(payload),
                language=payload.language,
                idempotency_key=_idempotency_key(request),
            )
    finally:
        give_back()
    return outcome.as_dict()


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


@api.post(
    "/intakes/{intake_id}/messages/stream",
    response={200: None, 400: Error, 404: Error, 409: Error, 413: Error, 415: Error, 422: Error, 503: Error},
    tags=["intake"],
    summary="Send a message; the reply streams as server-sent events (delta, then done or error)",
)
async def intake_message_stream(request: HttpRequest, intake_id: int, payload: MessageIn) -> HttpResponse:
    give_back = turn_slot_take(payload.text, settings.CHAT_MAX_TURNS_IN_FLIGHT)
    if give_back is None:
        return turns_busy_response()  # before anything is read or stored: the page keeps the message
    try:
        _intake_id_allowed(request, intake_id, "intake.start_intake")
        with _model_call_budget(intake_id):
            immediate, events = await services.aintake_turn_stream(
                session_id=intake_id,
                text=payload.text,
                attachments=_attachments(payload),
                language=payload.language,
                idempotency_key=_idempotency_key(request),
            )
    except BaseException:
        give_back()
        raise

    async def body() -> Any:
        try:
            if immediate is not None:
                yield _sse("done", {"type": "done", **immediate.as_dict()})
                return
            assert events is not None
            try:
                async for event in events:
                    yield _sse(event["type"], event)
            except BUSY_ERRORS:  # the 200 is already sent: say it in the stream
                logger.warning("intake %s: database unavailable mid-stream", intake_id)
                yield _sse("error", {"type": "error", "detail": BUSY_DETAIL})
        finally:
            give_back()

    response = StreamingHttpResponse(body(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not hold the stream back
    # A body never started (the patient left first) has no `finally` to run: closing the response
    # gives the slot back too (twice is harmless).
    response._resource_closers.append(give_back)
    return response


@api.post(
    "/intakes/{intake_id}/complete",
    response={200: SummaryOut, 404: Error, 409: Error, 422: Error, 503: Error},
    tags=["intake"],
)
async def intake_complete(request: HttpRequest, intake_id: int) -> dict[str, Any]:
    _intake_id_allowed(request, intake_id, "intake.start_intake")
    with _model_call_budget(intake_id):
        summary = await services.aintake_finish(session_id=intake_id)
    return await sync_to_async(selectors.summary_dict)(summary.pk)


@api.get("/summaries", response={200: list[SummaryOut], 400: Error}, tags=["staff"])
def summary_list(
    request: HttpRequest,
    status: Literal["pending", "changes_requested", "approved", "rejected"] | None = None,
) -> list[dict[str, Any]]:
    _require_staff(request, "patients.view_patientsummary")
    return selectors.summary_list(status=status)


@api.get("/summaries/{summary_id}", response={200: SummaryOut, 404: Error}, tags=["staff"])
def summary_detail(request: HttpRequest, summary_id: int) -> dict[str, Any]:
    _require_staff(request, "patients.view_patientsummary")
    if not PatientSummary.objects.filter(pk=summary_id).exists():
        raise HttpError(404, "No such summary.")
    return selectors.summary_dict(summary_id)
