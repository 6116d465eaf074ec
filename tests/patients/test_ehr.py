"""patients/ehr.py: scoped, audited chart reads that agree with the source files, locally and over HTTP."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from patients.ehr import (
    SECTIONS,
    ChartAccessError,
    ChartSnapshot,
    PatientScope,
    chart_match_patient,
    chart_patient_identity,
    chart_read,
)
from patients.models import AuditEvent, Patient
from patients.services import patient_create
from tests.patients.conftest import SYNTHEA_FILES, closed_port, resources_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("charts")]
FILE_IDS = [p.name.split("_")[0] for p in SYNTHEA_FILES]


def _text(concept: dict[str, Any]) -> str:
    return concept.get("text") or concept["coding"][0]["display"]


def _mrn(resource: dict[str, Any]) -> str:
    return next(
        i["value"] for i in resource["identifier"] if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"
    )


def _register(path: Path) -> Patient:
    fhir_patient = resources_of(path, "Patient")[0]
    name = next(n for n in fhir_patient["name"] if n.get("use") == "official")
    return patient_create(
        given_name=name["given"][0],
        family_name=name["family"],
        birth_date=date.fromisoformat(fhir_patient["birthDate"]),
        sex=fhir_patient["gender"],
        mrn=_mrn(fhir_patient),
    )


def _scope(patient: Patient) -> PatientScope:
    return PatientScope(patient_id=patient.pk, fhir_patient_id=patient.fhir_patient_id, actor_label="test:1")


@pytest.mark.parametrize("path", SYNTHEA_FILES, ids=FILE_IDS)
def test_chart_read_returns_what_the_file_says(path: Path):
    patient = _register(path)
    assert patient.fhir_patient_id == resources_of(path, "Patient")[0]["id"]

    snapshot = chart_read(scope=_scope(patient), sections=SECTIONS)

    allergies = [
        _text(r["code"])
        for r in resources_of(path, "AllergyIntolerance")
        if r["clinicalStatus"]["coding"][0]["code"] == "active"
    ]
    medications = [
        _text(r["medicationCodeableConcept"])
        for r in resources_of(path, "MedicationRequest")
        if r["status"] == "active"
    ]
    problems = [
        (_text(r["code"]), r["code"]["coding"][0]["code"], r["onsetDateTime"][:10])
        for r in resources_of(path, "Condition")
        if r["clinicalStatus"]["coding"][0]["code"] in ("active", "recurrence", "relapse")
    ]
    assert sorted(a.substance for a in snapshot.allergies) == sorted(allergies)
    assert {a.status for a in snapshot.allergies} <= {"active"}
    assert sorted(m.name for m in snapshot.medications) == sorted(medications)
    assert sorted((p.name, p.code, p.onset) for p in snapshot.problems) == sorted(problems)
    assert snapshot.coverage == []  # Synthea 2019 bundles carry coverage only inside claims
    # The data set promises at least one allergy and one medication per patient (active or not).
    assert resources_of(path, "AllergyIntolerance") and resources_of(path, "MedicationRequest")
    assert snapshot.as_dict()["medications"] == [m.__dict__ for m in snapshot.medications]


def test_medication_frequency_comes_from_the_dosage_when_present():
    path = SYNTHEA_FILES[0]
    snapshot = chart_read(scope=_scope(_register(path)), sections=["medications"])
    as_needed = {
        _text(r["medicationCodeableConcept"])
        for r in resources_of(path, "MedicationRequest")
        if r["status"] == "active" and any(d.get("asNeededBoolean") for d in r.get("dosageInstruction", []))
    }
    for med in snapshot.medications:
        assert med.dose == ""  # Synthea has no doseAndRate
        assert med.frequency == ("as needed" if med.name in as_needed else "")


def test_only_requested_sections_are_read():
    snapshot = chart_read(scope=_scope(_register(SYNTHEA_FILES[2])), sections=["allergies"])
    assert snapshot.allergies and snapshot.medications == [] and snapshot.problems == []


def test_every_read_is_audited_without_phi():
    patient = _register(SYNTHEA_FILES[3])
    scope = PatientScope(patient.pk, patient.fhir_patient_id, "intake-session:7", actor_user_id=None)
    before = AuditEvent.objects.filter(action="chart.read").count()
    chart_read(scope=scope, sections=["allergies", "medications"])
    chart_read(scope=scope, sections=["problems"])
    events = list(AuditEvent.objects.filter(action="chart.read").order_by("pk"))
    assert len(events) == before + 2
    last = events[-1]
    assert last.patient_id == patient.pk and last.actor_label == "intake-session:7"
    assert last.detail["sections"] == ["problems"] and last.detail["counts"] == {"problems": 1}
    first = events[-2]
    assert set(first.detail["counts"]) == {"allergies", "medications"}
    blob = json.dumps([e.detail for e in events])
    for phi in (patient.given_name, patient.family_name, patient.mrn, str(patient.birth_date), patient.phone):
        if phi:
            assert phi not in blob
    identity_before = AuditEvent.objects.filter(action="chart.identity").count()
    chart_patient_identity(scope=scope)
    assert AuditEvent.objects.filter(action="chart.identity").count() == identity_before + 1


def test_a_scope_that_does_not_match_the_chart_link_is_refused_and_not_leaked():
    patient = _register(SYNTHEA_FILES[4])
    other = _register(SYNTHEA_FILES[5])
    forged = PatientScope(patient_id=patient.pk, fhir_patient_id=other.fhir_patient_id, actor_label="test:1")
    reads_before = AuditEvent.objects.filter(action="chart.read").count()
    with pytest.raises(ChartAccessError) as err:
        chart_read(scope=forged, sections=SECTIONS)
    assert patient.fhir_patient_id not in str(err.value) and other.fhir_patient_id not in str(err.value)
    with pytest.raises(ChartAccessError):
        chart_patient_identity(scope=forged)
    with pytest.raises(ChartAccessError):
        chart_read(scope=PatientScope(10**9, other.fhir_patient_id, "test:1"), sections=SECTIONS)
    assert AuditEvent.objects.filter(action="chart.read").count() == reads_before
    denied = AuditEvent.objects.filter(action="chart.denied", patient=patient)
    assert denied.count() == 2
    assert other.fhir_patient_id not in json.dumps(list(denied.values_list("detail", flat=True)))


def test_unknown_sections_are_refused():
    scope = _scope(_register(SYNTHEA_FILES[0]))
    with pytest.raises(ChartAccessError, match="unknown chart section"):
        chart_read(scope=scope, sections=["allergies", "labs"])
    with pytest.raises(ChartAccessError):
        chart_read(scope=scope, sections="allergies")


def test_an_unlinked_patient_reads_an_empty_snapshot_and_is_audited():
    patient = patient_create(given_name="Nobody", family_name="Known", birth_date=date(1980, 1, 1), sex="other")
    assert patient.fhir_patient_id == ""
    snapshot = chart_read(scope=_scope(patient), sections=SECTIONS)
    assert snapshot == ChartSnapshot(allergies=[], medications=[], problems=[], coverage=[])
    event = AuditEvent.objects.filter(action="chart.read", patient=patient).get()
    assert event.detail["linked"] is False
    assert chart_patient_identity(scope=_scope(patient)) == {
        "given_name": "",
        "family_name": "",
        "birth_date": "",
    }


@pytest.mark.parametrize("path", SYNTHEA_FILES, ids=FILE_IDS)
def test_identity_and_matching_follow_the_chart(path: Path):
    fhir_patient = resources_of(path, "Patient")[0]
    name = next(n for n in fhir_patient["name"] if n.get("use") == "official")
    given, family, born = name["given"][0], name["family"], fhir_patient["birthDate"]
    assert chart_match_patient(given_name=given, family_name=family, birth_date=born) == fhir_patient["id"]
    assert (
        chart_match_patient(given_name=given.upper(), family_name=family.lower(), birth_date=date.fromisoformat(born))
        == fhir_patient["id"]
    )
    assert (
        chart_match_patient(given_name="X", family_name="Y", birth_date=born, mrn=_mrn(fhir_patient))
        == fhir_patient["id"]
    )
    # An MRN with the wrong birth date is not a match, nor is a near-miss name.
    assert chart_match_patient(given_name="X", family_name="Y", birth_date="1900-01-01", mrn=_mrn(fhir_patient)) == ""
    assert chart_match_patient(given_name=given, family_name=family + "x", birth_date=born) == ""
    patient = _register(path)
    identity = chart_patient_identity(scope=_scope(patient))
    assert identity == {"given_name": given, "family_name": family, "birth_date": born}


# --- The HTTP FHIR source -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", SYNTHEA_FILES, ids=FILE_IDS)
def test_the_http_source_gives_the_same_snapshot_as_the_local_store(path: Path, settings, fhir_server: str):
    patient = _register(path)
    local = chart_read(scope=_scope(patient), sections=SECTIONS)
    local_identity = chart_patient_identity(scope=_scope(patient))
    settings.FHIR_BASE_URL = fhir_server
    remote = chart_read(scope=_scope(patient), sections=SECTIONS)
    assert remote == local
    assert remote.allergies and remote.medications
    assert chart_patient_identity(scope=_scope(patient)) == local_identity
    assert AuditEvent.objects.filter(action="chart.read", patient=patient).latest("pk").detail["source"] == "http"


def test_the_http_source_matches_patients_by_identifier_and_by_name(settings, fhir_server: str):
    settings.FHIR_BASE_URL = fhir_server
    fhir_patient = resources_of(SYNTHEA_FILES[0], "Patient")[0]
    name = fhir_patient["name"][0]
    born = fhir_patient["birthDate"]
    mrn = _mrn(fhir_patient)
    assert chart_match_patient(given_name="?", family_name="?", birth_date=born, mrn=mrn) == fhir_patient["id"]
    assert (
        chart_match_patient(given_name=name["given"][0], family_name=name["family"], birth_date=born)
        == fhir_patient["id"]
    )


def test_an_unreachable_chart_server_is_a_chart_access_error_and_audited(settings):
    patient = _register(SYNTHEA_FILES[0])
    settings.FHIR_BASE_URL = f"http://127.0.0.1:{closed_port()}/fhir"
    settings.FHIR_TIMEOUT_SECONDS = 1
    with pytest.raises(ChartAccessError, match="unreachable"):
        chart_read(scope=_scope(patient), sections=SECTIONS)
    event = AuditEvent.objects.filter(action="chart.read", patient=patient).latest("pk")
    assert event.detail["ok"] is False
