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
    # Token lookup 1, lease 3 (claim, session, last index), patient turn 3 (begin, insert, commit),
    # chart tool 6 (patient, resources; the audit row's chain link: begin, last hash, insert, commit;
    # on PostgreSQL one more, the chain's advisory lock), model side 5 (begin, 2 inserts, head, commit).
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) <= (19 if connection.vendor == "postgresql" else 18), "\n".join(s[:120] for s in sql)
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
