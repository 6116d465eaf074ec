"""Browser: the patient chat phone first, at 320 px (with text at 200%), 390 px and 768 px, through
uvicorn, the real SDK and the emulator; axe-core on the chat in each state.

WCAG 2.2 AA 1.4.10 (reflow at 320 CSS px) and 1.4.4 (text at 200%): no sideways scrolling, the newest
message above the composer, the "Looks right" control reachable, the header collapsed to one line.
Screenshots go to docs/screenshots/patient-chat-<width>.png with WEB_SCREENSHOTS=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from intake import plan, services
from intake.models import IntakeSession, IntakeTurn
from patients.models import Patient
from tests.web.conftest import axe_problems, needs_chromium, save_screenshots, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]

# (width, height, text scale): a small phone at double text size, a common phone, a small tablet.
SIZES = [(320, 640, 2), (390, 844, 1), (768, 1024, 1)]
SIZE_IDS = ["320px-200pct-text", "390px", "768px"]

# Where an element is against what covers the screen: the sticky header and composer (when sticky).
PLACEMENT = """el => {
  const r = el.getBoundingClientRect();
  const top = document.querySelector('.top'), composer = document.getElementById('composer');
  const sticky = n => n && !n.hidden && getComputedStyle(n).position === 'sticky';
  const topLimit = sticky(top) ? Math.max(top.getBoundingClientRect().bottom, 0) : 0;
  const bottomLimit = sticky(composer) ? Math.min(composer.getBoundingClientRect().top, innerHeight) : innerHeight;
  const y = Math.max(r.top, topLimit) + 4;
  const hit = document.elementFromPoint(r.left + Math.min(12, r.width / 2), y);
  return {top: r.top, bottom: r.bottom, height: r.height, topLimit, bottomLimit, uncovered: !!hit && el.contains(hit)};
}"""


def _expect() -> Any:
    return pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(params=SIZES, ids=SIZE_IDS)
def sized(request: Any, browser: Any, live_app: Any) -> Iterator[tuple[Any, int, int, int]]:
    width, height, scale = request.param
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1, is_mobile=width < 700, has_touch=True
    )
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        yield page, width, height, scale
        assert errors == [], errors
    finally:
        context.close()


def _open(page: Any, url: str, scale: int) -> None:
    if scale != 1:
        # The patient's browser text size (Settings > Font size), as Chrome applies it: before the
        # page loads, to rem units and em media queries alike.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 16 * scale, "fixed": 13 * scale}})
    page.goto(url)
    if scale != 1:
        assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == f"{16 * scale}px"


def _session(*, turns: int, status: str = IntakeSession.Status.ACTIVE) -> tuple[IntakeSession, str]:
    patient = Patient.objects.create(given_name="Ada", family_name="Okafor", birth_date=date(1980, 5, 4))
    session, token = services.intake_start(patient=patient)
    for n in range(turns):
        step = min(n, plan.TOTAL_STEPS - 1)
        IntakeTurn.objects.create(session=session, index=2 * n + 1, role="patient", step=step, text=f"Answer {n}")
        IntakeTurn.objects.create(
            session=session, index=2 * n + 2, role="model", step=step, text=f"Thank you. Next question {n}?"
        )
    step_index = plan.REVIEW_INDEX if status == IntakeSession.Status.REVIEW else min(turns, plan.TOTAL_STEPS - 1)
    IntakeSession.objects.filter(pk=session.pk).update(status=status, step_index=step_index)
    return session, token


def _in_view(page: Any, selector: str) -> dict[str, Any]:
    return page.locator(selector).last.evaluate(PLACEMENT)


def _assert_newest_visible(where: dict[str, Any], what: str) -> None:
    free = where["bottomLimit"] - where["topLimit"]
    assert where["uncovered"], f"{what} is covered: {where}"
    assert where["top"] >= where["topLimit"] - 1, f"{what} starts above the visible area: {where}"
    if where["height"] <= free:
        assert where["bottom"] <= where["bottomLimit"] + 1, f"{what} ends behind the composer: {where}"


def test_newest_reply_shows_above_the_composer_and_the_page_reflows(sized, live_app):
    expect = _expect()
    page, width, height, scale = sized
    _, token = _session(turns=8)
    _open(page, f"{live_app.base_url}/i/{token}/", scale)

    assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling"
    header = page.locator("header.top").bounding_box()
    assert header["height"] <= height * 0.25, f"the header collapses on a small screen: {header}"
    _assert_newest_visible(_in_view(page, "#transcript li"), "the last message on load")

    page.fill("#msg", "It started four days ago, about 4 out of 10, slowly getting better.")
    page.click("#send")
    expect(page.locator("#send")).to_be_enabled(timeout=30_000)
    expect(page.locator("#transcript li.msg-model").last).not_to_have_class("pending")

    _assert_newest_visible(_in_view(page, "#transcript li.msg-model"), "the newest reply")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if scale != 1:
        # Large text on a small phone: header and composer leave the conversation the screen.
        assert page.evaluate("document.body.classList.contains('cramped')")
    if save_screenshots():
        screenshot(page, f"patient-chat-{width}")


def test_emergency_reply_and_banner_are_on_screen(sized, live_app, axe_source):
    expect = _expect()
    page, width, _, scale = sized
    _, token = _session(turns=6)
    _open(page, f"{live_app.base_url}/i/{token}/", scale)

    page.fill("#msg", "I have crushing chest pain right now and my left arm is numb.")
    page.click("#send")
    expect(page.locator("#emergency")).to_be_visible(timeout=30_000)
    expect(page.locator("#send")).to_be_enabled(timeout=30_000)

    _assert_newest_visible(_in_view(page, "#transcript li.msg-system"), "the emergency reply")
    strip = page.locator("#emergency-strip")
    expect(strip).to_be_visible()  # the way back to the banner, wherever the patient is
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_problems(page, axe_source) == []


def test_review_confirm_is_always_reachable(sized, live_app, axe_source):
    expect = _expect()
    page, width, height, scale = sized
    _, token = _session(turns=10, status=IntakeSession.Status.REVIEW)
    _open(page, f"{live_app.base_url}/i/{token}/", scale)

    expect(page.locator("#review")).to_be_visible()
    confirm = page.locator("#confirm")
    # Without any scrolling by the patient, wherever the review starts, the button is on screen, uncovered.
    where = confirm.evaluate(PLACEMENT)
    assert where["uncovered"] and where["top"] >= 0 and where["bottom"] <= height, where
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Scrolled back up into the conversation, the button stays on screen while the review is.
    page.locator("#review h2").evaluate("el => el.scrollIntoView({block: 'center'})")
    assert confirm.evaluate(PLACEMENT)["uncovered"]
    assert axe_problems(page, axe_source) == []
    if save_screenshots():
        screenshot(page, f"patient-review-{width}")

    confirm.click()
    expect(page.locator("#done")).to_be_visible(timeout=30_000)
    _assert_newest_visible(page.locator("#done").evaluate(PLACEMENT), "the thank-you panel")


def test_text_past_the_limit_is_explained_not_cut(phone, live_app):
    expect = _expect()
    page, watch = phone
    _, token = _session(turns=1)
    page.goto(f"{live_app.base_url}/i/{token}/")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/messages" in r.url else None)

    page.fill("#msg", "a" * 3700)
    expect(page.locator("#msg-count")).to_have_text("3,700 of 4,000 characters")
    page.fill("#msg", "b" * 4312)
    expect(page.locator("#chat-error")).to_have_text(
        "Your message is 4,312 characters; the limit is 4,000. Please shorten it by 312 characters, "
        "or send it in two parts."
    )
    page.click("#send")
    assert len(page.input_value("#msg")) == 4312, "nothing is cut"
    assert sent == [] and page.locator("#transcript li.msg-patient").count() == 1
    page.fill("#msg", "b" * 3999)
    expect(page.locator("#chat-error")).to_be_hidden()
    assert watch.page_errors == []


def test_chat_has_no_serious_accessibility_problems_on_load(phone, live_app, axe_source):
    page, _ = phone
    _, token = _session(turns=3)
    page.goto(f"{live_app.base_url}/i/{token}/")
    assert axe_problems(page, axe_source) == []


def test_the_axe_check_does_catch_a_problem(phone, live_app, axe_source):
    page, _ = phone
    _, token = _session(turns=1)
    page.goto(f"{live_app.base_url}/i/{token}/")
    page.evaluate("document.getElementById('transcript').insertAdjacentHTML('beforeend', '<li><img src=/x.png></li>')")
    assert any("image-alt" in p for p in axe_problems(page, axe_source))
