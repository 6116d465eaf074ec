"""The FHIR R4 export of an approved summary: validated, complete, attributed, and only when approved."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from patients.fhir_export import AI_DEVICE_NAME, relationship_of, summary_fhir_bundle
from patients.models import AuditEvent, PatientSummary
from patients.services import SummaryNotApprovedError, summary_approve, summary_fhir_export
from tests.patients.summary_factory import make_summary, make_user, reviewer

pytestmark = pytest.mark.django_db


def fhir_url(summary: PatientSummary) -> str:
    return reverse("admin:patients_patientsummary_fhir", args=[summary.pk])


@pytest.fixture
def approved():
    rita = reviewer()
    summary = make_summary(
        urgency="urgent",
        allergies=[
            {"substance": "bee venom", "reaction": "hives", "status": "confirmed"},
            {"substance": "penicillin", "reaction": "", "status": "denied"},
        ],
        medications=[
            {"name": "lisinopril", "dose": "10 mg", "frequency": "once daily", "status": "confirmed"},
            {"name": "ibuprofen", "dose": "", "frequency": "as needed", "status": "new"},
            {"name": "atorvastatin", "dose": "20 mg", "frequency": "", "status": "not_taking"},
        ],
    )
    return summary_approve(summary=summary, reviewer=rita), rita


def resources(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]]


def test_bundle_validates_and_has_the_expected_resources(approved):
    summary, _ = approved

    bundle = summary_fhir_bundle(summary=summary)

    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    for resource in resources(bundle):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert Counter(r["resourceType"] for r in resources(bundle)) == {
        "Patient": 1,
        "Condition": 1,
        "MedicationStatement": 3,
        "AllergyIntolerance": 2,
        "FamilyMemberHistory": 2,
        "Device": 1,
        "Practitioner": 1,
        "Provenance": 1,
    }


def test_bundle_content_follows_the_summary(approved):
    summary, _ = approved

    by_type: dict[str, list[dict]] = {}
    for r in resources(summary_fhir_bundle(summary=summary)):
        by_type.setdefault(r["resourceType"], []).append(r)

    patient = by_type["Patient"][0]
    assert patient["name"][0]["given"] == [summary.patient.given_name]
    assert patient["identifier"][0]["value"] == summary.patient.mrn
    assert by_type["Condition"][0]["code"]["text"] == "Cough for a week"
    assert [m["status"] for m in by_type["MedicationStatement"]] == ["active", "active", "not-taken"]
    assert [a["verificationStatus"]["coding"][0]["code"] for a in by_type["AllergyIntolerance"]] == [
        "confirmed",
        "refuted",
    ]
    assert [f["relationship"]["coding"][0]["code"] for f in by_type["FamilyMemberHistory"]] == ["MTH", "FTH"]
    refs = {f"urn:uuid:{r['id']}" for rs in by_type.values() for r in rs}
    for r in by_type["MedicationStatement"] + by_type["Condition"]:
        assert r["subject"]["reference"] in refs


def test_provenance_names_the_ai_draft_and_the_reviewer(approved):
    summary, rita = approved

    bundle = summary_fhir_bundle(summary=summary)

    by_id = {f"urn:uuid:{r['id']}": r for r in resources(bundle)}
    provenance = next(r for r in resources(bundle) if r["resourceType"] == "Provenance")
    agents = {a["type"]["coding"][0]["code"]: a["who"] for a in provenance["agent"]}
    device = by_id[agents["author"]["reference"]]
    practitioner = by_id[agents["verifier"]["reference"]]
    assert device["resourceType"] == "Device"
    assert device["deviceName"][0]["name"] == AI_DEVICE_NAME == "Gemini intake assistant (AI draft)"
    assert practitioner["resourceType"] == "Practitioner"
    assert practitioner["name"][0]["text"] == agents["verifier"]["display"] == "Rita Tester"
    assert practitioner["identifier"][0]["value"] == str(rita.pk)
    targets = {t["reference"] for t in provenance["target"]}
    clinical = {"Patient", "Condition", "MedicationStatement", "AllergyIntolerance", "FamilyMemberHistory"}
    assert targets == {u for u, r in by_id.items() if r["resourceType"] in clinical}
    assert provenance["recorded"].startswith(summary.reviewed_at.isoformat()[:19])


@pytest.mark.parametrize(
    ("text", "code"),
    [("Maternal grandmother: stroke", "GRMTH"), ("Brother has asthma", "BRO"), ("heart disease", "FAMMEMB")],
)
def test_relationship_from_text(text, code):
    assert relationship_of(text)["coding"][0]["code"] == code


def test_admin_download_is_a_fhir_json_attachment_and_audited(client, approved):
    summary, rita = approved
    client.force_login(rita)

    response = client.get(fhir_url(summary))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Content-Disposition"] == f'attachment; filename="summary-{summary.pk}-fhir.json"'
    Bundle.model_validate(json.loads(response.content))
    event = AuditEvent.objects.get(action="summary.export_fhir")
    assert (event.actor, event.patient_id, event.object_id) == (rita, summary.patient_id, str(summary.pk))
    assert event.detail["resources"]["MedicationStatement"] == 3
    assert summary.patient.given_name not in json.dumps(event.detail)


@pytest.mark.parametrize("status", ["pending", "changes_requested", "rejected"])
def test_unapproved_summary_is_not_exported(client, status):
    summary = make_summary()
    PatientSummary.objects.filter(pk=summary.pk).update(review_status=status)
    summary.refresh_from_db()
    user = reviewer()
    client.force_login(user)

    with pytest.raises(SummaryNotApprovedError):
        summary_fhir_export(summary=summary, actor=user)
    response = client.get(fhir_url(summary), follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:patients_patientsummary_change", args=[summary.pk])
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Only an approved summary can be exported" in m for m in messages)
    assert "FHIR export after approval" in response.content.decode()
    assert not AuditEvent.objects.filter(action="summary.export_fhir").exists()


def test_export_needs_view_permission(client, approved):
    summary, _ = approved
    client.force_login(make_user("nobody"))

    assert client.get(fhir_url(summary)).status_code == 403
    assert not AuditEvent.objects.filter(action="summary.export_fhir").exists()
