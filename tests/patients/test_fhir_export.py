"""The FHIR R4 export of an approved summary: validated, complete, attributed, and only when approved."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from patients.fhir_export import (
    AI_DEVICE_NAME,
    past_condition_status,
    relationship_of,
    smoking_status_of,
    summary_fhir_bundle,
    us_core_problems,
)
from patients.models import AuditEvent, PatientSummary
from patients.services import SummaryNotApprovedError, summary_approve, summary_fhir_export, summary_update
from tests.patients.summary_factory import add_transcript, make_patient, make_summary, make_user, reviewer

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
        "Organization": 1,
        "Coverage": 1,
        "Condition": 2,  # chief complaint + one past-history item
        "MedicationStatement": 3,
        "AllergyIntolerance": 2,
        "FamilyMemberHistory": 2,
        "Observation": 3,  # tobacco, alcohol, occupation
        "Flag": 1,  # urgent
        "ServiceRequest": 1,
        "QuestionnaireResponse": 1,
        "Device": 1,
        "Practitioner": 1,
        "Provenance": 1,
    }
    assert us_core_problems(bundle) == []


def test_bundle_content_follows_the_summary(approved):
    summary, _ = approved

    by_type: dict[str, list[dict]] = {}
    for r in resources(summary_fhir_bundle(summary=summary)):
        by_type.setdefault(r["resourceType"], []).append(r)

    patient = by_type["Patient"][0]
    assert patient["name"][0]["given"] == [summary.patient.given_name]
    assert patient["identifier"][0]["value"] == summary.patient.mrn
    assert by_type["Condition"][0]["code"]["text"] == "Cough for a week"
    assert by_type["Condition"][1]["code"]["text"] == "Hypertension"
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
    not_targets = {"Device", "Practitioner", "Provenance"}
    assert targets == {u for u, r in by_id.items() if r["resourceType"] not in not_targets}
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


# --- The whole intake, round-tripped ---------------------------------------------------------------

REVIEWER_EDITS = {
    "urgency_level": "emergent",
    "chief_complaint": "Chest tightness on stairs",
    "history_of_present_illness": "Two days, 6/10, eases with rest",
    "insurance": {"payer": "Blue Shield PPO", "member_id": "XZ-998877"},
    "medications": [
        {"name": "metoprolol", "dose": "25 mg", "frequency": "twice daily", "status": "new"},
        {"name": "aspirin", "dose": "81 mg", "frequency": "", "status": "stopped"},
    ],
    "allergies": [{"substance": "latex", "reaction": "itchy rash", "status": "new"}],
    "past_history": ["Appendectomy as a child", "Asthma"],
    "family_history": ["Sister: lupus"],
    "social_history": {"tobacco": "quit in 2015", "alcohol": "two glasses of wine a week", "occupation": "welder"},
    "red_flags": ["chest pain on exertion"],
    "recommended_follow_up": ["ECG at check-in", "Review inhaler technique"],
}


def _strings(node) -> set[str]:
    """Every string anywhere in a JSON value."""
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set().union(*(_strings(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_strings(v) for v in node)) if node else set()
    return set()


def test_round_trip_carries_every_section_of_the_approved_summary_including_reviewer_edits():
    rita = reviewer()
    summary = make_summary()
    add_transcript(summary, [("model", "What brings you in today?"), ("patient", "My chest feels tight")])
    summary = summary_update(summary=summary, data={**summary.data, **REVIEWER_EDITS}, editor=rita)
    summary = summary_approve(summary=summary, reviewer=rita)

    text = json.dumps(summary_fhir_bundle(summary=summary))
    parsed = Bundle.model_validate_json(text)  # the JSON a receiving system gets, parsed back
    again = parsed.model_dump(mode="json", exclude_none=True, by_alias=True)
    by_type: dict[str, list[dict]] = {}
    for r in resources(again):
        by_type.setdefault(r["resourceType"], []).append(r)
    strings = _strings(again)

    assert us_core_problems(again) == []
    # Every edited section is in the bundle, in the resource a receiving EHR looks for it in.
    (coverage,) = by_type["Coverage"]
    assert coverage["subscriberId"] == "XZ-998877"
    assert by_type["Organization"][0]["name"] == "Blue Shield PPO"
    conditions = {c["code"]["text"]: c for c in by_type["Condition"]}
    assert conditions["Chest tightness on stairs"]["note"][0]["text"] == "Two days, 6/10, eases with rest"
    status = {t: c["clinicalStatus"]["coding"][0]["code"] for t, c in conditions.items()}
    assert status == {"Chest tightness on stairs": "active", "Appendectomy as a child": "resolved", "Asthma": "active"}
    meds = {m["medicationCodeableConcept"]["text"]: m for m in by_type["MedicationStatement"]}
    assert {n: m["status"] for n, m in meds.items()} == {"metoprolol": "active", "aspirin": "stopped"}
    assert meds["metoprolol"]["dosage"][0]["text"] == "25 mg twice daily"
    (allergy,) = by_type["AllergyIntolerance"]
    assert (allergy["code"]["text"], allergy["reaction"][0]["manifestation"][0]["text"]) == ("latex", "itchy rash")
    (family,) = by_type["FamilyMemberHistory"]
    assert family["relationship"]["coding"][0]["code"] == "SIS"
    assert family["condition"][0]["code"]["text"] == "Sister: lupus"
    observations = {o["code"]["coding"][0]["code"]: o["valueCodeableConcept"] for o in by_type["Observation"]}
    assert observations["72166-2"]["coding"][0]["code"] == "8517006"  # ex-smoker
    assert observations["72166-2"]["text"] == "quit in 2015"
    assert observations["11331-6"]["text"] == "two glasses of wine a week"
    assert observations["11341-5"]["text"] == "welder"
    assert by_type["Flag"][0]["code"]["text"] == "Emergent: chest pain on exertion"
    assert [s["code"]["text"] for s in by_type["ServiceRequest"]] == ["ECG at check-in", "Review inhaler technique"]
    (answers,) = by_type["QuestionnaireResponse"]
    assert answers["item"][0]["text"] == "What brings you in today?"
    assert answers["item"][0]["answer"][0]["valueString"] == "My chest feels tight"
    # And nothing of the AI draft that the reviewer replaced survives.
    for replaced in ("Cough for a week", "lisinopril", "bee venom", "Aetna", "Mother: type 2 diabetes", "teacher"):
        assert replaced not in strings


def test_telecom_comes_from_the_intake_contact_and_the_registration():
    summary = make_summary(patient=make_patient(phone="555-000-1111", email=""))
    data = {**summary.data, "contact": {"phone": "+1 555 222 3333", "email": "ada@example.org"}}
    PatientSummary.objects.filter(pk=summary.pk).update(data=data)  # the live record's contact answers
    summary.refresh_from_db()
    summary = summary_approve(summary=summary, reviewer=reviewer())

    patient = next(r for r in resources(summary_fhir_bundle(summary=summary)) if r["resourceType"] == "Patient")

    assert patient["telecom"] == [
        {"system": "phone", "value": "+1 555 222 3333"},
        {"system": "phone", "value": "555-000-1111"},
        {"system": "email", "value": "ada@example.org"},
    ]


def test_declined_topics_and_no_known_allergies_are_exported_as_such():
    summary = make_summary(allergies=[], social_history={"tobacco": "", "alcohol": "", "occupation": ""})
    data = {**summary.data, "declined": ["insurance", "social_history"], "none": ["allergies"]}
    PatientSummary.objects.filter(pk=summary.pk).update(data=data)
    summary.refresh_from_db()
    summary = summary_approve(summary=summary, reviewer=reviewer())

    bundle = summary_fhir_bundle(summary=summary)
    by_type: dict[str, list[dict]] = {}
    for r in resources(bundle):
        by_type.setdefault(r["resourceType"], []).append(r)

    (nka,) = by_type["AllergyIntolerance"]
    assert nka["code"]["coding"][0]["code"] == "716186003"  # SNOMED: no known allergy
    assert "Observation" not in by_type  # nothing said, nothing invented
    items = {i["linkId"]: i for i in by_type["QuestionnaireResponse"][0]["item"]}
    assert [a["valueString"] for a in items["declined"]["answer"]] == ["insurance", "social history"]
    assert us_core_problems(bundle) == []


def test_us_core_check_names_a_missing_required_element(approved):
    summary, _ = approved
    bundle = summary_fhir_bundle(summary=summary)
    patient = next(r for r in resources(bundle) if r["resourceType"] == "Patient")
    del patient["gender"]
    smoking = next(r for r in resources(bundle) if r.get("code", {}).get("coding", [{}])[0].get("code") == "72166-2")
    smoking["category"] = []

    problems = us_core_problems(bundle)

    assert f"Patient/{patient['id']}: gender (us-core-patient)" in problems
    assert any(p.startswith(f"Observation/{smoking['id']}: category") for p in problems)


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("never smoked", "266919005"),
        ("I quit five years ago", "8517006"),
        ("a pack a day", "449868002"),
        ("only at parties, socially", "428041000124106"),
        ("", "266927001"),
    ],
)
def test_smoking_status_from_the_patients_words(said, code):
    assert smoking_status_of(said)["coding"][0]["code"] == code


def test_past_condition_status_prefers_the_chart():
    chart = [{"name": "Asthma", "status": "resolved"}]
    assert past_condition_status("Asthma", chart) == "resolved"
    assert past_condition_status("Asthma", []) == "active"
    assert past_condition_status("Tonsillectomy", []) == "resolved"


def test_steps_declined_in_the_chat_are_in_the_answers_as_given():
    summary = make_summary()
    session = add_transcript(summary, [("model", "What insurance do you have?"), ("patient", "I'd rather not say")])
    session.answers = {"declined": ["insurance"]}
    session.save()
    summary = summary_approve(summary=summary, reviewer=reviewer())

    answers = next(
        r for r in resources(summary_fhir_bundle(summary=summary)) if r["resourceType"] == "QuestionnaireResponse"
    )

    items = {i["linkId"]: i for i in answers["item"]}
    assert items["answer-1"]["answer"][0]["valueString"] == "I'd rather not say"
    assert [a["valueString"] for a in items["declined"]["answer"]] == ["insurance"]
