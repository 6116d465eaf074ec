"""Browser: axe-core on the staff pages and the reviewer's form, and the staff/reviewer flows those
pages carry (a patient found by a POSTed search, a second-intake warning, a list row added in the
review form). No serious or critical axe finding is allowed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from intake import services
from intake.models import IntakeRecord, IntakeRecordVersion, IntakeSession
from patients.models import Patient, PatientSummary
from patients.roles import REVIEWERS_GROUP, STAFF_GROUP
from tests.patients.summary_factory import add_transcript, make_summary, reviewer, staff
from tests.roles import grant_roles
from tests.web.conftest import axe_problems, needs_chromium, save_screenshots, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


def _expect() -> Any:
    return pytest.importorskip("playwright.sync_api").expect


def _login(page: Any, base_url: str, username: str, path: str) -> None:
    page.goto(f"{base_url}/accounts/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "x-test-pass")
    page.locator("#id_password").press("Enter")
    page.wait_for_load_state()


def test_staff_pages_have_no_serious_accessibility_problems(desk, live_app, axe_source):
    expect = _expect()
    page, watch = desk
    ada = Patient.objects.create(given_name="Ada", family_name="Okafor", birth_date=date(1980, 5, 4), mrn="M-1")
    Patient.objects.create(given_name="Bo", family_name="Ng", birth_date=date(1970, 1, 1))
    red, _ = services.intake_start(patient=ada)
    IntakeSession.objects.filter(pk=red.pk).update(
        urgency="emergent", emergency_flagged=True, step_index=3, answers={"red_flags": ["chest pain"]}
    )
    # Its live record: an answer, a correction, a decline, a step left empty and a list with turns.
    first = {
        "name": {"state": "value", "value": "Ada Okafor", "turns": [1]},
        "date_of_birth": {"state": "value", "value": "1980-05-04", "turns": [1]},
        "phone": {"state": "value", "value": "555-0101", "turns": [2]},
        "email": {"state": "declined", "turns": [2]},
        "insurance": {"state": "not_obtained", "turns": [3, 4]},
        "chief_complaint": {"state": "value", "value": "chest pain since this morning", "turns": [5]},
    }
    later = {
        **first,
        "phone": {"state": "value", "value": "555-0199", "turns": [2, 6]},
        "medications": {
            "state": "value",
            "turns": [5, 6],
            "items": [{"name": "lisinopril", "dose": "10 mg", "turns": [5]}, {"name": "aspirin", "turns": [6]}],
        },
    }
    record = IntakeRecord.objects.get(session=red)
    for version, (turn, document) in enumerate([(5, first), (6, later)], start=1):
        IntakeRecordVersion.objects.create(record=record, version=version, turn=turn, document=document)
    IntakeRecord.objects.filter(pk=record.pk).update(document=later, version=2)
    # A clinician who also works the desk: the research form is the clinicians' permission.
    grant_roles(staff("desk"), STAFF_GROUP, REVIEWERS_GROUP)
    _login(page, live_app.base_url, "desk", "/staff/")

    # The dashboard, where the emergent row names its sign.
    expect(page.locator("h1")).to_contain_text("intakes")
    expect(page.locator("#intake-rows")).to_contain_text("Sign: chest pain")
    problems = {"dashboard": axe_problems(page, axe_source, watch)}

    page.get_by_role("link", name="Patients", exact=True).click()
    page.fill("#id_q", "okafor")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.patients tbody")).to_contain_text("Ada Okafor")
    expect(page.locator("table.patients tbody")).not_to_contain_text("Bo Ng")
    assert page.url == live_app.base_url + "/staff/patients/", "the name searched for is not in the URL"
    problems["patient list"] = axe_problems(page, axe_source, watch)

    page.get_by_role("link", name="Ada Okafor", exact=True).click()
    expect(page.locator("#open-intake-warning")).to_contain_text(f"Intake #{red.pk} is still open")
    shown = page.locator(f"#intake-{red.pk} .intake-record")
    expect(shown).to_contain_text("Declined to answer")
    expect(shown).to_contain_text("Not obtained")
    expect(shown.locator(".record-changes")).to_contain_text("Turn 6 · Phone: 555-0101 → 555-0199")
    problems["patient page"] = axe_problems(page, axe_source, watch)
    if save_screenshots():
        page.set_viewport_size({"width": 1280, "height": 900})
        shown.scroll_into_view_if_needed()
        screenshot(page, "staff-intake-record", clip=shown.bounding_box())
    page.goto(f"{live_app.base_url}/admin/intake/intakerecord/{record.pk}/change/")
    expect(page.locator(".intake-record, .record").first).to_contain_text("Declined to answer")
    problems["record admin"] = axe_problems(page, axe_source, watch)
    page.goto(f"{live_app.base_url}/staff/patients/{ada.pk}/")
    page.locator("#open-intake-warning a").click()
    expect(page.locator(f"#intake-{red.pk}")).to_be_in_viewport()

    page.goto(f"{live_app.base_url}/staff/research/patients/{ada.pk}/")
    expect(page.locator("form.research-form textarea")).to_be_visible()
    problems["research form"] = axe_problems(page, axe_source, watch)
    page.goto(f"{live_app.base_url}/staff/patients/new/")
    problems["register"] = axe_problems(page, axe_source, watch)

    assert problems == {k: [] for k in problems}, "\n".join(f"{k}: {p}" for k, ps in problems.items() for p in ps)
    assert watch.csp_violations == [] and watch.page_errors == []


def test_reviewer_form_adds_a_row_and_has_no_serious_accessibility_problems(desk, live_app, axe_source):
    expect = _expect()
    page, watch = desk
    summary = make_summary(urgency="urgent", red_flags=["fainting"])
    data = {**summary.data, "declined": ["insurance"]}
    PatientSummary.objects.filter(pk=summary.pk).update(data=data)
    add_transcript(summary, [("model", "What brings you in?"), ("patient", "A cough")])
    reviewer("rita")
    _login(page, live_app.base_url, "rita", "/")

    # `/` took the reviewer to the review queue.
    expect(page.locator("#result_list")).to_be_visible()
    page.locator("#result_list tbody tr").first.get_by_role("link").first.click()
    expect(page.locator("#list-medications")).to_be_visible()
    expect(page.locator("#id_medications-0-name")).to_have_value("lisinopril")
    assert page.locator("#id_insurance_payer").evaluate("el => el.dataset.state") == "declined"
    problems = {"review form": axe_problems(page, axe_source, watch)}

    page.locator("#list-allergies .summary-add-row").click()  # a second blank row
    rows = page.locator("#list-allergies tbody tr")
    expect(rows).to_have_count(4)
    rows.nth(3).locator("input[name$=substance]").fill("latex")
    rows.nth(3).locator("select[name$=status]").select_option("new")
    page.locator("#list-past_history tbody tr").first.locator("input[type=checkbox]").check()  # delete
    page.locator("input[name=_continue]").click()

    expect(page.locator("ul.messagelist")).to_contain_text("changed successfully")
    summary.refresh_from_db()
    assert [a["substance"] for a in summary.data["allergies"]] == ["bee venom", "penicillin", "latex"]
    assert summary.data["past_history"] == []
    if save_screenshots():
        screenshot(page, "reviewer-form", full_page=True)

    assert watch.csp_violations == [] and watch.page_errors == []

    # (django-simple-history's own history template has one inline style the CSP blocks: not checked.)
    page.goto(f"{live_app.base_url}/admin/patients/patientsummary/{summary.pk}/history/")
    expect(page.locator("#change-history")).to_contain_text("latex")
    problems["history"] = axe_problems(page, axe_source, watch)
    assert problems == {k: [] for k in problems}, "\n".join(f"{k}: {p}" for k, ps in problems.items() for p in ps)
