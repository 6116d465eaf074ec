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
