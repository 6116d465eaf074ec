"""Pages and plain-HTTP endpoints of the intake project: the patient chat and the staff pages.

Thin: parse the request, call one service or selector, render. Tokens appear only in the chat
link itself; staff pages use ids.
"""

from __future__ import annotations

import re
from datetime import datetime, time

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

from intake import health, selectors, services
from intake.attachments import ALLOWED_TYPES, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_TURN
from intake.qr import qr_svg
from patients import ehr
from patients.views import staff_required

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


@never_cache
@require_GET
def patient_chat(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's chat page at /i/<token>/: the transcript so far, rendered server-side."""
    session = services.intake_session_for_token(token)
    if session is None:
        raise Http404("This intake link is not valid. Please ask the front desk for a new one.")
    lang = _patient_language(request)
    context = {
        **selectors.intake_chat_context(session),
        "token": token,
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
def patient_chat_review(request: HttpRequest, token: str) -> HttpResponse:
    """The review screen alone (the patient's answers by step), fetched by chat.js on reaching review."""
    session = services.intake_session_for_token(token)
    if session is None:
        raise Http404("This intake link is not valid.")
    response = render(request, "intake/_review.html", {"review": selectors.intake_review_answers(session.pk)})
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- Staff --------------------------------------------------------------------------------------


def _today_start() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


@staff_required
@require_GET
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    rows = selectors.intake_dashboard_rows(since=_today_start())
    return render(
        request, "staff/staff_dashboard.html", {"rows": rows, "today": timezone.localdate(), "nav": "dashboard"}
    )


@never_cache
@staff_required
@require_GET
def staff_dashboard_rows(request: HttpRequest) -> HttpResponse:
    """The dashboard's table body alone; static/js/dashboard.js swaps it in every 10 s."""
    rows = selectors.intake_dashboard_rows(since=_today_start())
    return render(request, "staff/_dashboard_rows.html", {"rows": rows})


@staff_required
@require_GET
def staff_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    page = selectors.patient_page(patient_id)
    patient = page["patient"]
    summary = page["latest_summary"]
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
        research_panel = RESEARCH_PANEL_TEMPLATE
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
@staff_required
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


@staff_required
@require_POST
def staff_kiosk_enter(request: HttpRequest) -> HttpResponse:
    """Hand the tablet to the patient: sign the staff member out, then open the chat in kiosk mode.

    Signing out first means the patient cannot reach staff pages from the tablet; leaving kiosk
    mode goes through the staff login."""
    token = request.POST.get("token", "")
    session = services.intake_session_for_token(token)
    if session is None:
        messages.error(request, "That intake link is no longer valid. Start a new intake.")
        return redirect("staff:dashboard")
    logout(request)
    return redirect(reverse("patient-chat", args=[token]) + "?kiosk=1")
