"""Reads of patients for the staff pages (no writes, no audit: nothing of the chart is read here)."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from patients.fact_states import SECTION_TOPICS, section_state, state_text
from patients.models import Patient, PatientSummary

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


def summary_topics(summary: PatientSummary) -> dict[str, list[str]]:
    """The topics the patient declined or said they have none of: from the summary's own `declined` /
    `none` lists when it has them, and the intake's record of declined steps (plan step keys)."""
    data = summary.data if isinstance(summary.data, dict) else {}
    session = getattr(summary, "intake_session", None)  # reverse one-to-one: absent raises, getattr hides it
    answers = session.answers if session is not None and isinstance(session.answers, dict) else {}
    # The intake record's own states ("none", "declined", "not obtained"), per record topic.
    record = getattr(session, "record", None) if session is not None else None
    document = record.document if record is not None and isinstance(record.document, dict) else {}
    states: dict[str, list[str]] = {}
    for topic, fact in document.items():
        if isinstance(fact, dict) and fact.get("state") in ("declined", "none", "not_obtained"):
            states.setdefault(str(fact["state"]), []).append(str(topic))
    topics: dict[str, list[str]] = {}
    for key in ("declined", "none", "not_obtained"):
        found = [*(data.get(key) or []), *(answers.get(key) or []), *states.get(key, [])]
        topics[key] = list(dict.fromkeys(str(t) for t in found if isinstance(t, str) and t))
    return topics


def summary_field_states(summary: PatientSummary) -> dict[str, str]:
    """Per summary section, the words to show where the section is empty: "Declined to answer",
    "None" or "Not obtained" (`patients.fact_states`); "" for a section with a value (every section is
    a key, so a template may use any of them as a filter argument)."""
    data = summary.data if isinstance(summary.data, dict) else {}
    said = summary_topics(summary)
    social = data.get("social_history") if isinstance(data.get("social_history"), dict) else {}
    out: dict[str, str] = {}
    for section in SECTION_TOPICS:
        value = social.get(section) if section in ("tobacco", "alcohol", "occupation") else data.get(section)
        out[section] = state_text(section_state(said, section, value))
    return out
