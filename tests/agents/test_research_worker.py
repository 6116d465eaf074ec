"""Research jobs end to end with real parts: Redis, `celery worker` processes and the emulator.

Never eager mode: the worker is a separate process that talks to the emulator over HTTP and to the
test database through its own connections, as in production.
"""

from __future__ import annotations

import signal
import time
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from agents import services
from agents.models import ResearchJob
from patients.models import Patient, PatientSummary
from tests.agents.conftest import wait_for

Status = ResearchJob.Status
QUESTION = "Interactions between lisinopril and ibuprofen in hypertension?"


def _summary() -> PatientSummary:
    patient = Patient.objects.create(
        given_name="Marisol",
        family_name="Quintana",
        birth_date=date(1958, 3, 7),
        sex=Patient.Sex.FEMALE,
        mrn="MRN-0048213",
    )
    return PatientSummary.objects.create(
        patient=patient,
        data={
            "chief_complaint": "chest tightness",
            "medications": [
                {"name": "lisinopril", "dose": "10 mg", "frequency": "daily", "status": "confirmed"},
                {"name": "ibuprofen", "dose": "400 mg", "frequency": "as needed", "status": "new"},
            ],
        },
    )


def _staff():
    return get_user_model().objects.create_user(f"staff-{time.monotonic_ns()}", password="x", is_staff=True)


def _status(job_id: int) -> str:
    return ResearchJob.objects.values_list("status", flat=True).get(pk=job_id)


@pytest.mark.worker
def test_job_completes_end_to_end(celery_workers, research_emulator):
    worker = celery_workers.start()
    job = services.research_job_request(summary_or_patient=_summary(), question=QUESTION, actor=_staff())
    try:
        wait_for(lambda: _status(job.pk) in ResearchJob.TERMINAL, timeout=60, what="the job to finish")
    except AssertionError:
        print(worker.log_tail())
        raise
    job.refresh_from_db()
    assert job.status == Status.COMPLETED, job.error
    assert job.report.strip() and job.brief.strip()
    assert job.sources and all(s["url"].startswith("http") for s in job.sources)
    assert set(job.usage) == {"research", "brief"}
    assert job.usage["brief"]["total_tokens"] > 0
    assert job.poll_count >= 1 and job.finished_at

    research = research_emulator.creates(agent=True)
    assert len(research) == 1
    assert research[0]["background"] is True and research[0]["input"] == job.prompt
    assert "Marisol" not in str(research[0]) and "0048213" not in str(research[0])
    brief = research_emulator.creates(agent=False)
    assert len(brief) == 1
    assert brief[0]["previous_interaction_id"] == job.remote_interaction_id
    assert brief[0]["model"]


@pytest.mark.worker
def test_worker_killed_mid_job_restarts_and_finishes_once(celery_workers, research_emulator, settings):
    first = celery_workers.start()
    job = services.research_job_request(summary_or_patient=_summary(), question=QUESTION, actor=_staff())
    # Mid-job: the research run exists remotely and the worker holds its next poll.
    wait_for(
        lambda: ResearchJob.objects.filter(pk=job.pk, status=Status.RUNNING, poll_count__gte=1).exists(),
        timeout=30,
        interval=0.05,
        what="the job to be polling",
    )
    first.kill(signal.SIGKILL)
    assert _status(job.pk) == Status.RUNNING

    celery_workers.start()
    # The poll the dead worker held (or was running) is unacknowledged in Redis until the
    # visibility timeout; beat's reconciler notices the job is overdue and re-queues it sooner.
    # Here the test plays beat, once a second.
    settings.RESEARCH_STALE_SECONDS = 1
    wait_for(
        lambda: services.research_jobs_reconcile()["poll"] >= 1,
        timeout=30,
        interval=1.0,
        what="the reconciler to re-queue the overdue poll",
    )
    wait_for(lambda: _status(job.pk) in ResearchJob.TERMINAL, timeout=60, what="the job to finish")
    job.refresh_from_db()
    assert job.status == Status.COMPLETED, job.error
    assert job.brief.strip()
    assert len(research_emulator.creates(agent=True)) == 1  # one research run, never started twice
    assert len(research_emulator.creates(agent=False)) == 1  # one brief
    # Reconciling again changes nothing for a finished job.
    assert services.research_jobs_reconcile() == {"start": 0, "restart": 0, "poll": 0}


@pytest.mark.worker
def test_two_hundred_jobs_finish_on_one_worker_with_concurrency_two(celery_workers, research_emulator, test_broker):
    summary = _summary()
    staff = _staff()
    with transaction.atomic():  # one commit: all 200 starts are sent at once
        ids = [
            services.research_job_request(summary_or_patient=summary, question=QUESTION, actor=staff).pk
            for _ in range(200)
        ]
    worker = celery_workers.start(concurrency=2)
    started = time.monotonic()

    def all_done() -> bool:
        return not ResearchJob.objects.filter(pk__in=ids).exclude(status__in=ResearchJob.TERMINAL).exists()

    try:
        wait_for(all_done, timeout=240, interval=1.0, what="200 jobs to finish")
    except AssertionError:
        from django.db.models import Count

        print(dict(ResearchJob.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("id"))))
        print("messages waiting in the queue:", test_broker.queue_length())
        print(worker.log_tail(120))
        raise
    elapsed = time.monotonic() - started
    statuses = set(ResearchJob.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {Status.COMPLETED}
    assert len(research_emulator.creates(agent=True)) == 200
    # Every research run takes ~1 s remotely; with 2 slots, sleeping polls would need far longer.
    print(f"200 jobs finished in {elapsed:.1f} s")


@pytest.mark.worker
@pytest.mark.parametrize("question", ["Chest pain guidance for Marisol Quintana?", "Records for MRN 0048213?"])
def test_prompt_with_name_or_mrn_is_refused_before_any_request(research_emulator, test_broker, db, question):
    research_emulator.reset()
    before = test_broker.queue_length()
    with pytest.raises(services.ResearchRefusedError, match="Nothing was sent"):
        services.research_job_request(summary_or_patient=_summary(), question=question, actor=_staff())
    assert research_emulator.requests() == []
    assert test_broker.queue_length() == before
    assert ResearchJob.objects.count() == 0
