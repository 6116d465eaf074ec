"""Browser-test fixtures: the app under uvicorn (ASGI, so replies really stream) against the test
database, the emulator with streamed chunks slowed down, and Debian's chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.emulator_fixture import FAKE_KEY, EmulatorHandle, free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
needs_chromium = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium")


def save_screenshots() -> bool:
    """Screenshots under docs/screenshots/ are rewritten only on request: WEB_SCREENSHOTS=1."""
    return os.environ.get("WEB_SCREENSHOTS") == "1"


def screenshot(page: Any, name: str, **kwargs: Any) -> None:
    """Save docs/screenshots/<name>.png, reduced to a 128-colour palette so the repository stays small."""
    from PIL import Image

    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


@pytest.fixture(scope="session")
def web_emulator() -> Iterator[EmulatorHandle]:
    # 20 ms between streamed chunks, so a test (and a person) can see a reply arrive piece by piece.
    handle = EmulatorHandle(extra_args=("--chunk-ms", "20", "--quiet"))
    try:
        yield handle
    finally:
        handle.stop()


def _database_url(settings_dict: dict[str, Any]) -> str:
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite:///" + str(Path(settings_dict["NAME"]).resolve())
    if "postgresql" in engine:
        user = quote(settings_dict.get("USER") or "")
        password = quote(settings_dict.get("PASSWORD") or "")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or "5432"
        return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    raise RuntimeError(f"browser tests do not know how to share a {engine} test database")


@dataclass
class LiveApp:
    base_url: str
    proc: subprocess.Popen
    log: Any

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")


@pytest.fixture(scope="session")
def live_app(django_db_setup: Any, django_db_blocker: Any, web_emulator: EmulatorHandle) -> Iterator[LiveApp]:
    """uvicorn serving intake.asgi against the test database (pytest-django's live_server is WSGI)."""
    from django.db import connection

    with django_db_blocker.unblock():
        database_url = _database_url(connection.settings_dict)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "true",  # static files from the finders, as under `make run`
        "GEMINI_API_KEY": FAKE_KEY,
        "GEMINI_BASE_URL": web_emulator.base_url,
        "GEMINI_RETRY_ATTEMPTS": "1",
        "LOG_LEVEL": "WARNING",
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
    cmd = [sys.executable, "-m", "uvicorn", "intake.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--no-access-log"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    app = LiveApp(base_url=f"http://127.0.0.1:{port}", proc=proc, log=log)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited early:\n{app.output()}")
        try:
            with urllib.request.urlopen(app.base_url + "/static/css/chat.css", timeout=2):  # noqa: S310
                break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"uvicorn did not answer:\n{app.output()}") from None
            time.sleep(0.1)
    try:
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls tests make between
    # browser steps are ordinary blocking calls, so Django's async guard is lifted for them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Watch:
    """What a page did that a test wants to assert never happens."""

    dialogs: list[str]
    csp_violations: list[str]
    page_errors: list[str]


def _watch(page: Any) -> Watch:
    watch = Watch(dialogs=[], csp_violations=[], page_errors=[])

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "console",
        lambda m: watch.csp_violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    return watch


def _watched_page(context: Any) -> Iterator[tuple[Any, Watch]]:
    """A page of this browser context and its Watch; the context is closed afterwards."""
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page, _watch(page)
    finally:
        context.close()


@pytest.fixture
def phone(browser: Any, live_app: LiveApp) -> Iterator[tuple[Any, Watch]]:
    """A 360 px wide phone-sized page."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=1, is_mobile=True, has_touch=True
    )
    yield from _watched_page(context)


@pytest.fixture
def desk(browser: Any, live_app: LiveApp) -> Iterator[tuple[Any, Watch]]:
    """A front-desk computer's page."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_app.base_url)
    yield from _watched_page(context)


# --- axe-core (test-only: installed from package.json by `npm ci`, never served by the app) --------

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.x A/AA rules plus axe's best practices; a test fails on serious or critical findings.
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.impact} ${v.id}: ${v.help} @ ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`);
}"""


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's source, installed with `npm ci` from package-lock.json on first use."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("needs npm to install axe-core (package.json) for the accessibility checks")
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=ROOT, check=True, timeout=300
        )
    return AXE_JS.read_text()


def axe_problems(page: Any, source: str, watch: Watch | None = None) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now. The script is evaluated
    through the DevTools protocol, so the page's CSP stays as strict as in production. axe sets
    inline styles while it measures (the strict CSP reports them): with `watch`, those reports,
    which are the test tool's and not the page's, are dropped."""
    seen = len(watch.csp_violations) if watch else 0
    if page.evaluate("typeof window.axe") != "object":
        page.evaluate(source)
    problems = page.evaluate(AXE_RUN)
    if watch:
        del watch.csp_violations[seen:]
    return problems
