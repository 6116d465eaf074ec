"""Deep Research jobs: request, start, poll, brief, cancel, reconcile.

Every state change is a compare-and-set `UPDATE ... WHERE status = ...`, so a redelivered or
duplicated task finds the row already moved on and does nothing. No lock or transaction is held
while Gemini is called. Tasks (agents/tasks.py) are thin wrappers that pass ids in and turn a
returned countdown into `self.retry(countdown=...)`.

Logs carry job ids and statuses only: never the question, the prompt, the report or a name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents import client
from agents.markdown import markdown_sources, markdown_to_html
from agents.models import ResearchJob
from agents.research import (
    PatientIdentifiers,
    age_band,
    identifiers_from_text,
    phi_check,
    phi_refusal_message,
    research_prompt_build,
    research_question_default,
)
from patients import ehr
from patients.models import AuditEvent, Patient, PatientSummary

logger = logging.getLogger(__name__)

Status = ResearchJob.Status
ACTIVE = (Status.QUEUED, Status.STARTING, Status.RUNNING, Status.SUMMARIZING)
# Remote statuses that mean "not finished yet" (the enum is open; unknown ones are treated so too).
_REMOTE_DONE = "completed"
_REMOTE_FAILED = {"failed", "incomplete", "budget_exceeded"}
_REMOTE_CANCELLED = {"cancelled"}
_QUESTION_MAX = 2000
_ERROR_MAX = 500

BRIEF_INSTRUCTION = (
    "From the research report above, write a brief for the clinician who will see this patient: "
    "exactly five Markdown bullet points, one or two sentences each, most actionable first, each "
    "ending with the source link it rests on. No heading, no preamble, no diagnosis of this patient."
)


class ResearchRefusedError(Exception):
    """The research request was refused before anything was sent; the message is safe to show."""


class ResearchJobStateError(Exception):
    """The job is not in a state that allows this action (e.g. cancelling a finished job)."""


# --- Request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResearchContext:
    """What a research prompt may be built from (the allowlist: age band, sex, coded problems,
    medications; the question comes from staff), plus the identifiers it is checked against."""

    age_band: str
    sex: str
    problems: list[str]
    medications: list[str]
    identifiers: PatientIdentifiers


# Callables that return what a patient said (chat messages), by patient id. The intake app adds
# one when it loads; agents never import intake, and the texts are only checked against, never sent.
PATIENT_TEXT_SOURCES: list[Callable[[int], list[str]]] = []


def _split(summary_or_patient: PatientSummary | Patient) -> tuple[Patient, PatientSummary | None]:
    if isinstance(summary_or_patient, PatientSummary):
        return summary_or_patient.patient, summary_or_patient
    return summary_or_patient, None


def _scope(patient: Patient, actor: Any) -> ehr.PatientScope:
    user_id = getattr(actor, "pk", None)
    return ehr.PatientScope(
        patient_id=patient.pk,
        fhir_patient_id=patient.fhir_patient_id,
        actor_label=f"user:{user_id}" if user_id else "research",
        actor_user_id=user_id,
    )


def _chart_identifiers(patient: Patient) -> dict[str, list[str]]:
    """Every identifier on the chart's Patient resource (names, contacts' names, phones, emails,
    address lines, record numbers): only to check prompts against, never to put into one."""
    found: dict[str, list[str]] = {"names": [], "phones": [], "emails": [], "addresses": [], "ids": []}
    if not patient.fhir_patient_id:
        return found
    try:
        resource = ehr.chart_source().patient(patient.fhir_patient_id) or {}
    except ehr.ChartAccessError:
        return found
    people = [resource, *(resource.get("contact") or [])]
    for person in people:
        names = person.get("name") or []
        for name in names if isinstance(names, list) else [names]:
            found["names"].extend(str(part) for part in [*(name.get("given") or []), name.get("family")] if part)
        for telecom in person.get("telecom") or []:
            value = str(telecom.get("value") or "")
            if telecom.get("system") in {"phone", "sms", "fax"} and value:
                found["phones"].append(value)
            elif telecom.get("system") == "email" and value:
                found["emails"].append(value)
        addresses = person.get("address") or []
        for address in addresses if isinstance(addresses, list) else [addresses]:
            found["addresses"].extend(str(line) for line in address.get("line") or [] if line)
            found["addresses"].extend(str(address[key]) for key in ("city", "postalCode") if address.get(key))
    found["ids"] = [str(i["value"]) for i in resource.get("identifier") or [] if i.get("value")]
    return found


def research_context_build(
    *, patient: Patient, summary: PatientSummary | None, actor: Any, today: date | None = None
) -> ResearchContext:
    """Gather the allowed fields and the patient's identifiers. Reads the chart once (audited)."""
    snapshot: dict[str, Any] = dict(summary.chart_snapshot or {}) if summary else {}
    coverage: list[dict[str, Any]] = []
    try:
        chart = ehr.chart_read(scope=_scope(patient, actor), sections=["problems", "medications", "coverage"])
        snapshot.setdefault("problems", [vars(p) for p in chart.problems])
        snapshot.setdefault("medications", [vars(m) for m in chart.medications])
        coverage = [vars(c) for c in chart.coverage]
    except ehr.ChartAccessError:
        logger.warning("research context: chart unavailable for patient %s", patient.pk)
    data: dict[str, Any] = dict(summary.data or {}) if summary else {}

    # Coded problems only: free-text history is the patient's own words and stays in the clinic.
    problems = [
        f"{p.get('name', '').strip()} (SNOMED CT {p['code']})" if p.get("code") else ""
        for p in snapshot.get("problems") or []
        if isinstance(p, dict) and p.get("name")
    ]
    # The reviewed summary's current medications when there is a summary (the chart may still list one
    # the patient stopped), else the chart's; each drug once, keyed on its first word.
    medications: list[str] = []
    seen: set[str] = set()
    for med in (data.get("medications") if summary else None) or snapshot.get("medications") or []:
        if not isinstance(med, dict) or not str(med.get("name") or "").split():
            continue
        key = str(med["name"]).split()[0].casefold()
        if med.get("status") in {"stopped", "not_taking"} or key in seen:
            continue
        seen.add(key)
        dose = " ".join(str(med.get(k) or "") for k in ("dose", "frequency")).strip()
        medications.append(f"{med['name'].strip()} {dose}".strip())

    chart_ids = _chart_identifiers(patient)
    said = identifiers_from_text(text for source in PATIENT_TEXT_SOURCES for text in source(patient.pk))
    insurance = data.get("insurance") or {}
    insurer_ids = [str(c.get("member_id") or "") for c in coverage]
    if isinstance(insurance, dict) and insurance.get("member_id"):
        insurer_ids.append(str(insurance["member_id"]))
    social = data.get("social_history") or {}
    occupation = str(social.get("occupation") or "") if isinstance(social, dict) else ""
    names = [patient.given_name, patient.family_name, str(data.get("patient_name") or "")]
    identity = PatientIdentifiers(
        given_name=" ".join(n for n in names[::2] if n),
        family_name=names[1],
        birth_date=patient.birth_date,
        mrn=patient.mrn or "",
        phones=[p for p in [patient.phone, *chart_ids["phones"], *said["phones"]] if p],
        emails=[e for e in [patient.email, *chart_ids["emails"], *said["emails"]] if e],
        addresses=[*chart_ids["addresses"], *said["addresses"]],
        insurer_ids=[i for i in insurer_ids if i],
        other_names=[*chart_ids["names"], *said["names"]],
        employers=[*said["employers"], *_employer_of(occupation)],
        other_ids=[i for i in chart_ids["ids"] if i != patient.mrn],
    )
    return ResearchContext(
        age_band=age_band(patient.birth_date, today or timezone.localdate()),
        sex=patient.get_sex_display().lower(),
        problems=[p for p in problems if p],
        medications=medications,
        identifiers=identity,
    )


def _employer_of(occupation: str) -> list[str]:
    # "electrician at Acme Wiring": the part after "at"/"for" names the employer.
    match = re.search(r"\b(?:at|for|with)\s+(.+)$", occupation, re.IGNORECASE)
    return [match.group(1)] if match else []


def research_question_prefill(*, summary_or_patient: PatientSummary | Patient, actor: Any) -> str:
    """The question shown in the request form: chief complaint, coded problems, medications."""
    patient, summary = _split(summary_or_patient)
    ctx = research_context_build(patient=patient, summary=summary, actor=actor)
    names = [p.split(" (SNOMED")[0] for p in ctx.problems]
    return research_question_default(problems=names, medications=ctx.medications)


def _audit(*, actor: Any, patient: Patient, action: str, job_id: int | None, detail: dict[str, Any]) -> None:
    user = actor if getattr(actor, "pk", None) else None
    AuditEvent.objects.create(
        actor=user,
        actor_label="" if user else "worker",
        patient=patient,
        action=action,
        object_type="ResearchJob",
        object_id=str(job_id or ""),
        detail=detail,
    )


def research_job_request(*, summary_or_patient: PatientSummary | Patient, question: str, actor: Any) -> ResearchJob:
    """Build and check the prompt; create the job and enqueue its start once committed.

    Raises ResearchRefusedError (nothing saved to the job table, nothing sent) when the question is
    empty or the prompt would carry one of the patient's identifiers."""
    patient, summary = _split(summary_or_patient)
    question = " ".join((question or "").split())
    if not question:
        raise ResearchRefusedError("Enter a research question.")
    if len(question) > _QUESTION_MAX:
        raise ResearchRefusedError(f"Keep the question under {_QUESTION_MAX} characters.")
    ctx = research_context_build(patient=patient, summary=summary, actor=actor)
    prompt = research_prompt_build(
        age_band=ctx.age_band,
        sex=ctx.sex,
        problems=ctx.problems,
        medications=ctx.medications,
        question=question,
    )
    hits = phi_check(prompt, ctx.identifiers, vetted=[*ctx.problems, *ctx.medications])
    if hits:
        # Record that a refusal happened and which kinds matched: no values, no question text.
        _audit(actor=actor, patient=patient, action="research.refused", job_id=None, detail={"kinds": hits})
        raise ResearchRefusedError(phi_refusal_message(hits))

    from agents import tasks  # tasks import this module; the import is deferred to break the cycle

    with transaction.atomic():
        job = ResearchJob.objects.create(
            patient=patient,
            summary=summary,
            question=question,
            prompt=prompt,
            requested_by=actor if getattr(actor, "pk", None) else None,
        )
        _audit(actor=actor, patient=patient, action="research.requested", job_id=job.pk, detail={})
        tasks.research_job_start.delay_on_commit(job.pk)
    logger.info("research job %s requested", job.pk)
    return job


# --- Start --------------------------------------------------------------------------------------


def _poll_countdown(poll_count: int) -> float:
    """5 s, 7.5 s, 11 s ... capped at 60 s (both ends from settings)."""
    initial = settings.RESEARCH_POLL_INITIAL_SECONDS
    return float(min(settings.RESEARCH_POLL_MAX_SECONDS, initial * (1.5 ** max(0, poll_count))))


def _lease_after(countdown: float) -> Any:
    # The next poll is due at now + countdown. Half of it is the window in which another poll
    # arriving is a duplicate; the real one always arrives after (ETA is never early).
    return timezone.now() + timedelta(seconds=countdown / 2)


def _fail(job_id: int, *, error: str, statuses: tuple[str, ...] = ACTIVE) -> bool:
    done = ResearchJob.objects.filter(pk=job_id, status__in=statuses).update(
        status=Status.FAILED, error=error[:_ERROR_MAX], finished_at=timezone.now(), next_poll_at=None
    )
    if done:
        logger.info("research job %s failed", job_id)
    return bool(done)


def _enqueue_poll(job_id: int, countdown: float) -> None:
    from agents import tasks

    tasks.research_job_poll.apply_async((job_id,), countdown=countdown)


def research_job_start(*, job_id: int) -> float | None:
    """Claim a queued job and create its background interaction.

    Returns a countdown when a transient error means the start should be tried again later, else
    None. A redelivered or duplicated start finds the job no longer QUEUED and does nothing."""
    now = timezone.now()
    deadline = now + timedelta(minutes=settings.RESEARCH_DEADLINE_MINUTES)
    claimed = ResearchJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.STARTING, started_at=now, deadline_at=deadline, next_poll_at=None
    )
    if not claimed:
        logger.info("research job %s: start skipped (already claimed or gone)", job_id)
        return None
    job = ResearchJob.objects.get(pk=job_id)
    try:
        result = client.interaction_create(
            agent=settings.GEMINI_RESEARCH_AGENT, input=job.prompt, background=True, store=True
        )
    except client.LlmError as exc:
        if exc.permanent or timezone.now() - job.created_at > timedelta(minutes=settings.RESEARCH_DEADLINE_MINUTES):
            _fail(job_id, error=f"The research could not be started: {exc}", statuses=(Status.STARTING,))
            return None
        # Hand the job back so the retry (or the reconciler) can claim it again.
        ResearchJob.objects.filter(pk=job_id, status=Status.STARTING, remote_interaction_id="").update(
            status=Status.QUEUED
        )
        logger.warning("research job %s: start failed transiently, will retry", job_id)
        return settings.RESEARCH_POLL_INITIAL_SECONDS * 2
    # Store the remote id at once: from here on a crash loses nothing, the poll can pick it up.
    countdown = _poll_countdown(0)
    moved = ResearchJob.objects.filter(pk=job_id, status=Status.STARTING).update(
        status=Status.RUNNING,
        remote_interaction_id=result.id,
        usage={"research": result.usage.as_dict()},
        next_poll_at=_lease_after(countdown),
    )
    if not moved:
        # Cancelled while the create call was in flight: keep the id and stop the remote run too.
        ResearchJob.objects.filter(pk=job_id, remote_interaction_id="").update(remote_interaction_id=result.id)
        _remote_cancel(job_id, result.id)
        return None
    logger.info("research job %s started", job_id)
    if result.status in _REMOTE_FAILED:
        _fail(job_id, error=f"The research agent refused the request: {result.error or result.status}")
        return None
    _enqueue_poll(job_id, countdown)
    return None


# --- Poll ---------------------------------------------------------------------------------------


def _remote_cancel(job_id: int, interaction_id: str) -> None:
    try:
        client.interaction_cancel(interaction_id)
    except client.LlmError as exc:
        # Best effort: the local state is already final; a finished remote run rejects a cancel.
        logger.warning("research job %s: remote cancel failed (%s)", job_id, exc)


def _claim_poll(job_id: int) -> ResearchJob | None:
    now = timezone.now()
    lease = now + timedelta(seconds=settings.RESEARCH_CALL_LEASE_SECONDS)
    claimed = (
        ResearchJob.objects.filter(pk=job_id, status__in=(Status.RUNNING, Status.SUMMARIZING))
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .update(next_poll_at=lease, poll_count=F("poll_count") + 1)
    )
    return ResearchJob.objects.get(pk=job_id) if claimed else None


def _reschedule(job: ResearchJob, status: str) -> float | None:
    countdown = _poll_countdown(job.poll_count)
    moved = ResearchJob.objects.filter(pk=job.pk, status=status).update(next_poll_at=_lease_after(countdown))
    return countdown if moved else None


def research_job_poll(*, job_id: int) -> float | None:
    """Look at the remote interaction once. Returns the next countdown, or None when done.

    Never waits: a running job is re-queued by the caller with the returned countdown."""
    job = _claim_poll(job_id)
    if job is None:
        logger.info("research job %s: poll skipped (duplicate, finished or not started)", job_id)
        return None
    if job.status == Status.SUMMARIZING:
        return _brief_write(job)
    if job.deadline_at and timezone.now() >= job.deadline_at:
        minutes = settings.RESEARCH_DEADLINE_MINUTES
        timed_out = ResearchJob.objects.filter(pk=job_id, status=Status.RUNNING).update(
            status=Status.TIMED_OUT,
            error=f"No result within {minutes} minutes; the research was cancelled.",
            finished_at=timezone.now(),
            next_poll_at=None,
        )
        if timed_out:
            logger.info("research job %s timed out", job_id)
            _remote_cancel(job_id, job.remote_interaction_id)
        return None
    try:
        result = client.interaction_get(job.remote_interaction_id)
    except client.LlmError as exc:
        if exc.permanent:
            _fail(job_id, error=f"The research run was lost: {exc}", statuses=(Status.RUNNING,))
            return None
        return _reschedule(job, Status.RUNNING)
    if result.status == _REMOTE_DONE:
        usage = dict(job.usage or {})
        usage["research"] = result.usage.as_dict()
        moved = ResearchJob.objects.filter(pk=job_id, status=Status.RUNNING).update(
            status=Status.SUMMARIZING,
            report=result.text,
            sources=markdown_sources(result.text),
            usage=usage,
        )
        if not moved:
            return None
        job.refresh_from_db()
        return _brief_write(job)
    if result.status in _REMOTE_FAILED:
        _fail(
            job_id,
            error=f"The research agent stopped: {result.error or result.status}",
            statuses=(Status.RUNNING,),
        )
        return None
    if result.status in _REMOTE_CANCELLED:
        ResearchJob.objects.filter(pk=job_id, status=Status.RUNNING).update(
            status=Status.CANCELLED,
            error="The research run was cancelled remotely.",
            finished_at=timezone.now(),
            next_poll_at=None,
        )
        return None
    return _reschedule(job, Status.RUNNING)


def _brief_write(job: ResearchJob) -> float | None:
    """The models-and-agents chain: a model call continuing the research interaction."""
    try:
        result = client.interaction_create(
            model=settings.GEMINI_MODEL,
            previous_interaction_id=job.remote_interaction_id,
            input=BRIEF_INSTRUCTION,
            store=settings.INTERACTIONS_STORE,
        )
    except client.LlmError as exc:
        past_deadline = job.deadline_at is not None and timezone.now() >= job.deadline_at
        if not exc.permanent and not past_deadline:
            return _reschedule(job, Status.SUMMARIZING)
        result = None
        error = f"The report is ready but the brief could not be written: {exc}"
    else:
        error = "" if result.status == _REMOTE_DONE and result.text.strip() else "The brief came back empty."
    usage = dict(job.usage or {})
    if result is not None:
        usage["brief"] = result.usage.as_dict()
    done = ResearchJob.objects.filter(pk=job.pk, status=Status.SUMMARIZING).update(
        status=Status.COMPLETED,
        brief=result.text if result is not None else "",
        brief_interaction_id=result.id if result is not None else "",
        usage=usage,
        error=error[:_ERROR_MAX],
        finished_at=timezone.now(),
        next_poll_at=None,
    )
    if done:
        logger.info("research job %s completed", job.pk)
    return None


# --- Cancel and reconcile -----------------------------------------------------------------------


def research_job_cancel(*, job_id: int, actor: Any) -> ResearchJob:
    """Staff stop a job. Raises ResearchJobStateError if it already finished."""
    cancelled = ResearchJob.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=Status.CANCELLED, error="Cancelled by staff.", finished_at=timezone.now(), next_poll_at=None
    )
    job = ResearchJob.objects.get(pk=job_id)
    if not cancelled:
        raise ResearchJobStateError(f"This job is already {job.get_status_display().lower()}.")
    _audit(actor=actor, patient=job.patient, action="research.cancelled", job_id=job.pk, detail={})
    if job.remote_interaction_id:
        _remote_cancel(job.pk, job.remote_interaction_id)
    logger.info("research job %s cancelled", job.pk)
    return job


def research_jobs_reconcile() -> dict[str, int]:
    """Re-queue jobs whose next step is overdue, so a lost message cannot strand a job.

    Every re-queued task claims by compare-and-set, so re-queuing a job that was only slow is
    harmless: the copy that loses the claim does nothing."""
    from agents import tasks

    now = timezone.now()
    stale = now - timedelta(seconds=settings.RESEARCH_STALE_SECONDS)
    counts = {"start": 0, "restart": 0, "poll": 0}
    for job_id in ResearchJob.objects.filter(status=Status.QUEUED, created_at__lt=stale).values_list("pk", flat=True):
        tasks.research_job_start.delay(job_id)
        counts["start"] += 1
    # Claimed but no remote id for too long: the worker died around the create call. Starting again
    # may create a second remote run if it died after Gemini answered; that window is milliseconds.
    lost = now - timedelta(seconds=settings.RESEARCH_START_GRACE_SECONDS)
    for job_id in ResearchJob.objects.filter(
        status=Status.STARTING, remote_interaction_id="", started_at__lt=lost
    ).values_list("pk", flat=True):
        if ResearchJob.objects.filter(pk=job_id, status=Status.STARTING, remote_interaction_id="").update(
            status=Status.QUEUED
        ):
            tasks.research_job_start.delay(job_id)
            counts["restart"] += 1
    overdue = ResearchJob.objects.filter(status__in=(Status.RUNNING, Status.SUMMARIZING)).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lt=stale)
    )
    for job_id in overdue.values_list("pk", flat=True):
        tasks.research_job_poll.delay(job_id)
        counts["poll"] += 1
    if any(counts.values()):
        logger.info("research reconcile re-queued %s", counts)
    return counts


# --- Reading ------------------------------------------------------------------------------------


def research_job_progress(job: ResearchJob, *, now: Any = None) -> int:
    """A percentage for the progress bar: by state, and by elapsed time while the agent runs."""
    if job.is_terminal:
        return 100
    if job.status == Status.SUMMARIZING:
        return 95
    if job.status != Status.RUNNING or not job.started_at:
        return 5
    elapsed = ((now or timezone.now()) - job.started_at).total_seconds()
    return int(10 + min(80, 80 * elapsed / max(1, settings.RESEARCH_EXPECTED_SECONDS)))


def research_job_elapsed_seconds(job: ResearchJob, *, now: Any = None) -> int:
    end = job.finished_at or now or timezone.now()
    return max(0, int((end - job.created_at).total_seconds()))


@dataclass(frozen=True)
class ResearchJobView:
    """A job as the pages show it: Markdown already rendered and sanitised."""

    job: ResearchJob
    progress: int
    elapsed_seconds: int
    report_html: str
    brief_html: str
    sources: list[dict[str, str]]

    @property
    def elapsed_display(self) -> str:
        minutes, seconds = divmod(self.elapsed_seconds, 60)
        return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"

    @property
    def cancellable(self) -> bool:
        return self.job.status in ACTIVE


def research_job_view(job: ResearchJob) -> ResearchJobView:
    return ResearchJobView(
        job=job,
        progress=research_job_progress(job),
        elapsed_seconds=research_job_elapsed_seconds(job),
        report_html=markdown_to_html(job.report) if job.report else "",
        brief_html=markdown_to_html(job.brief) if job.brief else "",
        # Only http(s) links are ever stored, but check again: these become href attributes.
        sources=[s for s in job.sources or [] if str(s.get("url", "")).startswith(("https://", "http://"))],
    )


def research_jobs_for_patient(*, patient: Patient, limit: int = 10) -> list[ResearchJobView]:
    """For the patient page: the latest jobs, newest first."""
    return [research_job_view(job) for job in patient.research_jobs.order_by("-created_at")[:limit]]
