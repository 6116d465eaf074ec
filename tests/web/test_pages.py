"""The patient chat and staff pages through Django's test client: permissions, forms, escaping, CSP."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from intake import services
from intake.models import IntakeSession, IntakeTurn
from patients.models import AuditEvent, Patient
from tests.roles import grant_roles

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)><script>alert("x")</script>'


@pytest.fixture
def patient(db: Any) -> Patient:
    return Patient.objects.create(given_name="Ada", family_name="Okafor", birth_date=date(1980, 5, 4))


@pytest.fixture
def staff_client(db: Any) -> Client:
    user = grant_roles(User.objects.create_user("desk", password="desk-pass-123", is_staff=True))
    client = Client()
    client.force_login(user)
    return client


def test_unknown_token_is_a_404_page(client: Client) -> None:
    response = client.get("/i/not-a-real-token/")
    assert response.status_code == 404
    assert b"ask the front desk" in response.content


def test_chat_page_renders_the_transcript_escaped_with_a_strict_csp(client: Client, patient: Patient) -> None:
    session, token = services.intake_start(patient=patient)
    IntakeTurn.objects.create(session=session, index=1, role="patient", step=0, text=XSS)
    entered = client.get(f"/i/{token}/?lang=es", HTTP_ACCEPT_LANGUAGE="fr")
    assert entered.status_code == 302 and entered["Location"] == "/i/?lang=es", "the token leaves the URL"
    response = client.get(entered["Location"], HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="es"' in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert f'data-intake="{session.pk}"' in html and token not in html
    assert "Step 1 of 10" in html
    assert "no-store" in response["Cache-Control"]
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    # No inline script or style anywhere on the page.
    assert "<script>" not in html and "style=" not in html and "<style" not in html


def test_chat_language_comes_from_accept_language(client: Client, patient: Patient) -> None:
    _, token = services.intake_start(patient=patient)
    html = client.get(f"/i/{token}/", HTTP_ACCEPT_LANGUAGE="ar-EG,ar;q=0.9", follow=True).content.decode()
    assert '<html lang="ar-EG" dir="rtl"' in html


def test_review_screen_shows_the_record_by_topic_in_plain_words(client: Client, patient: Patient) -> None:
    from agents.schemas import RecordAnswersArgs
    from intake.models import IntakeRecord
    from intake.record import IntakeRecordSchema, record_apply

    session, token = services.intake_start(patient=patient)
    args = RecordAnswersArgs(name="Ada Okafor", phone="555-123-4567", declined=["email"], none=["allergies"])
    record = record_apply(IntakeRecordSchema(), args, turn=1).record
    IntakeRecord.objects.filter(session=session).update(document=record.model_dump(mode="json"))
    IntakeSession.objects.filter(pk=session.pk).update(status="review", step_index=10)
    html = client.get(f"/i/{token}/", follow=True).content.decode()
    assert "Please check your answers" in html
    assert "About you" in html and "Contact" in html and "Phone: 555-123-4567" in html
    assert "Email: You chose not to answer" in html, "a decline is shown as declined"
    assert "Allergies: None" in html
    assert "Insurance" not in html.split("Please check your answers")[1].split("</dl>")[0], (
        "topics never reached are left out"
    )
    fragment = client.get("/i/review").content.decode()
    assert 'id="confirm"' in fragment and "Name: Ada Okafor" in fragment


@pytest.mark.parametrize("path", ["/staff/", "/staff/patients/new/", "/staff/dashboard/rows"])
def test_staff_pages_redirect_anonymous_users_to_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_staff_pages_refuse_non_staff_users(client: Client) -> None:
    client.force_login(User.objects.create_user("someone", password="x-y-z-123456"))
    assert client.get("/staff/").status_code == 403


def test_login_page_is_styled_and_works(client: Client) -> None:
    grant_roles(User.objects.create_user("desk2", password="desk-pass-123", is_staff=True))
    page = client.get("/accounts/login/?next=/staff/")
    assert page.status_code == 200 and b"Staff sign in" in page.content and b"css/staff.css" in page.content
    response = client.post("/accounts/login/", {"username": "desk2", "password": "desk-pass-123", "next": "/staff/"})
    assert response.status_code == 302 and response["Location"] == "/staff/"


def test_register_patient_errors_say_what_to_fix(staff_client: Client, patient: Patient) -> None:
    future = (date.today() + timedelta(days=3)).isoformat()
    response = staff_client.post(
        "/staff/patients/new/",
        {"given_name": "", "family_name": "Doe", "birth_date": future, "sex": "female", "phone": "12ab"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter the patient&#x27;s first name." in html
    # The service checks the rest once the form's own checks pass.
    response = staff_client.post(
        "/staff/patients/new/",
        {"given_name": "Jo", "family_name": "Doe", "birth_date": future, "sex": "female", "phone": "12ab"},
    )
    html = response.content.decode()
    assert "The birth date cannot be in the future." in html
    assert "7 to 15 digits" in html
    assert 'aria-invalid="true"' in html
    duplicate = staff_client.post(
        "/staff/patients/new/",
        {"given_name": "ada", "family_name": "OKAFOR", "birth_date": "1980-05-04", "sex": "female"},
    )
    assert duplicate.status_code == 400
    assert "same name and birth date is already registered" in duplicate.content.decode()
    assert f"/staff/patients/{patient.pk}/" in duplicate.content.decode()


def test_register_patient_then_start_an_intake_with_qr_and_kiosk(staff_client: Client) -> None:
    response = staff_client.post(
        "/staff/patients/new/",
        {"given_name": "Lena", "family_name": "Berg", "birth_date": "1990-01-02", "sex": "female", "mrn": "M-77"},
    )
    assert response.status_code == 302
    new = Patient.objects.get(mrn="M-77")
    assert response["Location"] == f"/staff/patients/{new.pk}/"
    page = staff_client.get(response["Location"])
    assert b"Patient registered. No matching chart was found." in page.content
    assert b"Not matched" in page.content

    started = staff_client.post(f"/staff/patients/{new.pk}/intakes/")
    assert started.status_code == 200
    html = started.content.decode()
    session = IntakeSession.objects.get(patient=new)
    token = html.split('name="token" value="')[1].split('"')[0]
    assert services.intake_session_for_token(token).pk == session.pk
    assert f"/i/{token}/" in html and '<svg class="qr"' in html and "data-copy" in html
    assert "no-store" in started["Cache-Control"]

    kiosk = staff_client.post("/staff/kiosk/", {"token": token})
    assert kiosk.status_code == 302 and kiosk["Location"] == "/i/?kiosk=1", "the token stays out of the URL"
    # The tablet is signed out: staff pages need a login again.
    assert staff_client.get("/staff/").status_code == 302
    assert b"leave kiosk mode" in staff_client.get(kiosk["Location"]).content


def test_dashboard_lists_today_emergent_first(staff_client: Client, patient: Patient) -> None:
    other = Patient.objects.create(given_name="Bo", family_name="Ng", birth_date=date(1970, 1, 1))
    services.intake_start(patient=patient)
    urgent_session, _ = services.intake_start(patient=other)
    IntakeSession.objects.filter(pk=urgent_session.pk).update(emergency_flagged=True, urgency="emergent")
    services.intake_start(patient=patient)
    html = staff_client.get("/staff/").content.decode()
    assert html.index("Bo Ng") < html.index("Ada Okafor")
    assert "badge-emergent" in html and "js/dashboard.js" in html
    rows = staff_client.get("/staff/dashboard/rows").content.decode()
    assert rows.lstrip().startswith("<tr") and "Bo Ng" in rows


def test_patient_page_shows_transcript_chart_usage_and_cost(staff_client: Client, patient: Patient, settings) -> None:
    settings.GEMINI_PRICE_INPUT_PER_MTOK = 1.0
    settings.GEMINI_PRICE_OUTPUT_PER_MTOK = 2.0
    settings.GEMINI_PRICE_CACHED_PER_MTOK = 0.5
    session, _ = services.intake_start(patient=patient)
    IntakeTurn.objects.create(session=session, index=1, role="patient", text=XSS)
    IntakeTurn.objects.create(
        session=session,
        index=2,
        role="model",
        text="ok",
        input_tokens=1_000_000,
        cached_tokens=400_000,
        output_tokens=500_000,
    )
    IntakeTurn.objects.create(session=session, index=3, role="tool", text="[tool call] ehr_lookup(allergies)")
    response = staff_client.get(f"/staff/patients/{patient.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert" in html and "<script>alert" not in html
    assert "[tool call]" not in html  # tool hops are not part of the transcript
    # 600k uncached at $1 + 400k cached at $0.5 + 500k output at $2 = 0.6 + 0.2 + 1.0
    assert "US$ 1.8000" in html
    assert "Chart data used" in html
    # The live chart read is audited under the staff user.
    assert AuditEvent.objects.filter(action="chart.read", actor__username="desk").exists()
    assert reverse("research:request-patient", args=[patient.pk]) in html or "research" in html


def test_admin_index_still_loads_under_the_csp(client: Client) -> None:
    admin = User.objects.create_superuser("root", password="root-pass-123")
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
