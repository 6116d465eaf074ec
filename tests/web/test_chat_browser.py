"""Browser: the patient chat on a 360 px phone, through uvicorn, the real SDK and the emulator."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User

from intake import services
from intake.models import IntakeSession, IntakeTurn
from patients.models import Patient
from tests.intake.conftest import DEMO_FILE, patient_from_bundle
from tests.roles import grant_roles
from tests.web.conftest import needs_chromium, save_screenshots, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]

ANSWERS = [
    "I'm Ada Okafor, born 4 May 1980.",
    "555-201-3344, ada@example.com",
    "Aetna, member ID W123456789. Here is my card.",
    "A sore throat and a cough.",
    "It started four days ago, about 4 out of 10, slowly getting better.",
    "Lisinopril 10 mg once a day.",
    "Penicillin gives me a rash.",
    "High blood pressure; my appendix was removed in 2010.",
    "My mother has type 2 diabetes.",
    "I don't smoke, I drink a glass of wine on weekends, and I'm a teacher.",
]

STREAM_PROBE = """() => {
  window.__lengths = [];
  new MutationObserver(() => {
    const last = document.querySelector('#transcript li:last-child');
    if (last && last.classList.contains('pending')) {
      window.__lengths.push(last.querySelector('.text').textContent.length);
    }
  }).observe(document.getElementById('transcript'), {subtree: true, childList: true, characterData: true});
}"""


def _png(width: int = 64, height: int = 40) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 110, 200)).save(out, format="PNG")
    return out.getvalue()


def _chart_patient() -> Patient:
    """A synthetic demo patient registered at the desk and matched to its Synthea chart."""
    return patient_from_bundle(DEMO_FILE, phone="")


def _intake(given: str = "Ada", family: str = "Okafor") -> tuple[IntakeSession, str]:
    patient = Patient.objects.create(given_name=given, family_name=family, birth_date=date(1980, 5, 4))
    return services.intake_start(patient=patient)


def _expect() -> Any:
    return pytest.importorskip("playwright.sync_api").expect


def _send(page: Any, text: str) -> None:
    expect = _expect()
    page.fill("#msg", text)
    page.click("#send")
    expect(page.locator("#send")).to_be_enabled(timeout=30_000)


def test_patient_completes_a_full_intake_on_a_phone(phone, desk, live_app):
    expect = _expect()
    page, watch = phone
    patient = _chart_patient()
    assert patient.fhir_patient_id
    session, token = services.intake_start(patient=patient)
    answers = [f"I'm {patient.full_name}, born {patient.birth_date:%d %B %Y}.", *ANSWERS[1:]]
    page.goto(f"{live_app.base_url}/i/{token}/")
    expect(page.locator("#progress-label")).to_have_text("Step 1 of 10 · About you")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "no sideways scrolling at 360 px"
    page.evaluate(STREAM_PROBE)

    for number, answer in enumerate(answers, start=1):
        if number == 3:
            # The insurance card: wrong type and too big are refused in the browser, with the reason.
            page.set_input_files("#file", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
            expect(page.locator("#chat-error")).to_contain_text("notes.txt is not a photo or PDF")
            big = {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-" + b"0" * (10 * 1024 * 1024)}
            page.set_input_files("#file", big)
            expect(page.locator("#chat-error")).to_contain_text("over the 10 MB limit")
            page.set_input_files("#file", {"name": "card.png", "mimeType": "image/png", "buffer": _png()})
            expect(page.locator("#preview img")).to_have_count(1)
            expect(page.locator("#preview")).to_contain_text("card.png")
            expect(page.locator("#chat-error")).to_be_hidden()
        _send(page, answer)
        last_reply = page.locator("#transcript li.msg-model").last
        expect(last_reply).not_to_have_class("pending")
        assert last_reply.locator(".text").inner_text().strip()
        if number == 1:
            lengths = page.evaluate("window.__lengths")
            assert len(set(lengths)) >= 3, f"the reply should arrive in pieces, saw lengths {lengths}"
        if number == 4 and save_screenshots():
            page.wait_for_timeout(600)  # let the smooth scroll settle
            screenshot(page, "patient-chat-360")

    # A step the model left empty is asked again and closes after a second answer: review follows.
    sent = len(answers)
    while page.locator("#progress-label").inner_text() != "Review: step 10 of 10" and sent < 2 * len(answers):
        _send(page, "I'm not sure.")
        sent += 1
    expect(page.locator("#progress-label")).to_have_text("Review: step 10 of 10")
    review = page.locator("#review")
    expect(review).to_be_visible()
    # The review shows the intake record by topic, in plain words.
    expect(review.locator("dt").first).to_have_text("About you")
    expect(review).to_contain_text("Name:")
    photos = [t.attachments for t in IntakeTurn.objects.filter(session=session, role="patient") if t.attachments]
    assert photos == [[{"mime_type": "image/png", "size": photos[0][0]["size"]}]]

    # Reloading resumes: the same transcript, rendered by the server, and the review screen again.
    page.reload()
    expect(page.locator("#transcript li.msg-patient")).to_have_count(sent)
    expect(page.locator("#review")).to_be_visible()
    if save_screenshots():
        page.locator("#review").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        screenshot(page, "patient-review-360")

    page.click("#confirm")
    expect(page.locator("#done")).to_be_visible(timeout=30_000)
    expect(page.locator("#progress-label")).to_have_text("Done")
    expect(page.locator("#composer")).to_be_hidden()
    session.refresh_from_db()
    assert session.status == IntakeSession.Status.COMPLETED and session.summary_id
    # From now on the link shows nothing: neither the transcript nor the answers.
    page.reload()
    expect(page.locator("h1")).to_have_text("Your intake is finished")
    expect(page.locator("#transcript")).to_have_count(0)
    assert token not in page.url, "the token left the address bar on the first visit"
    assert watch.dialogs == [] and watch.csp_violations == [] and watch.page_errors == []

    # Staff see the whole intake on the patient page.
    staff_page, staff_watch = desk
    grant_roles(User.objects.create_user("desk", password="desk-pass-123", is_staff=True))
    staff_page.goto(f"{live_app.base_url}/staff/patients/{session.patient_id}/")
    staff_page.fill("#id_username", "desk")
    staff_page.fill("#id_password", "desk-pass-123")
    staff_page.click("button[type=submit]")
    expect(staff_page.locator("h1")).to_have_text(patient.full_name)
    expect(staff_page.locator(".facts")).to_contain_text("Matched")
    expect(staff_page.locator(".chart-grid")).to_contain_text("Medications")
    expect(staff_page.locator(".transcript li.msg-patient")).to_have_count(sent)
    expect(staff_page.locator("#usage-h")).to_be_visible()
    assert "US$ 0.0" in staff_page.locator(".usage").inner_text()
    if save_screenshots():
        staff_page.set_viewport_size({"width": 1280, "height": 1500})
        screenshot(staff_page, "staff-patient")
    assert staff_watch.csp_violations == [] and staff_watch.page_errors == []


def test_red_flag_shows_an_emergency_banner_that_stays(phone, live_app):
    expect = _expect()
    page, watch = phone
    _, token = _intake()
    page.goto(f"{live_app.base_url}/i/{token}/")
    expect(page.locator("#emergency")).to_be_hidden()
    _send(page, "I have crushing chest pain right now and my left arm is numb.")
    banner = page.locator("#emergency")
    expect(banner).to_be_visible()
    assert banner.get_attribute("role") == "alert"
    expect(banner).to_contain_text("Chest pain")
    box = banner.bounding_box()
    assert box is not None and box["y"] < 10, "the banner sits at the very top of the screen"
    expect(page.locator("#emergency-strip")).to_be_visible()
    page.reload()
    expect(page.locator("#emergency")).to_be_visible()
    expect(page.locator("#emergency")).to_contain_text("Chest pain")
    # While the patient scrolls and keeps typing, a red strip stays in the sticky header.
    for n in range(4):
        _send(page, f"It is still there, message {n}.")
    page.mouse.wheel(0, 5000)
    page.wait_for_timeout(200)
    strip = page.locator("#emergency-strip")
    expect(strip).to_be_visible()
    assert strip.bounding_box()["y"] < 120
    assert "911" in strip.inner_text()
    assert watch.csp_violations == [] and watch.page_errors == []


def test_script_injection_renders_as_text_and_runs_nothing(phone, live_app):
    expect = _expect()
    page, watch = phone
    _, token = _intake()
    page.goto(f"{live_app.base_url}/i/{token}/")
    attacks = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script><b>bold</b>"]
    for attack in attacks:
        _send(page, attack)
    for attack in attacks:
        expect(page.locator("#transcript li.msg-patient .text", has_text=attack)).to_have_count(1)
    page.reload()  # the server-rendered transcript is escaped too
    for attack in attacks:
        expect(page.locator("#transcript li.msg-patient .text", has_text=attack)).to_have_count(1)
    assert page.locator("#transcript img, #transcript script, #transcript b").count() == 0
    page.wait_for_timeout(300)
    assert watch.dialogs == [], "no script ran"
    assert watch.page_errors == []


def test_a_broken_connection_keeps_the_text_and_offers_retry(phone, live_app):
    expect = _expect()
    page, watch = phone
    _, token = _intake()
    page.goto(f"{live_app.base_url}/i/{token}/")
    page.route("**/messages/stream", lambda route: route.abort("connectionreset"))
    page.fill("#msg", "Ada Okafor, 4 May 1980")
    page.click("#send")
    expect(page.locator("#retry")).to_be_visible()
    expect(page.locator("#chat-error")).to_contain_text("Your text is still in the box")
    assert page.input_value("#msg") == "Ada Okafor, 4 May 1980"
    page.unroute("**/messages/stream")
    page.click("#retry")
    expect(page.locator("#retry")).to_be_hidden()
    expect(page.locator("#msg")).to_have_value("", timeout=30_000)  # the reply came: the box is cleared
    expect(page.locator("#transcript li.msg-model")).to_have_count(2)
    expect(page.locator("#transcript li.msg-patient")).to_have_count(1)
    assert watch.page_errors == []


def test_the_servers_refusal_of_a_file_is_shown(phone, live_app):
    expect = _expect()
    page, _ = phone
    _, token = _intake()
    page.goto(f"{live_app.base_url}/i/{token}/")
    # Says it is a PNG but is not: only the server can tell, and its 415 detail is shown.
    page.set_input_files("#file", {"name": "card.png", "mimeType": "image/png", "buffer": b"not really a png"})
    page.fill("#msg", "My card")
    page.click("#send")
    expect(page.locator("#chat-error")).to_contain_text("Only photos (PNG, JPEG, GIF, WebP, HEIC) and PDF files")
    # The refused file is taken off the message, and the message says so; the text stays.
    expect(page.locator("#chat-error")).to_contain_text("The file was removed from your message")
    expect(page.locator("#preview li")).to_have_count(0)
    assert page.input_value("#msg") == "My card"
    expect(page.locator("#transcript li.msg-patient")).to_have_count(0)
    page.click("#send")  # sending again sends the text alone, and it is answered
    expect(page.locator("#transcript li.msg-patient")).to_have_count(1)
    expect(page.locator("#transcript li.msg-model").last).not_to_have_class("pending", timeout=30_000)
    assert page.locator("#transcript li.msg-patient .att").count() == 0


def test_chat_page_is_small_and_same_origin_only(phone, live_app):
    page, watch = phone
    _, token = _intake()
    requests: list[str] = []
    sizes: dict[str, int] = {}
    page.on("request", lambda r: requests.append(r.url))

    def on_response(response: Any) -> None:
        if response.request.resource_type in {"document", "stylesheet", "script"}:
            sizes[response.url] = len(response.body())

    page.on("response", on_response)
    page.goto(f"{live_app.base_url}/i/{token}/", wait_until="networkidle")
    foreign = [u for u in requests if not u.startswith(live_app.base_url + "/")]
    assert foreign == [], f"loaded from another origin: {foreign}"
    total = sum(sizes.values())
    parts = ", ".join(f"{url.rsplit('/', 1)[-1] or 'page'}={n}" for url, n in sizes.items())
    print(f"\nchat page weight: {total} bytes ({parts})")
    assert len(sizes) == 3, sizes
    assert total < 60 * 1024
    assert watch.csp_violations == []
    # Text size: rem-based, and zoom is never disabled.
    viewport = page.get_attribute("meta[name=viewport]", "content")
    assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport


def test_chat_works_with_double_text_size_and_a_keyboard(phone, live_app):
    expect = _expect()
    page, watch = phone
    _, token = _intake()
    page.goto(f"{live_app.base_url}/i/{token}/")
    # The patient's own text size: everything is in rem, so doubling the root size must not
    # push anything off a 360 px screen.
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "34px"  # 2 x 1.0625rem
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Keyboard only: the skip link, then the message box, each with a visible focus ring.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    focused = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.id, s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[0] == "msg" and focused[1] == "solid" and focused[2] != "0px", focused
    page.keyboard.type("Ada Okafor, 4 May 1980")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#msg")).to_have_value("", timeout=30_000)  # the reply came: the box is cleared
    expect(page.locator("#transcript li.msg-model")).to_have_count(2)
    # Every control has a name a screen reader can read out.
    for selector in ["#msg", "#file", "#send", "#progress"]:
        name = page.locator(selector).evaluate(
            "el => el.labels && el.labels.length ? el.labels[0].textContent.trim()"
            " : (el.getAttribute('aria-label') || el.textContent.trim()"
            " || document.getElementById(el.getAttribute('aria-labelledby') || '')?.textContent.trim())"
        )
        assert name, selector
    assert watch.page_errors == [] and watch.csp_violations == []
