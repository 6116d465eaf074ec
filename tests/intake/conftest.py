"""Fixtures for intake tests: a demo patient with a real Synthea chart, staff tokens, an API client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from patients import ehr
from patients.demo import demo_files
from patients.fhir_load import fhir_bundle_load
from patients.models import Patient
from patients.services import patient_create
from tests.roles import grant_roles

# Kermit Trantow's chart has active medications, allergies and a problem: a good intake subject.
DEMO_FILE = next(p for p in demo_files() if p.name.startswith("Kermit_Trantow"))
OTHER_FILE = next(p for p in demo_files() if p.name.startswith("Patria_Schimmel"))


def patient_from_bundle(path: Any, *, phone: str = "555-0100") -> Patient:
    """A demo patient registered at the desk and matched to its Synthea chart (loaded first)."""
    fhir_bundle_load(path=path, force=True)
    resource = next(
        e["resource"] for e in json.loads(path.read_text())["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    ident = ehr.parse_identity(resource)
    from datetime import date

    return patient_create(
        given_name=ident["given_name"],
        family_name=ehr.clean_name(ident["family_name"]),
        birth_date=date.fromisoformat(ident["birth_date"]),
        sex=resource.get("gender", "unknown"),
        phone=phone,
        mrn=ehr.mrn_of(resource),
        actor_label="test",
    )


@pytest.fixture
def demo_patient(db: Any) -> Patient:
    patient = patient_from_bundle(DEMO_FILE)
    assert patient.fhir_patient_id, "the demo patient must be matched to its chart"
    return patient


@pytest.fixture
def other_patient(db: Any) -> Patient:
    return patient_from_bundle(OTHER_FILE)


@pytest.fixture
def chart(demo_patient: Patient) -> ehr.ChartSnapshot:
    scope = ehr.PatientScope(
        patient_id=demo_patient.pk, fhir_patient_id=demo_patient.fhir_patient_id, actor_label="test"
    )
    return ehr.chart_read(scope=scope, sections=list(ehr.SECTIONS))


@dataclass
class ApiClient:
    """Django's test client with a bearer token and JSON helpers."""

    token: str

    def __post_init__(self) -> None:
        self.client = Client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        return self.client.post(
            path, data=json.dumps(payload or {}), content_type="application/json", headers=self._headers()
        )

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self._headers())


@pytest.fixture
def staff_user(db: Any) -> User:
    return grant_roles(User.objects.create_user("frontdesk", password="x-not-used-9", is_staff=True))


@pytest.fixture
def staff_api(staff_user: User) -> ApiClient:
    from intake.tokens import api_token_issue

    return ApiClient(token=api_token_issue(username=staff_user.username))
