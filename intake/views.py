"""Pages and plain-HTTP endpoints of the intake project: the patient chat and the staff pages.

Thin: parse the request, call one service or selector, render. Tokens appear only in the chat
link itself; staff pages use ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from intake import health, links, selectors, services
from intake.attachments import ALLOWED_TYPES, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_TURN
from intake.qr import qr_svg
from intake.ratelimit import rate_limit_hit
from patients import ehr
from patients.access import staff_perms_required
from patients.selectors import summary_field_states

RESEARCH_PANEL_TEMPLATE = "agents/research_panel.html"
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_RTL = {"ar", "fa", "he", "ur", "ps", "yi", "dv", "ckb"}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """`/`: each kind of user to their start page; anyone without a session gets a short explanation."""
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        if user.is_superuser:
            return redirect("admin:index")
        if user.has_perm("patients.approve_patientsummary"):
            return redirect("admin:patients_patientsummary_changelist")
        return redirect("staff:dashboard")
    return render(request, "home.html")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health.health_check()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _patient_language(request: HttpRequest) -> str:
    """The document language: ?lang= if valid, else the first valid Accept-Language entry, else en."""
    chosen = request.GET.get("lang", "")
    if _LANG.match(chosen):
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip()
        if _LANG.match(tag):
            return tag
    return "en"


def chat_link_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """At most RATE_LIMIT_CHAT_PAGE_PER_MINUTE page loads per chat link, then a friendly 429."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponse:
        if rate_limit_hit(scope="chat-page", key=token, limit=settings.RATE_LIMIT_CHAT_PAGE_PER_MINUTE):
            response = HttpResponse(
                "This page was opened too many times in a minute. Please wait a minute, then reload it.",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = "60"
            return response
        return view(request, token, *args, **kwargs)

    return wrapper


def _link_ended(request: HttpRequest, exc: links.IntakeLinkError) -> HttpResponse:
    """A link that shows nothing: only why, and what to do."""
    context = {"title": exc.title, "message": str(exc)}
    response = render(request, "intake/intake_link_ended.html", context, status=exc.status_code)
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@chat_link_rate_limited
@require_GET
def patient_chat_enter(request: HttpRequest, token: str) -> HttpResponse:
    """/i/<token>/, the link's first visit: bind the intake to this browser's session and move the
    token out of the URL (a redirect to /i/), so no later request line carries it."""
    try:
        session = links.intake_link_open(token)
    except links.IntakeLinkError as exc:
        return _link_ended(request, exc)
    links.intake_chat_bind(request.session, session)
    query = request.GET.urlencode()
    response = redirect(reverse("patient-chat-current") + (f"?{query}" if query else ""))
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_GET
def patient_chat(request: HttpRequest) -> HttpResponse:
    """The patient's chat page at /i/: the transcript so far, rendered server-side, for the intake
    this browser opened with its link."""
    try:
        session = links.intake_chat_session(request.session)
    except links.IntakeLinkError as exc:
        return _link_ended(request, exc)
    lang = _patient_language(request)
    context = {
        **selectors.intake_chat_context(session),
        "lang": lang,
        "dir": "rtl" if lang.split("-")[0].lower() in _RTL else "ltr",
        "kiosk": request.GET.get("kiosk") == "1",
        "max_bytes": MAX_ATTACHMENT_BYTES,
        "max_files": MAX_ATTACHMENTS_PER_TURN,
        # The request body limit (base64 is 4/3 of the bytes) caps all files of one message together.
        "max_total": min(
            MAX_ATTACHMENT_BYTES * MAX_ATTACHMENTS_PER_TURN, settings.DATA_UPLOAD_MAX_MEMORY_SIZE * 3 // 4 - 65536
        ),
        "accept": ",".join(ALLOWED_TYPES),
        "max_chars": services.MAX_TEXT_CHARS,
    }
    response = render(request, "intake/intake_chat.html", context)
    # The page carries the patient's token: never_cache keeps it out of caches, and this out of Referer.
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_GET
def patient_chat_review(request: HttpRequest) -> HttpResponse:
    """The review screen alone (the patient's answers by step), fetched by chat.js on reaching review."""
    try:
        session = links.intake_chat_session(request.session)
    except links.IntakeLinkError as exc:
        return _link_ended(request, exc)
    response = render(request, "intake/_review.html", {"review": selectors.intake_review_answers(session.pk)})
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- Staff --------------------------------------------------------------------------------------


def _today_start() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


@staff_perms_required("intake.view_intakesession")
@require_GET
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    rows = selectors.intake_dashboard_rows(since=_today_start())
    return render(
        request, "staff/staff_dashboard.html", {"rows": rows, "today": timezone.localdate(), "nav": "dashboard"}
    )


@never_cache
@staff_perms_required("intake.view_intakesession")
@require_GET
def staff_dashboard_rows(request: HttpRequest) -> HttpResponse:
    """The dashboard's table body alone; static/js/dashboard.js swaps it in every 10 s."""
    rows = selectors.intake_dashboard_rows(since=_today_start())
    return render(request, "staff/_dashboard_rows.html", {"rows": rows})


@staff_perms_required("patients.view_patient")
@require_GET
def staff_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    page = selectors.patient_page(patient_id)
    # Parts of the page behind their own permission are left out of the context, not just hidden.
    if request.user.has_perm("intake.view_transcript"):
        # The live record is what the patient said: clinicians only, as the conversation and the API.
        records = selectors.intake_records_for_staff([item["session"].pk for item in page["intakes"]])
        for item in page["intakes"]:
            item["record"] = records.get(item["session"].pk)
    else:
        for item in page["intakes"]:
            item["messages"], item["record"] = [], None
    if not request.user.has_perm("patients.view_patientsummary"):
        page["summaries"], page["latest_summary"] = [], None
    patient = page["patient"]
    summary = page["latest_summary"]
    page["summary_states"] = summary_field_states(summary) if summary is not None else None
    chart, chart_source, chart_error = None, "", ""
    if summary is not None and summary.chart_snapshot:
        chart, chart_source = summary.chart_snapshot, "snapshot"
    else:
        scope = ehr.PatientScope(
            patient_id=patient.pk,
            fhir_patient_id=patient.fhir_patient_id,
            actor_label=f"user:{request.user.pk}",
            actor_user_id=request.user.pk,
        )
        try:
            chart, chart_source = ehr.chart_read(scope=scope, sections=list(ehr.SECTIONS)).as_dict(), "live"
        except ehr.ChartAccessError:
            chart_error = "The chart could not be read just now. Reload the page to try again."
    try:
        get_template(RESEARCH_PANEL_TEMPLATE)
        research_panel = RESEARCH_PANEL_TEMPLATE if request.user.has_perm("agents.view_researchjob") else ""
    except TemplateDoesNotExist:
        research_panel = ""
    return render(
        request,
        "staff/staff_patient.html",
        {
            **page,
            "open_intake": selectors.intake_open_for_patient(patient_id=patient.pk),
            "chart": chart,
            "chart_source": chart_source,
            "chart_error": chart_error,
            "research_panel": research_panel,
        },
    )


@never_cache
@staff_perms_required("patients.view_patient", "intake.start_intake")
@require_POST
def staff_intake_start(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Open an intake and show its link once: as text, a QR code, a copy button and kiosk mode.

    Rendered in the POST response (not redirected) because only the token's hash is stored."""
    patient = selectors.patient_get(patient_id)
    open_intake = selectors.intake_open_for_patient(patient_id=patient.pk)
    if open_intake is not None and request.POST.get("confirm_second") != "1":
        # A second link for the same patient is usually a mistake: say so, link the open one, ask first.
        context = {"patient": patient, "open_intake": open_intake}
        return render(request, "staff/staff_intake_confirm.html", context, status=409)
    session, token = services.intake_start(patient=patient, actor=request.user)
    link = request.build_absolute_uri(reverse("patient-chat", args=[token]))
    # The token is in the page body, never in this page's URL (so the default Referer policy is
    # safe, and the kiosk form's POST keeps a real Origin for the CSRF check).
    return render(
        request,
        "staff/staff_intake_started.html",
        {"patient": patient, "session": session, "link": link, "token": token, "qr": qr_svg(link)},
    )


@staff_perms_required("intake.start_intake")
@require_POST
def staff_kiosk_enter(request: HttpRequest) -> HttpResponse:
    """Hand the tablet to the patient: sign the staff member out, then open the chat in kiosk mode.

    Signing out first means the patient cannot reach staff pages from the tablet; leaving kiosk
    mode goes through the staff login."""
    try:
        session = links.intake_link_open(request.POST.get("token", ""))
    except links.IntakeLinkError:
        messages.error(request, "That intake link is no longer valid. Start a new intake.")
        return redirect("staff:dashboard")
    logout(request)
    # The tablet's new session carries the intake: the token never goes into a URL here.
    links.intake_chat_bind(request.session, session)
    return redirect(reverse("patient-chat-current") + "?kiosk=1")


@staff_perms_required("intake.start_intake")
@require_POST
def staff_intake_revoke(request: HttpRequest, intake_id: int) -> HttpResponse:
    """Stop an intake's chat link at once (audited); every browser that opened it loses it too."""
    try:
        session = links.intake_link_revoke(session_id=intake_id, actor=request.user)
    except links.IntakeLinkError as exc:
        raise Http404(str(exc)) from exc
    messages.success(request, f"The chat link of intake #{session.pk} no longer works.")
    return redirect("staff:patient", patient_id=session.patient_id)
