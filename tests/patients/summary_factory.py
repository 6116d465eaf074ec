"""Builders for review tests: valid PatientSummary rows (data from PatientSummarySchema), users by role,
and an intake transcript. Nothing here needs the model emulator."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from agents.schemas import PatientSummarySchema
from intake.models import IntakeSession, IntakeTurn
from patients.demo import REVIEWERS_GROUP, STAFF_GROUP, roles_ensure
from patients.models import Patient, PatientSummary

_seq = itertools.count(1)

CHART_SNAPSHOT: dict[str, Any] = {
    "medications": [
        {"name": "lisinopril 10 MG Oral Tablet", "dose": "", "frequency": "1 time(s) per 1 d", "status": "active"},
        {"name": "metformin hydrochloride 500 MG Oral Tablet", "dose": "", "frequency": "", "status": "active"},
    ],
    "allergies": [{"substance": "Bee venom", "reaction": "Hives", "criticality": "low", "status": "active"}],
    "problems": [],
    "coverage": [],
}


def summary_data(**overrides: Any) -> dict[str, Any]:
    schema = PatientSummarySchema(
        patient_name="Ada Testperson",
        urgency_level="routine",
        chief_complaint="Cough for a week",
        history_of_present_illness="Dry cough since Monday, worse at night, no fever.",
        insurance={"payer": "Aetna", "member_id": "W123456789"},
        medications=[
            {"name": "lisinopril", "dose": "10 mg", "frequency": "once daily", "status": "confirmed"},
            {"name": "ibuprofen", "dose": "200 mg", "frequency": "as needed", "status": "new"},
        ],
        allergies=[
            {"substance": "bee venom", "reaction": "hives", "status": "confirmed"},
            {"substance": "penicillin", "reaction": "rash", "status": "new"},
        ],
        past_history=["Hypertension"],
        family_history=["Mother: type 2 diabetes", "Father: heart attack at 60"],
        social_history={"tobacco": "never", "alcohol": "rarely", "occupation": "teacher"},
        red_flags=[],
        recommended_follow_up=["Check blood pressure"],
        sources=[{"field": "chief_complaint", "turns": [1]}],
    )
    data = schema.model_dump(mode="json") | overrides
    return PatientSummarySchema.model_validate(data).model_dump(mode="json")


def make_patient(**fields: Any) -> Patient:
    n = next(_seq)
    defaults = {
        "given_name": f"Ada{n}",
        "family_name": "Testperson",
        "birth_date": date(1970, 1, 1) + timedelta(days=n),
        "sex": Patient.Sex.FEMALE,
        "mrn": f"MRN-{n:05d}",
    }
    return Patient.objects.create(**(defaults | fields))


def make_summary(
    *,
    patient: Patient | None = None,
    urgency: str = "routine",
    created_minutes_ago: int = 0,
    chart_snapshot: dict[str, Any] | None = None,
    **data_overrides: Any,
) -> PatientSummary:
    summary = PatientSummary.objects.create(
        patient=patient or make_patient(),
        data=summary_data(urgency_level=urgency, **data_overrides),
        chart_snapshot=CHART_SNAPSHOT if chart_snapshot is None else chart_snapshot,
        urgency=urgency,
    )
    if created_minutes_ago:
        created = timezone.now() - timedelta(minutes=created_minutes_ago)
        PatientSummary.objects.filter(pk=summary.pk).update(created_at=created)
        summary.refresh_from_db()
    return summary


def add_transcript(summary: PatientSummary, turns: list[tuple[str, str]]) -> IntakeSession:
    session = IntakeSession.objects.create(
        patient=summary.patient,
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        status=IntakeSession.Status.COMPLETED,
        summary=summary,
    )
    for index, (role, text) in enumerate(turns):
        IntakeTurn.objects.create(session=session, index=index, role=role, text=text)
    return session


def make_user(username: str, *, group: str | None = None, perms: tuple[str, ...] = ()) -> User:
    """A staff user (can log in to /admin/) in a demo role group and/or with extra permissions."""
    roles_ensure()
    user = User.objects.create_user(
        username=username, password="x-test-pass", is_staff=True, first_name=username.title(), last_name="Tester"
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return User.objects.get(pk=user.pk)  # fresh: no stale permission cache


def reviewer(username: str = "rita") -> User:
    return make_user(username, group=REVIEWERS_GROUP)


def staff(username: str = "sam") -> User:
    return make_user(username, group=STAFF_GROUP)
