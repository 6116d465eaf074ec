"""seed_demo and run_banner: idempotent demo data, roles, dev-only logins."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.http import HttpRequest

from patients.demo import DEMO_LOGINS, demo_seed
from patients.ehr import PatientScope, chart_read
from patients.models import AuditEvent, FhirResource, FhirSource, Patient
from tests.patients.conftest import SYNTHEA_FILES, read_bundle, resources_of

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        FhirResource.objects.count(),
        FhirSource.objects.count(),
        Patient.objects.count(),
        User.objects.count(),
        Group.objects.count(),
        AuditEvent.objects.count(),
    )


def test_seed_demo_twice_creates_everything_once(settings, client):
    settings.DEBUG = True
    first = demo_seed()
    assert (first.files_loaded, first.patients_created) == (6, 6)
    after_first = _counts()
    second = demo_seed()
    assert (second.files_loaded, second.files_skipped, second.patients_created) == (0, 6, 0)
    assert _counts() == after_first
    assert after_first[0] == sum(len(read_bundle(p)["entry"]) for p in SYNTHEA_FILES)

    for path in SYNTHEA_FILES:
        fhir_patient = resources_of(path, "Patient")[0]
        patient = Patient.objects.get(fhir_patient_id=fhir_patient["id"])
        assert patient.birth_date.isoformat() == fhir_patient["birthDate"]
        assert patient.sex == fhir_patient["gender"]
        assert patient.phone == fhir_patient["telecom"][0]["value"]
        assert not any(ch.isdigit() for ch in patient.given_name + patient.family_name)
        scope = PatientScope(patient.pk, patient.fhir_patient_id, "test")
        assert chart_read(scope=scope, sections=["allergies"]).allergies

    staff = User.objects.get(username="staff")
    reviewer = User.objects.get(username="reviewer")
    assert staff.is_staff and staff.groups.filter(name="staff").exists()
    assert staff.has_perm("patients.view_patient") and not staff.has_perm("patients.change_patientsummary")
    assert reviewer.has_perm("patients.approve_patientsummary") and reviewer.has_perm("patients.change_patientsummary")
    assert User.objects.get(username="admin").is_superuser
    for login in DEMO_LOGINS:
        # django-axes needs the request to check lockouts; the login form always passes it.
        assert client.login(request=HttpRequest(), username=login.username, password=login.password)
    assert client.get("/admin/").status_code == 200


def test_no_demo_logins_without_debug(settings):
    settings.DEBUG = False
    report = demo_seed()
    assert report.users_created == []
    assert not User.objects.exists()
    assert set(Group.objects.values_list("name", flat=True)) == {"staff", "reviewers"}


def test_run_banner_prints_urls_and_logins(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("run_banner", stdout=out)
    text = out.getvalue()
    for needle in ("http://127.0.0.1:8000/", "/staff/", "/admin/", "/healthz", ":8765", "admin-demo-pass"):
        assert needle in text
