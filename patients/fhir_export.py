"""An approved PatientSummary as a FHIR R4 Bundle: the reviewed intake, ready for another system.

Pure construction (it reads the summary, its patient and its reviewer; it writes nothing). Every
resource is validated with fhir.resources (R4B models, which validate R4 content for these types),
and so is the Bundle. `patients.services.summary_fhir_export` checks approval and audits.

What goes in:
- Patient (name, birth date, gender, MRN).
- Condition for the chief complaint (category: LOINC 10154-3 "Chief complaint", provisional; the
  history of present illness as its note).
- MedicationStatement per medication (status from the reconciliation: stopped -> stopped,
  not taking -> not-taken, otherwise active).
- AllergyIntolerance per allergy (new -> unconfirmed, denied -> refuted and inactive, resolved -> resolved).
- FamilyMemberHistory per family-history item (relationship from the text, else "family member").
- Provenance over all of them: the AI draft (a Device, "author") and the approving reviewer (a
  Practitioner, "verifier"), recorded at the approval time.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from patients.models import PatientSummary

AI_DEVICE_NAME = "Gemini intake assistant (AI draft)"
_NS = uuid.UUID("7b0c1a52-3f0e-4c59-9c1e-0f4f5b8a6d21")  # stable ids: same summary, same export ids

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
_CLINICAL = f"{TERMINOLOGY}/allergyintolerance-clinical"
_VERIFICATION = f"{TERMINOLOGY}/allergyintolerance-verification"
_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

_MED_STATUS = {"stopped": "stopped", "not_taking": "not-taken"}
_ALLERGY_STATUS = {  # reconciliation status -> (clinicalStatus, verificationStatus)
    "confirmed": ("active", "confirmed"),
    "new": ("active", "unconfirmed"),
    "resolved": ("resolved", "confirmed"),
    "denied": ("inactive", "refuted"),  # ait-1: clinicalStatus is required unless entered-in-error
}
# Relatives named in free text, most specific first ("grandmother" before "mother").
_RELATIVES = (
    ("grandmother", "GRMTH", "grandmother"),
    ("grandfather", "GRFTH", "grandfather"),
    ("grandparent", "GRPRN", "grandparent"),
    ("mother", "MTH", "mother"),
    ("mom", "MTH", "mother"),
    ("father", "FTH", "father"),
    ("dad", "FTH", "father"),
    ("brother", "BRO", "brother"),
    ("sister", "SIS", "sister"),
    ("sibling", "SIB", "sibling"),
    ("son", "SON", "son"),
    ("daughter", "DAU", "daughter"),
    ("child", "CHILD", "child"),
    ("aunt", "AUNT", "aunt"),
    ("uncle", "UNCLE", "uncle"),
    ("cousin", "COUSN", "cousin"),
    ("parent", "PRN", "parent"),
)


class FhirExportError(ValueError):
    """The export did not validate as FHIR R4 (a bug: the summary itself was validated)."""


def _id(summary: PatientSummary, kind: str, index: int = 0) -> str:
    return str(uuid.uuid5(_NS, f"summary:{summary.pk}:{kind}:{index}"))


def _ref(resource: dict[str, Any], display: str = "") -> dict[str, str]:
    ref = {"reference": f"urn:uuid:{resource['id']}"}
    if display:
        ref["display"] = display
    return ref


def _concept(system: str, code: str, display: str = "", text: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    concept: dict[str, Any] = {"coding": [coding]}
    if text:
        concept["text"] = text
    return concept


def relationship_of(item: str) -> dict[str, Any]:
    """The v3 RoleCode of the relative a family-history line names, else FAMMEMB."""
    words = set(re.findall(r"[a-z]+", item.lower()))
    for word, code, display in _RELATIVES:
        if word in words or f"{word}s" in words or f"{word}'s" in item.lower():
            return _concept(_ROLE_CODE, code, display)
    return _concept(_ROLE_CODE, "FAMMEMB", "family member")


def _patient(summary: PatientSummary) -> dict[str, Any]:
    p = summary.patient
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _id(summary, "patient"),
        "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
        "birthDate": p.birth_date.isoformat(),
        "gender": p.sex if p.sex in ("female", "male", "other", "unknown") else "unknown",
    }
    if p.mrn:
        resource["identifier"] = [
            {"type": _concept(f"{TERMINOLOGY}/v2-0203", "MR", "Medical record number"), "value": p.mrn}
        ]
    return resource


def _condition(summary: PatientSummary, data: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": _id(summary, "condition"),
        "clinicalStatus": _concept(f"{TERMINOLOGY}/condition-clinical", "active"),
        "verificationStatus": _concept(f"{TERMINOLOGY}/condition-ver-status", "provisional"),
        "category": [
            _concept("http://loinc.org", "10154-3", "Chief complaint Narrative - Reported", "Chief complaint")
        ],
        "code": {"text": data["chief_complaint"] or "Not stated"},
        "subject": _ref(patient),
    }
    if data.get("history_of_present_illness"):
        resource["note"] = [{"text": data["history_of_present_illness"]}]
    return resource


def _medication(summary: PatientSummary, index: int, med: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": _id(summary, "medication", index),
        "status": _MED_STATUS.get(med["status"], "active"),
        "medicationCodeableConcept": {"text": med["name"] or "Unnamed medication"},
        "subject": _ref(patient),
        "informationSource": _ref(patient),
        "note": [{"text": f"Patient-reported at intake; versus chart: {med['status'].replace('_', ' ')}"}],
    }
    dosage = " ".join(x for x in (med.get("dose", ""), med.get("frequency", "")) if x)
    if dosage:
        resource["dosage"] = [{"text": dosage}]
    return resource


def _allergy(summary: PatientSummary, index: int, allergy: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    clinical, verification = _ALLERGY_STATUS.get(allergy["status"], ("active", "unconfirmed"))
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": _id(summary, "allergy", index),
        "verificationStatus": _concept(_VERIFICATION, verification),
        "code": {"text": allergy["substance"] or "Unnamed substance"},
        "clinicalStatus": _concept(_CLINICAL, clinical),
        "patient": _ref(patient),
        "asserter": _ref(patient),
    }
    if allergy.get("reaction"):
        resource["reaction"] = [{"manifestation": [{"text": allergy["reaction"]}]}]
    return resource


def _family(summary: PatientSummary, index: int, item: str, patient: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "FamilyMemberHistory",
        "id": _id(summary, "family", index),
        "status": "partial",
        "patient": _ref(patient),
        "relationship": relationship_of(item),
        "condition": [{"code": {"text": item}}],
    }


def reviewer_display(summary: PatientSummary) -> str:
    user = summary.reviewer
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _validated(resource: dict[str, Any]) -> dict[str, Any]:
    model = get_fhir_model_class(resource["resourceType"])
    try:
        return model.model_validate(resource).model_dump(mode="json", exclude_none=True, by_alias=True)
    except Exception as exc:  # pydantic ValidationError or fhir_core errors
        raise FhirExportError(f"{resource['resourceType']} did not validate: {exc}") from exc


def summary_fhir_bundle(*, summary: PatientSummary) -> dict[str, Any]:
    """The summary as a validated FHIR R4 `collection` Bundle (a JSON-ready dict)."""
    data = summary.data
    patient = _patient(summary)
    clinical: list[dict[str, Any]] = [_condition(summary, data, patient)]
    clinical += [_medication(summary, i, m, patient) for i, m in enumerate(data.get("medications") or [])]
    clinical += [_allergy(summary, i, a, patient) for i, a in enumerate(data.get("allergies") or [])]
    clinical += [_family(summary, i, f, patient) for i, f in enumerate(data.get("family_history") or [])]

    device = {
        "resourceType": "Device",
        "id": _id(summary, "device"),
        "deviceName": [{"name": AI_DEVICE_NAME, "type": "user-friendly-name"}],
        "type": {"text": "AI model drafting the intake summary"},
    }
    name = reviewer_display(summary)
    practitioner: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": _id(summary, "practitioner"),
        "name": [{"text": name}],
    }
    if summary.reviewer_id is not None:
        practitioner["identifier"] = [{"system": "urn:intake:user", "value": str(summary.reviewer_id)}]
    participant = f"{TERMINOLOGY}/provenance-participant-type"
    recorded = summary.reviewed_at or timezone.now()
    provenance = {
        "resourceType": "Provenance",
        "id": _id(summary, "provenance"),
        "target": [_ref(r) for r in [patient, *clinical]],
        "recorded": recorded.isoformat(),
        "activity": _concept(
            "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "CREATE", "create", "AI draft, human reviewed"
        ),
        "agent": [
            {"type": _concept(participant, "author", "Author"), "who": _ref(device, AI_DEVICE_NAME)},
            {"type": _concept(participant, "verifier", "Verifier"), "who": _ref(practitioner, name)},
        ],
    }
    resources = [patient, *clinical, device, practitioner, provenance]
    bundle = {
        "resourceType": "Bundle",
        "id": _id(summary, "bundle"),
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": _validated(r)} for r in resources],
    }
    try:
        Bundle.model_validate(bundle)
    except Exception as exc:
        raise FhirExportError(f"Bundle did not validate: {exc}") from exc
    return bundle
