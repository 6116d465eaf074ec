"""`manage.py eval_intake`: drive scenario cards through the JSON API and score the summaries.

Each card is played as a patient would: its messages in order, whatever the assistant asks; then
neutral fillers until the review step (a cap stops an intake that never gets there); then the
card's review replies; then `complete`. Everything goes through the public JSON API (the
endpoints of docs/api.md), in process, with a staff token and the intake's patient token.

Decisions:
- By default the run uses a throwaway database, made and dropped like Django's `testserver`
  does, so evaluation patients never land in a clinic's data. The Synthea charts are loaded into
  it the way `seed_demo` loads them, and each card's patient is registered with `POST /patients`.
- The model: Gemini when GEMINI_API_KEY is set; else the emulator at GEMINI_BASE_URL (or
  `--base-url`) if given; else an emulator started here on a free port and stopped after.
- Errors (a card file that does not parse, a 5xx, a model that cannot be reached) are reported
  as errors; poor answers are only scores. The command's exit code follows errors, not scores.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from pydantic import ValidationError

from intake import selectors
from intake.eval_score import Card, CardScore, card_score, overall
from intake.tokens import api_token_issue
from patients.ehr import clean_name, mrn_of, parse_identity
from patients.fhir_load import fhir_bundle_load
from patients.models import FhirResource, Patient
from patients.roles import REVIEWERS_GROUP, STAFF_GROUP, roles_ensure

ROOT = Path(settings.BASE_DIR)
DEFAULT_CARDS = ROOT / "evals" / "cards"
DEFAULT_CHARTS = ROOT / "patients" / "demo_data" / "synthea"
FILLER = "I think I've told you everything."
EXTRA_TURNS = 12  # fillers and review replies allowed beyond the card's own messages
_FINISHED = {"completed", "manual", "cancelled"}
_STAFF_USERNAME = "eval-staff"


class EvalError(Exception):
    """The evaluation itself failed (not a low score): a bad card, no model, a server error."""


@dataclass
class CardRun:
    score: CardScore
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (who, text)
    summary: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        s = self.score
        return {
            "card": s.card_id,
            "medication_f1": s.medications.strict.f1,
            "medication_f1_by_name": s.medications.by_name.f1,
            "allergy_f1": s.allergies.strict.f1,
            "chief_complaint": s.chief_complaint,
            "completeness": s.completeness,
            "declines": s.declines,
            "reasked": s.reasked,
            "turns": s.turns,
            "tokens": s.tokens,
            "problems": s.problems,
            "summary": self.summary,
        }


@dataclass
class EvalReport:
    backend: str
    runs: list[CardRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def overall(self) -> dict[str, Any]:
        return overall([r.score for r in self.runs])

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "overall": self.overall,
            "errors": self.errors,
            "cards": [run.as_dict() for run in self.runs],
        }


# --- Cards --------------------------------------------------------------------------------------


def eval_cards_load(path: Path | str) -> list[Card]:
    """Cards from a JSON file (one card or a list) or from every *.json file under a directory."""
    path = Path(path)
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise EvalError(f"No card files at {path}.")
    cards: list[Card] = []
    for file in files:
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
            cards += [Card.model_validate(item) for item in (raw if isinstance(raw, list) else [raw])]
        except (OSError, ValueError, ValidationError) as exc:
            raise EvalError(f"{file.name}: not a valid card: {exc}") from exc
    ids = [c.id for c in cards]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise EvalError(f"Card ids must be unique; repeated: {', '.join(duplicates)}.")
    return cards


# --- The API, in process ------------------------------------------------------------------------


class _Api:
    def __init__(self, staff_token: str) -> None:
        self.client = Client()
        self.staff_token = staff_token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, *, token: str = "") -> Any:
        headers = {"Authorization": f"Bearer {token or self.staff_token}"}
        if method == "GET":
            response = self.client.get(f"/api/v1{path}", headers=headers)
        else:
            response = self.client.post(
                f"/api/v1{path}", data=json.dumps(body or {}), content_type="application/json", headers=headers
            )
        data = json.loads(response.content or b"null")
        if response.status_code >= 500:
            raise EvalError(f"{method} {path} answered {response.status_code}: {data}")
        return response.status_code, data


def _chart_patients(charts_dir: Path) -> dict[str, dict[str, Any]]:
    """Load the charts (as `seed_demo` does) and index their Patient resources by name."""
    files = sorted(charts_dir.glob("*.json"))
    if not files:
        raise EvalError(f"No FHIR bundles in {charts_dir}.")
    for path in files:
        fhir_bundle_load(path=path)
    index: dict[str, dict[str, Any]] = {}
    for resource in FhirResource.objects.filter(resource_type="Patient").values_list("data", flat=True):
        ident = parse_identity(resource)
        index[f"{ident['given_name']} {ident['family_name']}".lower()] = resource
    return index


class _Registry:
    """Registers each card's patient once through `POST /patients`; later cards reuse the id."""

    def __init__(self, api: _Api, charts: dict[str, dict[str, Any]]) -> None:
        self.api, self.charts, self.ids = api, charts, {}

    def patient_id(self, card: Card) -> int:
        p = card.patient
        if p.chart:
            resource = self.charts.get(p.chart.lower())
            if resource is None:
                raise EvalError(f"{card.id}: no chart for {p.chart!r}; known: {', '.join(sorted(self.charts))}.")
            ident = parse_identity(resource)
            phone = next((t.get("value", "") for t in resource.get("telecom") or [] if t.get("system") == "phone"), "")
            body = {
                "given_name": ident["given_name"],
                "family_name": clean_name(ident["family_name"]),
                "birth_date": ident["birth_date"],
                "sex": resource.get("gender") or "unknown",
                "phone": phone,
                "mrn": mrn_of(resource) or None,
            }
        else:
            body = {
                "given_name": p.given_name,
                "family_name": p.family_name,
                "birth_date": p.birth_date.isoformat() if p.birth_date else "",
                "sex": p.sex,
                "phone": p.phone,
                "email": p.email,
            }
        key = f"{body['given_name']} {body['family_name']} {body['birth_date']}".lower()
        if key not in self.ids:
            status, data = self.api.call("POST", "/patients", body)
            if status == 409:
                # Already registered (`--in-place` on a database `seed_demo` filled): use that patient.
                self.ids[key] = self._existing(body)
            elif status != 201:
                raise EvalError(f"{card.id}: registering the patient answered {status}: {data}")
            elif p.chart and not data["chart_matched"]:
                raise EvalError(f"{card.id}: the patient was registered but not linked to the chart.")
            else:
                self.ids[key] = data["id"]
        return self.ids[key]

    @staticmethod
    def _existing(body: dict[str, Any]) -> int:
        same = Patient.objects.filter(
            given_name__iexact=body["given_name"],
            family_name__iexact=body["family_name"],
            birth_date=body["birth_date"],
        )
        found = Patient.objects.filter(mrn=body["mrn"]) if body.get("mrn") else same
        pk = found.values_list("pk", flat=True).first() or same.values_list("pk", flat=True).first()
        if pk is None:
            raise EvalError(f"{body['given_name']} {body['family_name']}: registered, but not found.")
        return int(pk)


# --- One card -----------------------------------------------------------------------------------


def _tokens(detail: dict[str, Any]) -> dict[str, Any]:
    # The staff pages' own usage and cost rule (configured prices), over this intake's turns.
    sums = {k: sum(int(t.get(k) or 0) for t in detail.get("turns", [])) for k in selectors._USAGE_SUMS}
    return selectors._usage(sums)


def _card_play(api: _Api, registry: _Registry, card: Card) -> CardRun:
    status, created = api.call("POST", "/intakes", {"patient_id": registry.patient_id(card)})
    if status != 201:
        raise EvalError(f"{card.id}: starting the intake answered {status}: {created}")
    intake_id, token = created["id"], created["patient_token"]
    script, review = list(card.messages), list(card.review)
    transcript: list[tuple[str, str]] = []
    asked: list[str] = []
    covered: list[set[str]] = []
    seen: set[str] = set()
    state, turns = "active", 0
    cap = len(script) + len(review) + EXTRA_TURNS
    while turns < cap and state not in _FINISHED:
        if state == "review" and not script:
            if not review:
                break
            text, topics = review.pop(0), {"review"}
        elif script:
            message = script.pop(0)
            text, topics = message.text, set(message.topics)
        else:
            text, topics = FILLER, set()
        code, answer = api.call("POST", f"/intakes/{intake_id}/messages", {"text": text}, token=token)
        turns += 1
        transcript.append(("patient", text))
        if code != 200:
            transcript.append(("app", f"[{code}] {answer.get('detail', '')}"))
            if code == 503:
                raise EvalError(f"{card.id}: the model could not be reached ({answer.get('detail', '')}).")
            break
        transcript.append(("assistant", answer["reply"]))
        state = answer["status"]
        if state == "active":
            # Topics answered before this message: asking again right after an answer may be a
            # follow-up ("any other allergies?"); asking after the patient moved on is a re-ask.
            asked.append(answer.get("step_title", ""))
            covered.append(set(seen))
        seen |= topics
    summary = _summary_fetch(api, intake_id, state, token)
    _, detail = api.call("GET", f"/intakes/{intake_id}")
    score = card_score(
        card,
        summary,
        asked_titles=asked,
        covered_before=covered,
        turns=turns,
        tokens=_tokens(detail),
    )
    return CardRun(score=score, transcript=transcript, summary=summary)


def _summary_fetch(api: _Api, intake_id: int, state: str, token: str) -> dict[str, Any] | None:
    if state == "review":
        code, body = api.call("POST", f"/intakes/{intake_id}/complete", token=token)
        return body["data"] if code == 200 else None
    _, detail = api.call("GET", f"/intakes/{intake_id}")
    if detail.get("summary_id"):
        code, body = api.call("GET", f"/summaries/{detail['summary_id']}")
        return body["data"] if code == 200 else None
    return None


def eval_cards_drive(
    *, cards: list[Card], charts_dir: Path = DEFAULT_CHARTS, on_card: Callable[[CardRun], None] | None = None
) -> EvalReport:
    """Play the cards against the current database and model settings."""
    user, _ = User.objects.get_or_create(username=_STAFF_USERNAME, defaults={"is_staff": True})
    # The evaluator registers patients, runs intakes and reads transcripts and summaries: the front
    # desk's and the clinicians' permissions (roles are permissions, patients/roles.py).
    roles_ensure()
    user.groups.add(*Group.objects.filter(name__in=(STAFF_GROUP, REVIEWERS_GROUP)))
    api = _Api(api_token_issue(username=user.username, label="eval_intake"))
    registry = _Registry(api, _chart_patients(charts_dir))
    report = EvalReport(backend=_backend_label())
    for card in cards:
        try:
            run = _card_play(api, registry, card)
        except EvalError as exc:
            report.errors.append(str(exc))
            continue
        report.runs.append(run)
        if on_card is not None:
            on_card(run)
    return report


# --- Where it runs ------------------------------------------------------------------------------


def _backend_label() -> str:
    if settings.GEMINI_API_KEY:
        return f"Gemini ({settings.GEMINI_MODEL})"
    return f"emulator at {settings.GEMINI_BASE_URL}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _model_backend(base_url: str | None) -> Iterator[None]:
    if settings.GEMINI_API_KEY:
        yield
        return
    url = base_url or os.environ.get("GEMINI_BASE_URL", "")
    if url:
        with override_settings(GEMINI_BASE_URL=url):
            yield
        return
    port = _free_port()
    cmd = [sys.executable, "-m", "gemini_emulator", "--port", str(port), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url)
        with override_settings(GEMINI_BASE_URL=url):
            yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EvalError("The emulator exited: " + (proc.stderr.read().decode()[-500:] if proc.stderr else ""))
        try:
            with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=2):  # noqa: S310 (loopback)
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)  # polling a starting subprocess, not timing a test
    raise EvalError(f"The emulator did not answer at {url} within {timeout:.0f} s.")


@contextmanager
def _throwaway_database() -> Iterator[None]:
    """A fresh, migrated database for the run, dropped after (what `manage.py testserver` does)."""
    original = connection.settings_dict["NAME"]
    # Never the test suite's database: a test run at the same time would clobber it.
    if connection.vendor == "sqlite":
        name = str(Path(original).parent / f"eval-{os.getpid()}.sqlite3")
    else:
        name = f"eval_{original}_{os.getpid()}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


def eval_intake_run(
    *,
    cards_path: Path | str = DEFAULT_CARDS,
    charts_dir: Path | str = DEFAULT_CHARTS,
    base_url: str | None = None,
    throwaway_db: bool = True,
    on_card: Callable[[CardRun], None] | None = None,
) -> EvalReport:
    """Load the cards, pick the model, make a database, play every card, and report."""
    cards = eval_cards_load(cards_path)
    with _terminate_cleanly(), _model_backend(base_url), _throwaway_database() if throwaway_db else nullcontext():
        return eval_cards_drive(cards=cards, charts_dir=Path(charts_dir), on_card=on_card)


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so the run unwinds like Ctrl-C."""


@contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """On SIGTERM, stop the emulator and drop the database (the `finally` blocks inside), then exit.

    The exit is immediate (`os._exit`): the in-process API client's event-loop thread may be
    waiting for the main thread, which would hang a normal interpreter shutdown.
    """

    def stop(signum: int, frame: Any) -> None:
        raise _Terminated(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    except _Terminated as exc:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.args[0])
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- Printing -----------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value:.2f}"


def eval_card_line(run: CardRun) -> str:
    s = run.score
    declines = f"{sum(o == 'recorded' for o in s.declines.values())}/{len(s.declines)}" if s.declines else "-"
    tokens = int(s.tokens.get("input_tokens", 0)) + int(s.tokens.get("output_tokens", 0))
    return (
        f"{s.card_id:<40} med {_pct(s.medications.strict.f1)} (name {_pct(s.medications.by_name.f1)})"
        f"  allergy {_pct(s.allergies.strict.f1)}  cc {'yes' if s.chief_complaint else 'NO '}"
        f"  complete {_pct(s.completeness)}  declines {declines:<4} reasks {len(s.reasked)}"
        f"  turns {s.turns:>2}  tokens {tokens:>6}"
        f"  ${float(s.tokens.get('cost_usd', 0.0)):.4f}"
    )


def eval_report_text(report: EvalReport, *, details: bool = False, transcripts: bool = False) -> str:
    lines = [f"Model: {report.backend}", ""]
    for run in report.runs:
        lines.append(eval_card_line(run))
        if details:
            lines += [f"    - {p}" for p in run.score.problems]
            lines += [f"    re-asked: {t}" for t in run.score.reasked]
        if transcripts:
            lines += [f"    {who:>9}: {text}" for who, text in run.transcript]
    o = report.overall
    lines += [
        "",
        f"Overall, {o['cards']} cards ({o['completed']} reached a summary):",
        f"  medication F1 (status right)   {o['medication_f1']:.3f}   by name only {o['medication_f1_by_name']:.3f}"
        f"   status accuracy {o['medication_status_accuracy']:.3f}",
        f"  allergy F1 (reaction right)    {o['allergy_f1']:.3f}"
        f"   by substance only {o['allergy_f1_by_substance']:.3f}",
        f"  chief complaint captured       {o['chief_complaint_captured']:.3f}",
        f"  history completeness           {o['history_completeness']:.3f}",
        f"  declines recorded              {o['declines_recorded']}/{o['declines']}"
        f"   shown as 'none' (error) {o['declines_shown_as_none']}",
        f"  questions re-asked             {o['reasks']}",
        f"  urgency right                  {o['urgency_right']:.3f}",
        f"  turns per intake               {o['turns_per_intake']:.1f}",
        f"  tokens per intake              {o['tokens_per_intake']:.0f}",
        f"  cost per intake (USD)          {o['cost_usd_per_intake']:.5f}",
    ]
    if report.errors:
        lines += ["", f"Errors ({len(report.errors)}):", *[f"  {e}" for e in report.errors]]
    return "\n".join(lines)
