"""Reads of patients for the staff pages (no writes, no audit: nothing of the chart is read here)."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from patients.models import Patient

SEARCH_LIMIT = 50


def _as_date(token: str) -> date | None:
    try:
        return date.fromisoformat(token)
    except ValueError:
        return None


def patient_search(*, query: str, limit: int = SEARCH_LIMIT) -> QuerySet[Patient]:
    """Patients matching every word of `query` (a name part, an MRN, or a YYYY-MM-DD birth date);
    with no query, the most recently registered."""
    tokens = query.split()[:6]
    if not tokens:
        return Patient.objects.order_by("-created_at")[:limit]
    condition = Q()
    for token in tokens:
        born = _as_date(token)
        condition &= (
            Q(birth_date=born)
            if born
            else Q(given_name__icontains=token) | Q(family_name__icontains=token) | Q(mrn__iexact=token)
        )
    return Patient.objects.filter(condition).order_by("family_name", "given_name", "birth_date")[:limit]
