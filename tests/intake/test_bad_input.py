"""Malformed input to the JSON API and the staff pages: a clear 4xx, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from intake import services
from intake.models import IntakeTurn
from patients.models import Patient

HUGE = "9" * 25
BIGINT = str(2**63)


@pytest.fixture
def staff_client(staff_user) -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(staff_user)
    return c


@pytest.mark.django_db
def test_api_patient_with_a_nul_character_is_400(staff_api):
    response = staff_api.post(
        "/api/v1/patients", {"given_name": "A\x00da", "family_name": "Nul", "birth_date": "1980-01-02"}
    )
    assert response.status_code == 400
    assert "null character" in response.json()["detail"]
    assert not Patient.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ("[1, 2]", 400),
        (json.dumps({"given_name": 1, "family_name": [], "birth_date": "x"}), 400),
        (json.dumps({"given_name": "a", "family_name": "b", "birth_date": "99999-01-01"}), 400),
        (json.dumps({"given_name": "a", "family_name": "b", "birth_date": 10**30}), 400),
        (json.dumps({"given_name": " ", "family_name": "b", "birth_date": "1980-01-01"}), 400),
    ],
)
def test_api_patient_malformed_bodies(staff_api, body, status):
    response = staff_api.client.post(
        "/api/v1/patients", data=body, content_type="application/json", headers=staff_api._headers()
    )
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("post", "/api/v1/intakes", {"patient_id": 10**30}, 404),
        ("post", "/api/v1/intakes", {"patient_id": "abc"}, 400),
        ("post", "/api/v1/intakes", {"patient_id": 1, "store": "maybe"}, 400),
        ("get", f"/api/v1/intakes/{HUGE}", None, 404),
        ("get", f"/api/v1/intakes/{BIGINT}", None, 404),
        ("get", "/api/v1/intakes/abc", None, 400),
        ("post", f"/api/v1/intakes/{BIGINT}/messages", {"text": "hi"}, 404),
        ("post", f"/api/v1/intakes/{BIGINT}/messages/stream", {"text": "hi"}, 404),
        ("post", f"/api/v1/intakes/{BIGINT}/complete", {}, 404),
        ("get", "/api/v1/summaries?status=zzz", None, 400),
        ("get", f"/api/v1/summaries/{HUGE}", None, 404),
    ],
)
def test_api_unknown_ids_and_wrong_types(staff_api, method, path, payload, status):
    response = staff_api.post(path, payload) if method == "post" else staff_api.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/stream"])
def test_patient_message_with_a_nul_character_is_400_and_not_stored(staff_user, demo_patient, suffix):
    session, token = services.intake_start(patient=demo_patient, actor=staff_user)
    response = Client().post(
        f"/api/v1/intakes/{session.pk}/messages{suffix}",
        data=json.dumps({"text": "my name\x00 is"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert "null character" in response.json()["detail"]
    assert not IntakeTurn.objects.filter(session=session, role=IntakeTurn.Role.PATIENT).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("get", f"/staff/patients/{HUGE}/", None, 404),
        ("post", f"/staff/patients/{HUGE}/intakes/", None, 404),
        ("get", "/staff/patients/1/intakes/", None, 405),
        ("post", "/staff/kiosk/", {"token": "\x00" + "x" * 5000}, 302),
        ("get", f"/staff/research/summaries/{HUGE}/", None, 404),
        ("post", "/staff/research/patients/999999/", {"question": "x"}, 404),
        ("get", f"/staff/research/{HUGE}/status", None, 404),
        ("post", f"/staff/research/{HUGE}/cancel", None, 404),
    ],
)
def test_staff_pages_with_unknown_ids_or_junk(staff_client, method, path, data, status):
    response = getattr(staff_client, method)(path, data or {})
    assert response.status_code == status


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("question", "message"),
    [("", "This field is required."), ("x" * 2001, "at most 2000"), ("a\x00b", "Null characters are not allowed.")],
)
def test_research_request_with_a_bad_question_re_renders_the_form(staff_client, demo_patient, question, message):
    response = staff_client.post(f"/staff/research/patients/{demo_patient.pk}/", {"question": question})
    assert response.status_code == 400
    assert any(message in e for e in response.context["form"].errors["question"])
