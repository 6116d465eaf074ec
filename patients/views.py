"""Staff pages about patients: the patient list and search, and registration. Thin: parse with a form,
call one service or selector, render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from patients.forms import PatientRegisterForm, PatientSearchForm
from patients.selectors import SEARCH_LIMIT, patient_search


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff pages: anonymous users go to the login page, signed-in non-staff users get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("Staff pages are for clinic staff accounts.")
        return view(request, *args, **kwargs)

    return wrapper


@staff_required
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
@staff_required
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
