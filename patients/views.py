"""Staff pages about patients: registration. Thin: parse with a form, call one service, render."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from patients.access import staff_perms_required
from patients.forms import PatientRegisterForm


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
