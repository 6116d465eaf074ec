"""Browser: front-desk staff sign in, watch today's intakes, register a patient and start an intake."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from intake import services
from intake.models import IntakeSession, IntakeTurn
from patients.models import Patient
from tests.roles import grant_roles
from tests.web.conftest import needs_chromium, save_screenshots, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


def _expect() -> Any:
    return pytest.importorskip("playwright.sync_api").expect


def _login(page: Any, base_url: str, path: str = "/staff/") -> None:
    grant_roles(User.objects.create_user("desk", password="desk-pass-123", is_staff=True))
    page.goto(base_url + path)
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "desk")
    page.fill("#id_password", "desk-pass-123")
    page.click("button[type=submit]")


def _sample_day() -> None:
    """A morning at the front desk: a finished intake, one in progress, one with a red flag."""
    people = [("Maria", "Lopez", 1958), ("Tom", "Becker", 1990), ("Yusuf", "Demir", 1975)]
    sessions = []
    for given, family, year in people:
        patient = Patient.objects.create(given_name=given, family_name=family, birth_date=date(year, 3, 1))
        sessions.append(services.intake_start(patient=patient)[0])
    done, active, red = sessions
    IntakeSession.objects.filter(pk=done.pk).update(status="completed", step_index=11, finished_at=done.created_at)
    IntakeSession.objects.filter(pk=active.pk).update(step_index=4)
    IntakeSession.objects.filter(pk=red.pk).update(
        step_index=3, urgency="emergent", emergency_flagged=True, answers={"red_flags": ["chest pain"]}
    )
    IntakeTurn.objects.create(session=red, index=1, role="patient", step=3, text="Crushing chest pain")


def test_staff_register_a_patient_and_start_an_intake(desk, live_app):
    expect = _expect()
    page, watch = desk
    _sample_day()
    _login(page, live_app.base_url)
    expect(page.locator("h1")).to_contain_text("intakes")
    rows = page.locator("#intake-rows tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Yusuf Demir")  # the emergency is on top
    expect(rows.first.locator(".badge")).to_have_text("Emergent")
    expect(rows.first.locator(".redflag-sign")).to_have_text("Sign: chest pain")  # which sign, not just "Emergent"
    # The table refreshes itself: a new intake appears without a reload.
    page.evaluate("document.getElementById('intake-rows').dataset.refreshed = ''")
    late = Patient.objects.create(given_name="Lina", family_name="Haddad", birth_date=date(2001, 7, 9))
    services.intake_start(patient=late)
    expect(rows).to_have_count(4, timeout=15_000)
    if save_screenshots():
        screenshot(page, "staff-dashboard")

    page.click("text=Register patient >> nth=0")
    expect(page.locator("h1")).to_have_text("Register a patient")
    page.fill("#id_given_name", "Noor")
    page.fill("#id_family_name", "Rahimi")
    page.fill("#id_birth_date", (date.today() + timedelta(days=2)).isoformat())
    page.fill("#id_phone", "12-ab")
    page.click("button:has-text('Register patient')")
    errors = page.locator("#error-summary")
    expect(errors).to_contain_text("The birth date cannot be in the future.")
    expect(errors).to_contain_text("7 to 15 digits")
    assert page.get_attribute("#id_birth_date", "aria-invalid") == "true"
    page.fill("#id_birth_date", "1987-11-23")
    page.fill("#id_phone", "+1 555 010 2030")
    page.click("button:has-text('Register patient')")
    expect(page.locator(".messages")).to_contain_text("Patient registered. No matching chart was found.")
    expect(page.locator("h1")).to_have_text("Noor Rahimi")
    expect(page.locator(".facts")).to_contain_text("Not matched")

    page.click("button:has-text('Start intake')")
    expect(page.locator("h1")).to_have_text("Intake started for Noor Rahimi")
    link = page.input_value("#patient-link")
    assert link.startswith(live_app.base_url + "/i/") and link.endswith("/")
    expect(page.locator("svg.qr")).to_be_visible()
    page.click("[data-copy]")
    expect(page.locator(".copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == link

    page.click("button:has-text('Hand this tablet to the patient')")
    expect(page.locator("#kiosk-go")).to_be_visible()
    assert page.url == live_app.base_url + "/i/?kiosk=1", "the token never goes into a URL on the tablet"
    page.click("#kiosk-go")
    expect(page.locator("#progress-label")).to_contain_text("Step 1 of 10")
    # Leaving kiosk mode needs a staff sign-in: the tablet was signed out on the way in.
    page.click("text=Staff: leave kiosk mode")
    assert "/accounts/login/" in page.url
    page.goto(live_app.base_url + "/staff/")
    assert "/accounts/login/" in page.url
    assert watch.csp_violations == [] and watch.page_errors == [] and watch.dialogs == []


def test_non_staff_users_cannot_open_staff_pages(desk, live_app):
    page, _ = desk
    User.objects.create_user("visitor", password="visitor-pass-123")
    page.goto(live_app.base_url + "/staff/")
    page.fill("#id_username", "visitor")
    page.fill("#id_password", "visitor-pass-123")
    page.click("button[type=submit]")
    assert "You cannot open this page" in page.locator("h1").inner_text()


def test_admin_pages_work_under_the_csp(desk, live_app):
    expect = _expect()
    page, watch = desk
    User.objects.create_superuser("root", password="root-pass-123")
    page.goto(live_app.base_url + "/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-pass-123")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    patient = Patient.objects.create(given_name="Ada", family_name="Okafor", birth_date=date(1980, 5, 4))
    for path in [
        "/admin/",
        "/admin/auth/user/add/",
        "/admin/patients/patient/",
        f"/admin/patients/patient/{patient.pk}/change/",
    ]:
        response = page.goto(live_app.base_url + path)
        assert response.status < 400, path
        page.wait_for_load_state("networkidle")
    # The API docs (Swagger UI) come from ninja's static files, not a CDN, so they work under the CSP too.
    page.goto(live_app.base_url + "/api/v1/docs", wait_until="networkidle")
    expect(page.locator(".opblock").first).to_be_visible()
    assert watch.csp_violations == [], watch.csp_violations
    assert watch.page_errors == []
