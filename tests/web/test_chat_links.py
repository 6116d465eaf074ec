"""Chat links that end: finished, expired or revoked links show nothing, and the token leaves the
URL on the first visit (the chat then runs on the browser's session and CSRF token)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from intake import services
from intake.models import IntakeSession, IntakeTurn
from patients.models import AuditEvent, Patient
from patients.roles import STAFF_GROUP
from tests.roles import grant_roles

SECRET_TEXT = "My neighbour Zelda Quimby drives me"


@pytest.fixture
def patient(db: Any) -> Patient:
    return Patient.objects.create(given_name="Ada", family_name="Okafor", birth_date=date(1980, 5, 4))


def _intake_with_text(patient: Patient) -> tuple[IntakeSession, str]:
    session, token = services.intake_start(patient=patient)
    IntakeTurn.objects.create(session=session, index=1, role="patient", step=0, text=SECRET_TEXT)
    return session, token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("status", ["completed", "manual", "cancelled"])
def test_a_finished_intakes_link_shows_nothing(client: Client, patient: Patient, status: str) -> None:
    session, token = _intake_with_text(patient)
    assert client.get(f"/i/{token}/", follow=True).status_code == 200  # this browser had opened it
    IntakeSession.objects.filter(pk=session.pk).update(status=status)
    for path in (f"/i/{token}/", "/i/", "/i/review"):
        response = client.get(path)
        assert response.status_code == 410, path
        assert SECRET_TEXT not in response.content.decode() and "Ada" not in response.content.decode()
    api = client.get(f"/api/v1/intakes/{session.pk}", headers=_bearer(token))
    assert api.status_code == 401 and SECRET_TEXT not in api.content.decode()


def test_a_link_expires_after_the_configured_time(client: Client, patient: Patient, settings: Any) -> None:
    settings.INTAKE_LINK_TTL_HOURS = 2
    session, token = _intake_with_text(patient)
    assert client.get(f"/i/{token}/", follow=True).status_code == 200
    IntakeSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(hours=2, minutes=1))
    response = client.get(f"/i/{token}/")
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert client.get("/i/").status_code == 410
    assert client.get(f"/api/v1/intakes/{session.pk}", headers=_bearer(token)).status_code == 401


def test_staff_revoke_a_link_at_once_and_it_is_audited(client: Client, patient: Patient) -> None:
    session, token = _intake_with_text(patient)
    assert client.get(f"/i/{token}/", follow=True).status_code == 200
    staff = grant_roles(User.objects.create_user("desk", password="desk-pass-123", is_staff=True), STAFF_GROUP)
    desk = Client()
    desk.force_login(staff)
    page = desk.get(f"/staff/patients/{patient.pk}/").content.decode()
    assert f"/staff/intakes/{session.pk}/revoke" in page
    revoked = desk.post(f"/staff/intakes/{session.pk}/revoke")
    assert revoked.status_code == 302
    event = AuditEvent.objects.get(action="intake.link_revoke")
    assert event.actor == staff and event.patient == patient and event.object_id == str(session.pk)
    assert client.get(f"/i/{token}/").status_code == 404
    assert client.get("/i/").status_code == 404, "a browser that had opened the link loses it too"
    assert client.get(f"/api/v1/intakes/{session.pk}", headers=_bearer(token)).status_code == 401
    assert desk.post("/staff/intakes/999999/revoke").status_code == 404
    assert Client().post(f"/staff/intakes/{session.pk}/revoke").status_code == 302  # anonymous: to login


def test_the_token_leaves_the_url_and_the_chat_runs_on_the_session(patient: Patient) -> None:
    session, token = services.intake_start(patient=patient)
    browser = Client(enforce_csrf_checks=True)
    entered = browser.get(f"/i/{token}/?kiosk=1")
    assert entered.status_code == 302 and token not in entered["Location"]
    assert entered["Referrer-Policy"] == "no-referrer"
    page = browser.get(entered["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and token not in html
    csrf = html.split('data-csrf="')[1].split('"')[0]
    detail = browser.get(f"/api/v1/intakes/{session.pk}")
    assert detail.status_code == 200 and detail.json()["id"] == session.pk
    # Another intake's id is not this browser's: answered as if it did not exist.
    other, _ = services.intake_start(patient=patient)
    assert browser.get(f"/api/v1/intakes/{other.pk}").status_code == 404
    # A cross-site POST (no CSRF token) on the session is refused before anything is stored.
    refused = browser.post(
        f"/api/v1/intakes/{session.pk}/messages", data=json.dumps({"text": "hi"}), content_type="application/json"
    )
    assert refused.status_code == 403 and "Reload" in refused.json()["detail"]
    assert not IntakeTurn.objects.filter(session=session, role="patient").exists()
    # With the page's CSRF token the same call passes authentication (and then fails validation).
    empty = browser.post(
        f"/api/v1/intakes/{session.pk}/messages",
        data=json.dumps({"text": ""}),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert empty.status_code == 400 and "type a message" in empty.json()["detail"]
    # A browser that never opened a link has no chat.
    assert Client().get("/i/").status_code == 404
    assert Client().get(f"/api/v1/intakes/{session.pk}").status_code == 401


def test_a_request_line_carrying_a_chat_link_is_logged_without_its_token(patient: Patient) -> None:
    import logging

    from intake.logfilters import ChatTokenFilter

    _, token = services.intake_start(patient=patient)
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, ChatTokenFilter) for f in h.filters)
    )
    line = f"GET /i/{token}/?kiosk=1 HTTP/1.1"
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s', (line, 302, 0), None)
    assert handler.filter(record)
    assert token not in record.getMessage() and record.getMessage() == '"GET /i/[token]/?kiosk=1 HTTP/1.1" 302 0'
    review = logging.LogRecord("django.server", logging.INFO, __file__, 1, "GET /i/review 200", None, None)
    assert handler.filter(review) and review.getMessage() == "GET /i/review 200"
