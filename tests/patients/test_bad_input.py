"""Malformed input to the staff pages of the patients app: a 4xx or a form that says what to fix, never a 500."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from patients.models import Patient, PatientSummary
from patients.services import PatientInvalidError, patient_create
from tests.patients.summary_factory import make_summary, reviewer, staff
from tests.patients.test_review_admin import change_url, form_payload, texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(reviewer())
    return c


@pytest.mark.parametrize(
    ("tampered", "expected"),
    [
        ({"medications-TOTAL_FORMS": "abc"}, "ManagementForm data is missing or has been tampered with"),
        ({"medications-TOTAL_FORMS": "100000"}, "Please submit at most 50 forms."),
        ({"medications-0-name": "a\x00b"}, "Null characters are not allowed."),
        ({"medications-0-status": "maybe"}, "Choose the status against the chart from the list."),
        ({"allergies-1-reaction": "x" * 201}, "Ensure this value has at most 200 characters"),
        ({"past_history-0-text": ""}, "Enter the text, or tick Delete to remove the row."),
    ],
)
def test_malformed_summary_rows_are_explained_and_not_saved(client, tampered, expected):
    summary = make_summary()
    before = summary.data
    response = client.post(change_url(summary), form_payload(summary) | tampered)
    assert response.status_code == 200  # the form again, saying what to fix
    assert expected in response.content.decode()
    summary.refresh_from_db()
    assert summary.data == before


@pytest.mark.parametrize("path", ["{pk}/history/abc/", "abc/history/1/", "{pk}/history/99999999999999999999/"])
def test_history_version_that_is_not_a_number_is_404(client, path):
    summary = make_summary()
    response = client.get(f"/admin/patients/patientsummary/{path.format(pk=summary.pk)}")
    assert response.status_code == 404


def test_bulk_action_with_bad_ids_changes_nothing(client):
    summary = make_summary()
    response = client.post(
        "/admin/patients/patientsummary/",
        {"action": "approve_selected", "_selected_action": [str(summary.pk), "abc"]},
    )
    assert response.status_code == 302
    assert "Select summaries from the list" in " ".join(texts(response))
    summary.refresh_from_db()
    assert summary.review_status == PatientSummary.ReviewStatus.PENDING


@pytest.mark.parametrize("field", ["given_name", "family_name", "phone", "email", "mrn"])
def test_patient_create_refuses_nul_characters(field):
    values = {"given_name": "Ada", "family_name": "Nul", "phone": "555-123-4567", "email": "a@example.com", "mrn": "M1"}
    values[field] = values[field][:2] + "\x00" + values[field][2:]
    with pytest.raises(PatientInvalidError) as info:
        patient_create(**values, birth_date=date(1980, 1, 2), sex="female")
    assert field in info.value.errors
    assert not Patient.objects.filter(family_name__startswith="Nul").exists()


def test_register_form_with_malformed_input_says_what_to_fix(client):
    client.force_login(staff("desk"))  # registering patients is the front desk's job
    response = client.post(
        "/staff/patients/new/",
        {"given_name": "A\x00", "family_name": "", "birth_date": "1980-13-45", "sex": "x", "phone": "12"},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["family_name"] == ["Enter the patient's last name."]
    assert "Enter the birth date as YYYY-MM-DD" in errors["birth_date"][0]
    assert errors["sex"] == ["Choose one of the listed options for sex."]
    assert "given_name" in errors
    assert not Patient.objects.exists()
