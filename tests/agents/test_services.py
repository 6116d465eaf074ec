"""Service tests with the SDK boundary (agents.client) replaced by a scripted fake. No worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from agents import client, services
from agents.client import InteractionResult, LlmError, Usage
from agents.models import ResearchJob
from patients.models import AuditEvent, Patient, PatientSummary

Status = ResearchJob.Status
REPORT = "## Report\n\nNSAIDs blunt ACE inhibitors [KDIGO](https://kdigo.org/ckd).\n"


@dataclass
class FakeGemini:
    """Scripted replies for create/get/cancel, and a record of every call."""

    get_statuses: list[str] = field(default_factory=lambda: ["in_progress", "completed"])
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_create: LlmError | None = None
    fail_brief: LlmError | None = None

    def create(self, **kwargs: Any) -> InteractionResult:
        self.calls.append(("create", kwargs))
        if "agent" in kwargs:
            if self.fail_create:
                raise self.fail_create
            return InteractionResult(id="research-1", status="in_progress", usage=Usage(input_tokens=50))
        if self.fail_brief:
            raise self.fail_brief
        return InteractionResult(
            id="brief-1", status="completed", text="- one\n- two", usage=Usage(input_tokens=7, output_tokens=9)
        )

    def get(self, interaction_id: str) -> InteractionResult:
        self.calls.append(("get", {"id": interaction_id}))
        status = self.get_statuses.pop(0) if len(self.get_statuses) > 1 else self.get_statuses[0]
        text = REPORT if status == "completed" else ""
        return InteractionResult(id=interaction_id, status=status, text=text, usage=Usage(output_tokens=400))

    def cancel(self, interaction_id: str) -> InteractionResult:
        self.calls.append(("cancel", {"id": interaction_id}))
        return InteractionResult(id=interaction_id, status="cancelled")

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


@pytest.fixture
def fake(monkeypatch) -> FakeGemini:
    fake = FakeGemini()
    monkeypatch.setattr(client, "interaction_create", fake.create)
    monkeypatch.setattr(client, "interaction_get", fake.get)
    monkeypatch.setattr(client, "interaction_cancel", fake.cancel)
    return fake


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[str, int, float | None]]:
    """Tasks the services would have sent to the broker."""
    from agents import tasks

    sent: list[tuple[str, int, float | None]] = []
    monkeypatch.setattr(tasks.research_job_start, "delay", lambda job_id: sent.append(("start", job_id, None)))
    monkeypatch.setattr(
        tasks.research_job_start, "delay_on_commit", lambda job_id: sent.append(("start", job_id, None))
    )
    monkeypatch.setattr(tasks.research_job_poll, "delay", lambda job_id: sent.append(("poll", job_id, None)))
    monkeypatch.setattr(
        tasks.research_job_poll,
        "apply_async",
        lambda args, countdown=None: sent.append(("poll", args[0], countdown)),
    )
    return sent


@pytest.fixture
def summary(db) -> PatientSummary:
    patient = Patient.objects.create(
        given_name="Marisol",
        family_name="Quintana",
        birth_date=date(1958, 3, 7),
        sex=Patient.Sex.FEMALE,
        mrn="MRN-0048213",
        phone="617-555-0142",
        email="mq@example.org",
    )
    return PatientSummary.objects.create(
        patient=patient,
        data={
            "patient_name": "Marisol Quintana",
            "chief_complaint": "chest tightness when climbing stairs",
            "insurance": {"payer": "Acme", "member_id": "XQH8821304"},
            "medications": [
                {"name": "lisinopril", "dose": "10 mg", "frequency": "daily", "status": "confirmed"},
                {"name": "ibuprofen", "dose": "400 mg", "frequency": "as needed", "status": "new"},
                {"name": "atenolol", "dose": "", "frequency": "", "status": "stopped"},
            ],
        },
        chart_snapshot={
            "problems": [
                {"name": "Essential hypertension", "code": "59621000", "onset": "2010", "status": "active"},
                {"name": "Uncoded worry", "code": "", "onset": "", "status": "active"},
            ]
        },
    )


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("nurse", password="x", is_staff=True)


def _request(summary, staff, question="Interactions between lisinopril and ibuprofen?") -> ResearchJob:
    return services.research_job_request(summary_or_patient=summary, question=question, actor=staff)


def test_request_builds_deidentified_prompt_and_enqueues_start(summary, staff, fake, enqueued):
    job = _request(summary, staff)
    assert job.status == Status.QUEUED
    assert "age band 60-69" in job.prompt and "sex female" in job.prompt
    assert "Essential hypertension (SNOMED CT 59621000)" in job.prompt
    assert "Uncoded worry" not in job.prompt  # coded problems only
    assert "lisinopril 10 mg daily" in job.prompt and "atenolol" not in job.prompt
    assert "Marisol" not in job.prompt and "0048213" not in job.prompt
    assert enqueued == [("start", job.pk, None)]
    assert fake.calls == []  # nothing leaves the clinic until the worker starts it
    assert AuditEvent.objects.filter(action="research.requested", object_id=str(job.pk)).exists()


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Guidance for Marisol Quintana?", "name"),
        ("Guidance for quintana, chest pain", "name"),
        ("Patient MRN 0048213: guidance?", "MRN"),
        ("born 03/07/1958, chest pain", "date of birth"),
        ("call back 617 555 0142", "phone number"),
        ("insurer id xqh-88213-04", "insurer id"),
    ],
)
def test_request_with_identifiers_is_refused_and_nothing_is_saved_or_sent(
    summary, staff, fake, enqueued, question, kind
):
    with pytest.raises(services.ResearchRefusedError, match=kind) as refused:
        _request(summary, staff, question=question)
    assert "Nothing was sent" in str(refused.value)
    assert ResearchJob.objects.count() == 0
    assert enqueued == [] and fake.calls == []
    event = AuditEvent.objects.get(action="research.refused")
    assert kind in event.detail["kinds"]
    assert "Marisol" not in str(event.detail) and question not in str(event.detail)


def test_empty_question_is_refused(summary, staff, enqueued):
    with pytest.raises(services.ResearchRefusedError, match="Enter a research question"):
        _request(summary, staff, question="   ")


def test_prefilled_question_comes_from_coded_problems_and_medications_never_the_patients_words(summary, staff):
    question = services.research_question_prefill(summary_or_patient=summary, actor=staff)
    assert "chest tightness" not in question, "the chief complaint is the patient's own words"
    assert "Essential hypertension" in question
    assert "lisinopril" in question and "ibuprofen" in question


def test_research_context_has_only_the_summarys_current_medications_each_once(summary, staff):
    # The chart still lists atenolol (stopped per the summary) and lisinopril under its chart name.
    summary.chart_snapshot["medications"] = [
        {"name": "atenolol 50 MG Oral Tablet", "dose": "", "frequency": "", "status": "active"},
        {"name": "lisinopril 10 MG Oral Tablet", "dose": "", "frequency": "1 time(s) per 1 d", "status": "active"},
    ]
    summary.data["medications"].append({"name": "Lisinopril", "dose": "", "frequency": "", "status": "confirmed"})
    summary.save()

    ctx = services.research_context_build(patient=summary.patient, summary=summary, actor=staff)

    assert ctx.medications == ["lisinopril 10 mg daily", "ibuprofen 400 mg as needed"]


def test_start_claims_once_stores_remote_id_and_schedules_poll(summary, staff, fake, enqueued):
    job = _request(summary, staff)
    assert services.research_job_start(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == Status.RUNNING
    assert job.remote_interaction_id == "research-1"
    assert job.deadline_at - job.started_at == timedelta(minutes=65)
    (kind, body) = fake.calls[0]
    assert kind == "create" and body["background"] is True and body["agent"]
    assert body["input"] == job.prompt
    assert enqueued[-1][:2] == ("poll", job.pk) and enqueued[-1][2] > 0
    # A redelivered start finds the job claimed and does nothing.
    assert services.research_job_start(job_id=job.pk) is None
    assert fake.kinds() == ["create"]


def test_poll_backs_off_then_completes_with_chained_brief(summary, staff, fake, enqueued, settings):
    settings.RESEARCH_POLL_INITIAL_SECONDS = 5
    settings.RESEARCH_POLL_MAX_SECONDS = 60
    fake.get_statuses = ["in_progress"] * 8 + ["completed"]
    job = _request(summary, staff)
    services.research_job_start(job_id=job.pk)
    countdowns = []
    for _ in range(20):
        ResearchJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())  # as if the ETA came
        countdown = services.research_job_poll(job_id=job.pk)
        if countdown is None:
            break
        countdowns.append(countdown)
    assert countdowns[0] == 7.5 and countdowns == sorted(countdowns) and max(countdowns) == 60
    job.refresh_from_db()
    assert job.status == Status.COMPLETED
    assert job.report == REPORT and job.brief == "- one\n- two"
    assert job.sources == [{"title": "KDIGO", "url": "https://kdigo.org/ckd"}]
    assert job.brief_interaction_id == "brief-1"
    assert set(job.usage) == {"research", "brief"}
    assert job.usage["brief"]["output_tokens"] == 9
    brief_call = fake.calls[-1]
    assert brief_call[0] == "create" and brief_call[1]["previous_interaction_id"] == "research-1"
    assert "model" in brief_call[1] and "agent" not in brief_call[1]


def test_duplicate_poll_inside_the_lease_does_nothing(summary, staff, fake, enqueued):
    job = _request(summary, staff)
    services.research_job_start(job_id=job.pk)
    # The first poll is not due yet: a duplicate arriving now stops without calling Gemini.
    assert services.research_job_poll(job_id=job.pk) is None
    assert fake.kinds() == ["create"]


def test_poll_past_deadline_cancels_remotely_and_times_out(summary, staff, fake, enqueued):
    job = _request(summary, staff)
    services.research_job_start(job_id=job.pk)
    past = timezone.now() - timedelta(seconds=1)
    ResearchJob.objects.filter(pk=job.pk).update(deadline_at=past, next_poll_at=past)
    assert services.research_job_poll(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == Status.TIMED_OUT and "65 minutes" in job.error
    assert fake.kinds() == ["create", "cancel"]


def test_remote_failure_is_stored_with_reason(summary, staff, fake, enqueued):
    fake.get_statuses = ["failed"]
    job = _request(summary, staff)
    services.research_job_start(job_id=job.pk)
    ResearchJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    assert services.research_job_poll(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == Status.FAILED and "failed" in job.error


def test_permanent_create_error_fails_the_job_transient_one_hands_it_back(summary, staff, fake, enqueued):
    job = _request(summary, staff)
    fake.fail_create = LlmError("Gemini returned HTTP 503", permanent=False, status_code=503)
    assert services.research_job_start(job_id=job.pk) > 0
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    fake.fail_create = LlmError("Gemini returned HTTP 400", permanent=True, status_code=400)
    assert services.research_job_start(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == Status.FAILED and "400" in job.error


def test_brief_failure_keeps_the_report(summary, staff, fake, enqueued):
    fake.get_statuses = ["completed"]
    fake.fail_brief = LlmError("Gemini returned HTTP 400", permanent=True, status_code=400)
    job = _request(summary, staff)
    services.research_job_start(job_id=job.pk)
    ResearchJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    services.research_job_poll(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.COMPLETED and job.report == REPORT and job.brief == ""
    assert "brief could not be written" in job.error


def test_staff_cancel_calls_remote_cancel_and_later_polls_do_nothing(summary, staff, fake, enqueued):
    job = _request(summary, staff)
    services.research_job_start(job_id=job.pk)
    services.research_job_cancel(job_id=job.pk, actor=staff)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert fake.kinds() == ["create", "cancel"]
    ResearchJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    assert services.research_job_poll(job_id=job.pk) is None
    assert fake.kinds() == ["create", "cancel"]
    with pytest.raises(services.ResearchJobStateError):
        services.research_job_cancel(job_id=job.pk, actor=staff)


def test_cancel_during_start_cancels_the_new_remote_run(summary, staff, fake, enqueued, monkeypatch):
    job = _request(summary, staff)
    real_create = fake.create

    def create_then_staff_cancels(**kwargs):
        result = real_create(**kwargs)
        services.research_job_cancel(job_id=job.pk, actor=staff)
        return result

    monkeypatch.setattr(client, "interaction_create", create_then_staff_cancels)
    services.research_job_start(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and job.remote_interaction_id == "research-1"
    assert fake.kinds() == ["create", "cancel"]
    assert not [e for e in enqueued if e[0] == "poll"]


def test_reconcile_requeues_stranded_jobs_only(summary, staff, fake, enqueued, settings):
    settings.RESEARCH_STALE_SECONDS = 60
    settings.RESEARCH_START_GRACE_SECONDS = 300
    old = timezone.now() - timedelta(minutes=10)
    fresh = _request(summary, staff)
    queued = _request(summary, staff)
    ResearchJob.objects.filter(pk=queued.pk).update(created_at=old)
    starting = _request(summary, staff)
    ResearchJob.objects.filter(pk=starting.pk).update(status=Status.STARTING, started_at=old)
    running = _request(summary, staff)
    ResearchJob.objects.filter(pk=running.pk).update(status=Status.RUNNING, remote_interaction_id="r", next_poll_at=old)
    healthy = _request(summary, staff)
    ResearchJob.objects.filter(pk=healthy.pk).update(
        status=Status.RUNNING, remote_interaction_id="h", next_poll_at=timezone.now() + timedelta(seconds=5)
    )
    enqueued.clear()
    counts = services.research_jobs_reconcile()
    assert counts == {"start": 1, "restart": 1, "poll": 1}
    assert sorted(enqueued) == sorted(
        [("start", queued.pk, None), ("start", starting.pk, None), ("poll", running.pk, None)]
    )
    assert ResearchJob.objects.get(pk=starting.pk).status == Status.QUEUED
    assert fresh.pk not in [e[1] for e in enqueued]


def test_chart_identifiers_address_phone_and_member_id_are_checked(summary, staff, fake, enqueued):
    from patients.models import FhirResource

    patient = summary.patient
    patient.fhir_patient_id = "pat-1"
    patient.save()
    FhirResource.objects.create(
        resource_type="Patient",
        resource_id="pat-1",
        patient_ref="pat-1",
        data={
            "resourceType": "Patient",
            "id": "pat-1",
            "telecom": [{"system": "phone", "value": "555-867-5309"}],
            "address": [{"line": ["17 Larkspur Lane"], "city": "Eastbridge", "postalCode": "02139"}],
        },
    )
    FhirResource.objects.create(
        resource_type="Coverage",
        resource_id="cov-1",
        patient_ref="pat-1",
        data={"resourceType": "Coverage", "id": "cov-1", "status": "active", "subscriberId": "ZZP-44120-9"},
    )
    for question, kind in [
        ("lives at 17 larkspur lane", "address"),
        ("call 555 867 5309", "phone number"),
        ("member ZZP4412O9 zzp-44120-9", "insurer id"),
    ]:
        with pytest.raises(services.ResearchRefusedError, match=kind):
            _request(summary, staff, question=question)
    assert ResearchJob.objects.count() == 0
