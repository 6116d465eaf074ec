"""The admin pages open, and the audit trail and chart store cannot be edited there."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

MODELS = [
    "patients_patient",
    "patients_patientsummary",
    "patients_fhirresource",
    "patients_fhirsource",
    "patients_auditevent",
    "intake_intakesession",
    "agents_researchjob",
]


@pytest.mark.parametrize("model", MODELS)
def test_changelists_open(admin_client, model):
    assert admin_client.get(reverse(f"admin:{model}_changelist")).status_code == 200


@pytest.mark.parametrize("model", ["patients_auditevent", "patients_fhirresource"])
def test_read_only_models_cannot_be_added(admin_client, model):
    assert admin_client.get(reverse(f"admin:{model}_add")).status_code == 403


@pytest.mark.parametrize(
    ("username", "group", "url", "status"),
    [
        ("staff", "staff", "admin:patients_patient_changelist", 200),
        ("staff", "staff", "admin:patients_auditevent_changelist", 403),
        ("reviewer", "reviewers", "admin:patients_patientsummary_changelist", 200),
    ],
)
def test_roles_see_what_their_group_allows(client, django_user_model, username, group, url, status):
    from django.contrib.auth.models import Group

    from patients.demo import roles_ensure

    roles_ensure()
    user = django_user_model.objects.create_user(username, password="pw-for-test", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    assert client.get(reverse(url)).status_code == status


def test_intake_session_admin_cannot_write_conversation_state(client, django_user_model):
    from intake.models import IntakeSession
    from intake.services import intake_start
    from patients.models import Patient

    patient = Patient.objects.create(given_name="Ana", family_name="Lima", birth_date="1980-01-01")
    session, _token = intake_start(patient=patient)
    IntakeSession.objects.filter(pk=session.pk).update(head_interaction_id="v1_head", head_version=3, step_index=4)
    admin_user = django_user_model.objects.create_superuser("root2", "r@example.org", "pw-not-used-1")
    client.force_login(admin_user)
    url = f"/admin/intake/intakesession/{session.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    for field in ("head_interaction_id", "head_version", "step_index", "status", "lease_expires_at"):
        assert f'name="{field}"' not in page.content.decode(), f"{field} is editable"
    client.post(url, {"status": "active", "step_index": 0, "head_version": 0, "head_interaction_id": "forged"})
    session.refresh_from_db()
    assert (session.head_interaction_id, session.head_version, session.step_index) == ("v1_head", 3, 4)
    assert client.get("/admin/intake/intakesession/add/").status_code == 403
