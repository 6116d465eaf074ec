"""Staff pages about patients: the patient list and search, and registration. Thin: parse with a form,
call one service or selector, render."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from patients.access import staff_perms_required
from patients.forms import PatientRegisterForm, PatientSearchForm
from patients.selectors import SEARCH_LIMIT, patient_search


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff pages open to any clinic staff account (no object data behind them)."""
    return staff_perms_required()(view)


@staff_perms_required("patients.add_patient")
@require_http_methods(["GET", "POST"])
def patient_register(request: HttpRequest) -> HttpResponse:
    form = PatientRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = form.save(actor=request.user)
        if patient is not None:
            chart = "It matched a chart" if patient.fhir_patient_id else "No matching chart was found"
            messages.success(request, f"Patient registered. {chart}.")
            return redirect("staff:patient", patient_id=patient.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "patients/patient_register.html",
        {"form": form, "duplicate_id": form.duplicate_id, "nav": "register"},
        status=status,
    )


@never_cache
@staff_perms_required("patients.view_patient")
@require_http_methods(["GET", "POST"])
def patient_list(request: HttpRequest) -> HttpResponse:
    """The patient list; a search is POSTed and answered on this same URL, so no name is ever in a URL."""
    form = PatientSearchForm(request.POST or None)
    query = form.cleaned_data["q"].strip() if request.method == "POST" and form.is_valid() else ""
    invalid = request.method == "POST" and not form.is_valid()
    patients = [] if invalid else list(patient_search(query=query))
    return render(
        request,
        "patients/patient_list.html",
        {"form": form, "patients": patients, "query": query, "limit": SEARCH_LIMIT, "nav": "patients"},
        status=400 if invalid else 200,
    )
