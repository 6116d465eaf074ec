"""patient_create / patient_link_chart: validation a person understands, duplicates, chart link, audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from patients.models import AuditEvent, Patient
from patients.services import PatientDuplicateError, PatientInvalidError, patient_create, patient_link_chart
from tests.patients.conftest import SYNTHEA_FILES, closed_port, resources_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("charts")]

BASE = {"given_name": "Ada", "family_name": "Lovelace", "birth_date": date(1985, 12, 10), "sex": "female"}


def test_a_valid_patient_is_created_and_audited(django_user_model):
    user = django_user_model.objects.create_user("desk", password="x")
    patient = patient_create(**BASE, phone="+1 (555) 123-4567", email="ada@example.com", mrn="A-1", actor=user)
    assert Patient.objects.get(pk=patient.pk).mrn == "A-1"
    assert patient.fhir_patient_id == ""
    event = AuditEvent.objects.get(action="patient.create", patient=patient)
    assert event.actor == user and event.actor_label == f"user:{user.pk}"
    assert "Ada" not in str(event.detail) and "A-1" not in str(event.detail)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"birth_date": "tomorrow"}, "birth_date", "cannot be in the future"),
        ({"phone": "call me"}, "phone", "7 to 15 digits"),
        ({"phone": "123"}, "phone", "7 to 15 digits"),
        ({"email": "not-an-email"}, "email", "does not look right"),
        ({"given_name": "  "}, "given_name", "first name"),
        ({"sex": "robot"}, "sex", "Sex must be one of"),
    ],
)
def test_invalid_details_get_a_readable_message(changes, field, message):
    if changes.get("birth_date") == "tomorrow":  # computed now, not at collection (a run may cross midnight)
        changes = {**changes, "birth_date": timezone.localdate() + timedelta(days=1)}
    with pytest.raises(PatientInvalidError) as err:
        patient_create(**{**BASE, **changes})
    assert message in err.value.errors[field]
    assert message in str(err.value)
    assert not Patient.objects.exists()


def test_duplicates_by_mrn_and_by_name_and_birth_date_are_refused():
    first = patient_create(**BASE, mrn="M-7")
    with pytest.raises(PatientDuplicateError, match="this MRN is already registered") as err:
        patient_create(**{**BASE, "given_name": "Other"}, mrn="M-7")
    assert err.value.existing_id == first.pk
    with pytest.raises(PatientDuplicateError, match="same name and birth date"):
        patient_create(**{**BASE, "given_name": "ada", "family_name": "LOVELACE"})
    assert Patient.objects.count() == 1


def test_a_chart_patient_is_linked_on_create():
    fhir_patient = resources_of(SYNTHEA_FILES[2], "Patient")[0]
    name = fhir_patient["name"][0]
    patient = patient_create(
        given_name=name["given"][0],
        family_name=name["family"],
        birth_date=date.fromisoformat(fhir_patient["birthDate"]),
        sex=fhir_patient["gender"],
    )
    assert patient.fhir_patient_id == fhir_patient["id"]
    assert AuditEvent.objects.get(action="patient.create", patient=patient).detail["chart_linked"] is True


def test_a_chart_outage_does_not_stop_registration(settings):
    settings.FHIR_BASE_URL = f"http://127.0.0.1:{closed_port()}/"
    settings.FHIR_TIMEOUT_SECONDS = 1
    patient = patient_create(**BASE)
    assert patient.pk and patient.fhir_patient_id == ""


def test_link_chart_by_match_by_id_and_unlink():
    fhir_patient = resources_of(SYNTHEA_FILES[1], "Patient")[0]
    name = fhir_patient["name"][0]
    # Registered with a different spelling of the birth date's patient: no automatic match.
    patient = patient_create(**BASE)
    with pytest.raises(PatientInvalidError, match="no patient with this id"):
        patient_link_chart(patient=patient, fhir_patient_id="does-not-exist")
    patient_link_chart(patient=patient, fhir_patient_id=fhir_patient["id"])
    assert Patient.objects.get(pk=patient.pk).fhir_patient_id == fhir_patient["id"]
    patient_link_chart(patient=patient, fhir_patient_id="")
    assert Patient.objects.get(pk=patient.pk).fhir_patient_id == ""
    Patient.objects.filter(pk=patient.pk).update(
        given_name=name["given"][0], family_name=name["family"], birth_date=fhir_patient["birthDate"]
    )
    patient.refresh_from_db()
    patient_link_chart(patient=patient)
    assert patient.fhir_patient_id == fhir_patient["id"]
    assert AuditEvent.objects.filter(action="patient.link_chart", patient=patient).count() == 3
