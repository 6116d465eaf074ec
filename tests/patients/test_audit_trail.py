"""An audit trail a HIPAA assessor would accept: every look at PHI (pages, API, admin, export) and
every sign-in, failed sign-in and sign-out writes a row with who, patient, action, time and the
request id; rows are hash-chained and `audit_verify` finds any change; append-only tables refuse
bulk changes (and, on PostgreSQL, any UPDATE/DELETE at all); nothing clinical can be deleted from
the admin; retention is a command that is audited."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from agents.models import ResearchJob
from intake import services as intake_services
from intake.models import IntakeSession, IntakeTurn
from patients.models import AppendOnlyError, AuditEvent, Patient
from patients.services import summary_approve
from tests.patients.summary_factory import add_transcript, make_summary, reviewer

pytestmark = pytest.mark.django_db
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="triggers exist on PostgreSQL only (CI runs it)")


@pytest.fixture
def admin_client(db: Any) -> tuple[Client, User]:
    user = User.objects.create_superuser("root", password="root-pass-123")
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    summary = make_summary()
    session = add_transcript(summary, [("patient", "I have a cough."), ("model", "Since when?")])
    job = ResearchJob.objects.create(patient=summary.patient, summary=summary, question="q", prompt="p")
    return {"summary": summary, "patient": summary.patient, "session": session, "job": job}


def _rows_for(response: Any) -> list[AuditEvent]:
    rid = response["X-Request-ID"]
    assert rid
    return list(AuditEvent.objects.filter(request_id=rid))


def test_sign_in_failed_sign_in_and_sign_out_are_audited_with_the_request_id() -> None:
    user = User.objects.create_user("desk", password="desk-pass-123", is_staff=True)
    client = Client()
    failed = client.post("/accounts/login/", {"username": "desk", "password": "wrong-password-1"})
    row = _rows_for(failed)
    assert [(r.action, r.actor) for r in row] == [("auth.login_failed", user)]
    assert "wrong-password" not in str(row[0].detail)
    unknown = client.post("/accounts/login/", {"username": "nobody-here", "password": "x"})
    assert [r.actor_label for r in _rows_for(unknown)] == ["unknown-account"]
    assert "nobody-here" not in str(AuditEvent.objects.filter(action="auth.login_failed").values())
    ok = client.post("/accounts/login/", {"username": "desk", "password": "desk-pass-123"})
    assert [(r.action, r.actor) for r in _rows_for(ok)] == [("auth.login", user)]
    out = client.post("/accounts/logout/")
    assert [(r.action, r.actor) for r in _rows_for(out)] == [("auth.logout", user)]


def _staff_token(user: User) -> str:
    from intake.tokens import api_token_issue

    return api_token_issue(username=user.username)


def test_every_view_of_phi_writes_a_row_naming_who_and_which_patient(admin_client, world) -> None:
    client, user = admin_client
    patient, summary, session, job = world["patient"], world["summary"], world["session"], world["job"]
    summary_approve(summary=summary, reviewer=reviewer())
    bearer = {"Authorization": f"Bearer {_staff_token(user)}"}
    one_patient = [
        (f"/staff/patients/{patient.pk}/", {}),
        (f"/staff/research/{job.pk}/", {}),
        (f"/staff/research/{job.pk}/status", {}),
        (f"/staff/research/patients/{patient.pk}/", {}),
        (f"/staff/research/summaries/{summary.pk}/", {}),
        (f"/api/v1/intakes/{session.pk}", bearer),
        (f"/api/v1/summaries/{summary.pk}", bearer),
        (f"/admin/patients/patient/{patient.pk}/change/", {}),
        (f"/admin/patients/patientsummary/{summary.pk}/change/", {}),
        (f"/admin/patients/patientsummary/{summary.pk}/history/", {}),
        (f"/admin/patients/patientsummary/{summary.pk}/fhir/", {}),
        (f"/admin/intake/intakesession/{session.pk}/change/", {}),
        (f"/admin/agents/researchjob/{job.pk}/change/", {}),
    ]
    for path, headers in one_patient:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        views = [r for r in _rows_for(response) if r.action == "phi.view"]
        assert len(views) == 1, path
        assert views[0].actor == user and views[0].patient_id == patient.pk, path
        assert views[0].created_at and views[0].detail["view"], path
    for path, headers in [
        ("/staff/", {}),
        ("/staff/dashboard/rows", {}),
        ("/api/v1/summaries", bearer),
        ("/admin/patients/patient/", {}),
        ("/admin/intake/intakesession/", {}),
    ]:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert [(r.action, r.actor) for r in _rows_for(response)][-1] == ("phi.list", user), path
    # A refused or missing object shows nothing and records no view.
    missing = client.get("/staff/patients/999999/")
    assert missing.status_code == 404 and not [r for r in _rows_for(missing) if r.action == "phi.view"]


def test_the_patients_own_chat_views_are_audited_too(world) -> None:
    patient = world["patient"]
    session, token = intake_services.intake_start(patient=patient)
    browser = Client()
    page = browser.get(f"/i/{token}/", follow=True)
    rows = _rows_for(page)
    assert [(r.action, r.patient_id, r.actor_label) for r in rows] == [
        ("phi.view", patient.pk, f"intake-session:{session.pk}")
    ]


def test_unknown_actions_are_refused_there_is_one_list() -> None:
    with pytest.raises(ValueError, match=r"AuditEvent\.Action"):
        AuditEvent.objects.create(action="something.new")
    assert "auth.login" in AuditEvent.Action.values


def test_bulk_update_and_delete_of_append_only_rows_are_refused(world) -> None:
    AuditEvent.objects.create(action="chart.read", object_type="Patient", object_id="1")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(action="chart.read").update(action="summary.view")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        IntakeTurn.objects.filter(session=world["session"]).update(text="changed")
    with pytest.raises(AppendOnlyError):
        IntakeTurn.objects.filter(session=world["session"]).delete()
    assert IntakeTurn.objects.filter(session=world["session"], text="I have a cough.").exists()


def _verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def _table() -> str:
    return connection.ops.quote_name(AuditEvent._meta.db_table)


def _raw_tamper(sql: str, params: list[Any]) -> None:
    """A person with database access changes history, triggers disabled (PostgreSQL) or absent."""
    with transaction.atomic(), connection.cursor() as cursor:
        if ON_POSTGRES:
            cursor.execute("SET LOCAL session_replication_role = replica")  # disables the triggers
        cursor.execute(sql, params)


def test_audit_verify_detects_a_changed_row(world) -> None:
    for n in range(5):
        AuditEvent.objects.create(action="summary.view", patient=world["patient"], object_id=str(n))
    assert "Audit chain intact" in _verify()
    victim = AuditEvent.objects.order_by("pk")[2]
    _raw_tamper(f"UPDATE {_table()} SET object_id = %s WHERE id = %s", ["999", victim.pk])  # noqa: S608
    with pytest.raises(CommandError, match="BROKEN"):
        _verify()


def test_audit_verify_detects_a_deleted_row(world) -> None:
    for n in range(5):
        AuditEvent.objects.create(action="summary.view", patient=world["patient"], object_id=str(n))
    victim = AuditEvent.objects.order_by("pk")[2]
    _raw_tamper(f"DELETE FROM {_table()} WHERE id = %s", [victim.pk])  # noqa: S608
    err = io.StringIO()
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("audit_verify", stderr=err)
    assert "broken link" in err.getvalue()


@postgres_only
@pytest.mark.parametrize("target", ["audit", "turn", "job"])
def test_postgres_refuses_update_and_delete_of_records(world, target: str) -> None:
    from django.db import DatabaseError

    if target == "audit":
        row = AuditEvent.objects.create(action="chart.read", patient=world["patient"])
        table, column, value = AuditEvent._meta.db_table, "action", "'summary.view'"
    elif target == "turn":
        row = IntakeTurn.objects.filter(session=world["session"]).first()
        table, column, value = IntakeTurn._meta.db_table, "text", "'changed'"
    else:
        row = world["job"]
        table, column, value = ResearchJob._meta.db_table, "prompt", "'changed'"
    # Table and column names come from the models, not from input.
    update = f"UPDATE {table} SET {column} = {value} WHERE id = %s"  # noqa: S608
    for sql in (update, f"DELETE FROM {table} WHERE id = %s"):  # noqa: S608
        refused = pytest.raises(DatabaseError, match="pgtrigger: Cannot")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [row.pk])
    if target == "job":
        # A job's status still moves on (compare-and-set), only what was asked and sent is fixed.
        assert ResearchJob.objects.filter(pk=row.pk).update(status=ResearchJob.Status.RUNNING) == 1


def test_the_admin_cannot_delete_clinical_records(admin_client, world) -> None:
    client, _user = admin_client
    for path in (
        f"/admin/patients/patient/{world['patient'].pk}/delete/",
        f"/admin/patients/patientsummary/{world['summary'].pk}/delete/",
        f"/admin/intake/intakesession/{world['session'].pk}/delete/",
        f"/admin/agents/researchjob/{world['job'].pk}/delete/",
        f"/admin/patients/auditevent/{AuditEvent.objects.first().pk}/delete/",
    ):
        assert client.post(path, {"post": "yes"}).status_code == 403, path
    for changelist in ("/admin/patients/patient/", "/admin/intake/intakesession/", "/admin/agents/researchjob/"):
        assert b"delete_selected" not in client.get(changelist).content, changelist
    assert Patient.objects.filter(pk=world["patient"].pk).exists()
    assert IntakeSession.objects.filter(pk=world["session"].pk).exists()


def test_retention_purge_is_a_counted_audited_command(world) -> None:
    old = timezone.now() - timedelta(days=3 * 365)
    session, job = world["session"], world["job"]
    IntakeSession.objects.filter(pk=session.pk).update(status="completed", created_at=old)
    ResearchJob.objects.filter(pk=job.pk).update(status="completed")
    job_table = connection.ops.quote_name(ResearchJob._meta.db_table)
    _raw_tamper(f"UPDATE {job_table} SET created_at = %s WHERE id = %s", [old, job.pk])  # noqa: S608
    keep, _ = intake_services.intake_start(patient=world["patient"])  # recent and active: kept
    cutoff = (timezone.now() - timedelta(days=365)).date().isoformat()

    out = io.StringIO()
    call_command("retention_purge", "--before", cutoff, stdout=out)
    assert "Would delete" in out.getvalue() and IntakeSession.objects.filter(pk=session.pk).exists()

    out = io.StringIO()
    call_command("retention_purge", "--before", cutoff, "--yes", stdout=out)
    assert "Deleted: 1 intakes, 2 intake turns, 1 research jobs" in out.getvalue()
    assert not ResearchJob.objects.filter(pk=job.pk).exists()
    assert not IntakeSession.objects.filter(pk=session.pk).exists()
    assert not IntakeTurn.objects.filter(session_id=session.pk).exists()
    assert IntakeSession.objects.filter(pk=keep.pk).exists()
    assert Patient.objects.filter(pk=world["patient"].pk).exists() and world["summary"].__class__.objects.exists()
    event = AuditEvent.objects.get(action="retention.purge")
    assert event.detail["intakes"] == 1 and event.detail["intake_turns"] == 2
    assert "Audit chain intact" in _verify()
    with pytest.raises(CommandError, match="date like"):
        call_command("retention_purge", "--before", "last year")


def test_rows_written_by_a_celery_task_carry_its_task_id() -> None:
    from celery import signals

    from patients.audit import current_request_id

    token = current_request_id.set("")
    try:
        signals.task_prerun.send(sender=None, task_id="0b1c2d3e-task", task=None, args=(), kwargs={})
        event = AuditEvent.objects.create(action="research.cancelled", actor_label="worker")
    finally:
        current_request_id.reset(token)
    assert event.request_id == "task-0b1c2d3e-task"
