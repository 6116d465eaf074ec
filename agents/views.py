"""Staff pages and endpoints for Deep Research jobs. Thin: parse, call one service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents import services
from agents.models import ResearchJob
from patients.access import staff_perms_required
from patients.models import Patient, PatientSummary


class ResearchRequestForm(forms.Form):
    question = forms.CharField(
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text="Sent to an outside research service without the patient's identifiers.",
    )


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if target and ok else default


def _request(request: HttpRequest, *, summary_or_patient: PatientSummary | Patient, patient: Patient) -> HttpResponse:
    if request.method == "GET":
        question = services.research_question_prefill(summary_or_patient=summary_or_patient, actor=request.user)
        form = ResearchRequestForm(initial={"question": question})
        return render(request, "agents/research_request.html", {"form": form, "patient": patient})
    form = ResearchRequestForm(request.POST)
    if form.is_valid():
        try:
            job = services.research_job_request(
                summary_or_patient=summary_or_patient,
                question=form.cleaned_data["question"],
                actor=request.user,
            )
        except services.ResearchRefusedError as exc:
            form.add_error("question", str(exc))
        else:
            messages.success(request, f"Research job #{job.pk} queued.")
            return redirect(_next_url(request, reverse("research:detail", args=[job.pk])))
    return render(request, "agents/research_request.html", {"form": form, "patient": patient}, status=400)


@staff_perms_required("agents.request_research")
@require_http_methods(["GET", "POST"])
def research_request_for_summary(request: HttpRequest, summary_id: int) -> HttpResponse:
    summary = get_object_or_404(PatientSummary.objects.select_related("patient"), pk=summary_id)
    return _request(request, summary_or_patient=summary, patient=summary.patient)


@staff_perms_required("agents.request_research")
@require_http_methods(["GET", "POST"])
def research_request_for_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    summary = patient.summaries.order_by("-created_at").first()
    return _request(request, summary_or_patient=summary or patient, patient=patient)


@staff_perms_required("agents.view_researchjob")
@require_GET
def research_job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ResearchJob.objects.select_related("patient"), pk=job_id)
    return render(request, "agents/research_job_detail.html", {"job": services.research_job_view(job)})


@staff_perms_required("agents.view_researchjob")
@never_cache
@require_GET
def research_job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    """The status partial a page polls (HTML), or the same facts as JSON with ?format=json."""
    job = get_object_or_404(ResearchJob, pk=job_id)
    view = services.research_job_view(job)
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "id": job.pk,
                "status": job.status,
                "status_display": job.get_status_display(),
                "terminal": job.is_terminal,
                "progress": view.progress,
                "elapsed_seconds": view.elapsed_seconds,
            }
        )
    compact = request.GET.get("compact") == "1"  # the admin list shows status and progress only
    template = "agents/research_job_status_compact.html" if compact else "agents/research_job_status.html"
    return render(request, template, {"job": view})


@staff_perms_required("agents.request_research")
@require_POST
def research_job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ResearchJob, pk=job_id)
    try:
        services.research_job_cancel(job_id=job.pk, actor=request.user)
    except services.ResearchJobStateError as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(request, f"Research job #{job.pk} cancelled.")
    return redirect(_next_url(request, reverse("research:detail", args=[job.pk])))
