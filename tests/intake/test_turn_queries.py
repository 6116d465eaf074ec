"""The patient chat turn keeps its ORM work to a few short calls (docs/architecture.md)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.intake.conftest import ApiClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("use_emulator")]


def test_a_chat_turn_makes_few_queries(staff_api, demo_patient):
    body = staff_api.post("/api/v1/intakes", {"patient_id": demo_patient.pk}).json()
    patient_api = ApiClient(token=body["patient_token"])
    url = f"/api/v1/intakes/{body['id']}/messages"
    assert patient_api.post(url, {"text": "Hi, I'm Kermit."}).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = patient_api.post(url, {"text": "You can reach me at 555-201-3344."})
    assert response.status_code == 200, response.content
    # Token lookup 1, lease 2 (claim; session, patient, record and turn counts in one read), patient
    # turn 1 (one insert), chart tool 6 (patient, resources; the audit row's chain link: begin, last
    # hash, insert, commit; on PostgreSQL one more, the chain's advisory lock), model side 5 (begin,
    # 2 inserts, head, commit).
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) <= (16 if connection.vendor == "postgresql" else 15), "\n".join(s[:120] for s in sql)
    assert not any("intake_apitoken" in s for s in sql), "a patient token needs no API-token lookup"


def test_patient_page_reads_usage_in_one_query(staff_api, demo_patient, staff_user):
    from django.test import Client

    for _ in range(3):
        staff_api.post("/api/v1/intakes", {"patient_id": demo_patient.pk})
    client = Client()
    client.force_login(staff_user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/staff/patients/{demo_patient.pk}/")
    assert response.status_code == 200
    assert sum("SUM(" in q["sql"].upper() for q in queries.captured_queries) == 1


def test_the_lease_reads_what_the_orm_reads(staff_api, demo_patient):
    """The lease's two raw statements give the turn the same values the ORM would (both backends)."""
    from datetime import timedelta

    from django.utils import timezone

    from intake import services
    from intake.models import IntakeSession

    body = staff_api.post("/api/v1/intakes", {"patient_id": demo_patient.pk}).json()
    stamp = timezone.now() - timedelta(minutes=5)
    IntakeSession.objects.filter(pk=body["id"]).update(
        head_interaction_id="v1_abc", head_version=3, head_created_at=stamp, answers={"stop_intake": True}
    )
    ctx = services._lease_acquire(body["id"], allowed=(IntakeSession.Status.ACTIVE,))
    session = IntakeSession.objects.select_related("patient", "record").get(pk=body["id"])
    assert ctx.lease == session.lease_token
    assert (ctx.head_id, ctx.head_version, ctx.head_created_at) == ("v1_abc", 3, stamp)
    assert ctx.head_created_at.tzinfo is not None
    assert ctx.store is True and ctx.stateless is False and ctx.stopped is True
    assert (ctx.step_index, ctx.urgency) == (session.step_index, session.urgency)
    assert ctx.scope.patient_id == demo_patient.pk and ctx.scope.fhir_patient_id == demo_patient.fhir_patient_id
    assert (ctx.record_id, ctx.record_version) == (session.record.pk, session.record.version)
    assert ctx.record.model_dump() == services.IntakeRecordSchema.model_validate(session.record.document).model_dump()
    assert (ctx.next_turn_index, ctx.patient_turn, ctx.last_model_index) == (1, 1, 0)  # the greeting is turn 0
    with pytest.raises(services.IntakeBusyError):
        services._lease_acquire(body["id"], allowed=(IntakeSession.Status.ACTIVE,))
    services._lease_release(ctx)
    IntakeSession.objects.filter(pk=body["id"]).update(status=IntakeSession.Status.COMPLETED)
    with pytest.raises(services.IntakeClosedError, match="completed"):
        services._lease_acquire(body["id"], allowed=(IntakeSession.Status.ACTIVE,))
    with pytest.raises(services.IntakeNotFoundError):
        services._lease_acquire(body["id"] + 1000, allowed=(IntakeSession.Status.ACTIVE,))


def test_rows_inserted_without_the_orm_read_back_as_the_orm_writes_them(staff_api, demo_patient):
    from django.utils import timezone

    from intake import services
    from intake.models import IntakeRecord, IntakeRecordVersion, IntakeTurn

    body = staff_api.post("/api/v1/intakes", {"patient_id": demo_patient.pk}).json()
    before = timezone.now()
    services._rows_insert(
        IntakeTurn,
        [
            {"session_id": body["id"], "index": 5, "role": "tool", "text": "[tool call] x", "latency_ms": 7},
            {"session_id": body["id"], "index": 6, "role": "model", "text": "Caf\u00e9? \u2713", "input_tokens": 3},
        ],
    )
    tool, model = IntakeTurn.objects.filter(session_id=body["id"], index__in=[5, 6]).order_by("index")
    assert (tool.role, tool.text, tool.latency_ms, tool.attachments, tool.idempotency_key) == (
        "tool",
        "[tool call] x",
        7,
        [],
        "",
    )
    assert (model.text, model.input_tokens, model.step) == ("Caf\u00e9? \u2713", 3, 0)
    assert before <= model.created_at <= timezone.now()
    record = IntakeRecord.objects.get(session_id=body["id"])
    document = {"nested": {"list": [1, "two", None]}, "text": "O'Brien \u00e9"}
    version = {"record_id": record.pk, "version": 9, "turn": 2, "document": document}
    services._rows_insert(IntakeRecordVersion, [version])
    assert IntakeRecordVersion.objects.get(record=record, version=9).document == document
