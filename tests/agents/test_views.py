"""Staff endpoints: request (with refusal), status partial/JSON, cancel, admin list."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from agents import services
from agents.models import ResearchJob
from patients.models import Patient, PatientSummary
from tests.roles import grant_roles

pytestmark = pytest.mark.django_db

Status = ResearchJob.Status


@pytest.fixture
def patient() -> Patient:
    return Patient.objects.create(
        given_name="Idris", family_name="Okonkwo", birth_date=date(1971, 9, 2), sex="male", mrn="A77123"
    )


@pytest.fixture
def summary(patient) -> PatientSummary:
    return PatientSummary.objects.create(patient=patient, data={"chief_complaint": "palpitations"})


@pytest.fixture
def staff_client(client):
    user = grant_roles(get_user_model().objects.create_user("staff", password="pw", is_staff=True))
    client.force_login(user)
    return client


@pytest.fixture
def no_broker(monkeypatch):
    from agents import tasks

    monkeypatch.setattr(tasks.research_job_start, "delay_on_commit", lambda job_id: None)


def test_anonymous_users_are_sent_to_login_and_non_staff_refused(client, summary):
    url = reverse("research:request-summary", args=[summary.pk])
    assert client.get(url).status_code == 302
    user = get_user_model().objects.create_user("patient", password="pw")
    client.force_login(user)
    assert client.get(url).status_code == 403  # like every staff page: signed in, but not allowed


def test_request_form_is_not_prefilled_with_the_patients_words(staff_client, summary):
    response = staff_client.get(reverse("research:request-summary", args=[summary.pk]))
    assert response.status_code == 200
    assert "palpitations" not in response.content.decode()


def test_request_creates_job_and_redirects(staff_client, summary, no_broker):
    response = staff_client.post(
        reverse("research:request-summary", args=[summary.pk]), {"question": "Palpitations work-up guidance?"}
    )
    job = ResearchJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("research:detail", args=[job.pk])
    assert job.summary == summary and job.status == Status.QUEUED


def test_request_with_name_is_refused_with_a_clear_message(staff_client, summary, no_broker):
    response = staff_client.post(
        reverse("research:request-summary", args=[summary.pk]), {"question": "Palpitations in Mr Okonkwo"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "contains the patient&#x27;s name" in body and "Nothing was sent" in body
    assert ResearchJob.objects.count() == 0


def test_next_must_be_local(staff_client, summary, no_broker):
    response = staff_client.post(
        reverse("research:request-summary", args=[summary.pk]),
        {"question": "Palpitations work-up guidance?", "next": "https://evil.example/"},
    )
    assert response["Location"].startswith("/staff/research/")


def test_status_partial_renders_sanitised_report_and_sources(staff_client, patient):
    job = ResearchJob.objects.create(
        patient=patient,
        question="q",
        status=Status.COMPLETED,
        report="# R\n<script>x()</script>[src](https://example.org/a)",
        brief="- **one** [s](https://example.org/a)",
        sources=[{"title": "src", "url": "https://example.org/a"}, {"title": "bad", "url": "javascript:x"}],
    )
    response = staff_client.get(reverse("research:status", args=[job.pk]))
    body = response.content.decode()
    assert response.status_code == 200 and "no-cache" in response["Cache-Control"]
    assert "<strong>one</strong>" in body and "<script" not in body
    assert 'href="https://example.org/a" rel="noopener noreferrer"' in body
    assert "javascript:" not in body
    assert "data-research-terminal" in body
    data = staff_client.get(reverse("research:status", args=[job.pk]), {"format": "json"}).json()
    assert data["status"] == "completed" and data["terminal"] is True and data["progress"] == 100


def test_running_job_partial_shows_progress(staff_client, patient):
    job = ResearchJob.objects.create(patient=patient, question="q", status=Status.QUEUED)
    body = staff_client.get(reverse("research:status", args=[job.pk])).content.decode()
    assert "<progress" in body and "data-research-terminal" not in body
    page = staff_client.get(reverse("research:detail", args=[job.pk])).content.decode()
    assert "js/research.js" in page and "<script>" not in page  # no inline script
    assert 'data-research-status-url="/staff/research/' in page


def test_cancel_post(staff_client, patient, monkeypatch):
    calls = []
    monkeypatch.setattr(services.client, "interaction_cancel", lambda iid: calls.append(iid))
    job = ResearchJob.objects.create(patient=patient, question="q", status=Status.RUNNING, remote_interaction_id="r-9")
    assert staff_client.get(reverse("research:cancel", args=[job.pk])).status_code == 405
    response = staff_client.post(reverse("research:cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and calls == ["r-9"]


def test_admin_lists_jobs_with_live_status(client, patient):
    admin = get_user_model().objects.create_superuser("admin", password="pw")
    client.force_login(admin)
    ResearchJob.objects.create(patient=patient, question="q", status=Status.RUNNING)
    done = ResearchJob.objects.create(patient=patient, question="q", status=Status.COMPLETED, brief="- ok")
    body = client.get(reverse("admin:agents_researchjob_changelist")).content.decode()
    assert "data-research-status-url" in body and "js/research.js" in body
    detail = client.get(reverse("admin:agents_researchjob_change", args=[done.pk])).content.decode()
    assert "<li>ok</li>" in detail


def test_patient_page_shows_research_jobs_with_brief_and_sources(staff_client, patient):
    ResearchJob.objects.create(
        patient=patient,
        question="Palpitations guidance?",
        status=Status.COMPLETED,
        brief="- **Check TSH** [ATA](https://example.org/ata)",
        sources=[{"title": "ATA", "url": "https://example.org/ata"}],
    )
    running = ResearchJob.objects.create(patient=patient, question="Second question?", status=Status.RUNNING)
    response = staff_client.get(reverse("staff:patient", args=[patient.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<strong>Check TSH</strong>" in body
    assert 'href="https://example.org/ata" rel="noopener noreferrer"' in body
    assert reverse("research:status", args=[running.pk]) in body
    assert reverse("research:cancel", args=[running.pk]) in body
    assert "js/research.js" in body
