"""Browser: a reviewer opens the queue, checks a summary, approves it and downloads the FHIR export.

Drives Debian's chromium through Playwright against pytest-django's live server (the admin pages are
plain synchronous Django views). Saves a screenshot of the reviewer's change page to
docs/screenshots/reviewer.png when WEB_SCREENSHOTS=1 (or when there is none yet).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from patients.models import AuditEvent, PatientSummary
from tests.patients.summary_factory import add_transcript, make_patient, make_summary, reviewer
from tests.web.conftest import needs_chromium

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "reviewer.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


@pytest.fixture
def reviewer_page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A desktop page on the session's shared `browser` (tests/web/conftest.py), and the CSP
    violations and page errors it reports."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        yield page, problems
    finally:
        context.close()


def test_reviewer_approves_and_downloads_fhir(live_server, reviewer_page):
    page, problems = reviewer_page
    rita = reviewer()
    make_summary(urgency="routine", created_minutes_ago=60, chief_complaint="Sore throat")
    summary = make_summary(
        patient=make_patient(given_name="Blair", family_name="Conroy", mrn="MRN-BC-1"),
        urgency="emergent",
        created_minutes_ago=2,
        chief_complaint="Chest pain since this morning",
        history_of_present_illness="Pressure-like chest pain since 7 am, worse on the stairs, no fever.",
        red_flags=["chest pain"],
    )
    add_transcript(
        summary,
        [
            ("model", "Hello Blair, what brings you in today?"),
            ("patient", "Chest pain since this morning <script>alert(1)</script>"),
            ("model", "I'm sorry. Please call 911 now if the pain is severe or spreading."),
        ],
    )

    page.goto(f"{live_server.url}/admin/login/?next=/admin/patients/patientsummary/")
    page.fill("#id_username", rita.username)
    page.fill("#id_password", "x-test-pass")
    page.click("input[type=submit]")

    # The queue: emergent first, with its badge.
    first_row = page.locator("#result_list tbody tr").first
    assert "Chest pain since this morning" in first_row.inner_text()
    assert first_row.locator(".urgency-badge.urgency-emergent").is_visible()
    first_row.get_by_role("link", name="Blair Conroy").click()

    # The change page: transcript (escaped, as text), reconciliation table, decision buttons.
    page.wait_for_selector("table.reconciliation")
    assert "<script>alert(1)</script>" in page.locator("ol.transcript").inner_text()
    assert page.locator("table.reconciliation tbody tr").count() == 5
    page.fill("#id_review_note", "Checked against the chart; meds agree.")
    page.click("input[name=_approve]")

    page.wait_for_selector("text=approved.")
    if os.environ.get("WEB_SCREENSHOTS") == "1" or not SCREENSHOT.exists():
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    with page.expect_download() as download_info:
        page.click("a.fhir-export-link")
    download = download_info.value
    assert download.suggested_filename == f"summary-{summary.pk}-fhir.json"
    bundle = json.loads(Path(download.path()).read_text())

    Bundle.model_validate(bundle)
    provenance = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance")
    assert {a["who"]["display"] for a in provenance["agent"]} == {
        "Gemini intake assistant (AI draft)",
        "Rita Tester",
    }
    summary.refresh_from_db()
    assert (summary.review_status, summary.reviewer_id) == (PatientSummary.ReviewStatus.APPROVED, rita.pk)
    actions = set(AuditEvent.objects.filter(actor=rita).values_list("action", flat=True))
    assert {"summary.view", "summary.approve", "summary.export_fhir"} <= actions
    assert problems == []  # no CSP violations, no script errors on the admin pages
