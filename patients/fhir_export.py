"""An approved PatientSummary as a FHIR R4 Bundle: the whole reviewed intake, ready for another system.

Pure construction (it reads the summary, its patient, its reviewer and its transcript; it writes
nothing). Every resource is validated with fhir.resources (R4B models, which validate R4 content for
these types), and so is the Bundle; `us_core_problems` checks the US Core profiles' required elements
for the resources that claim a profile. `patients.services.summary_fhir_export` checks approval and
audits. docs/fhir.md maps each summary section to its resource.

What goes in (the summary is the reviewed one, so reviewer edits are what is exported):
- Patient (name, birth date, gender, MRN, telecom from the intake's contact answers and the registration).
- Coverage (+ its payer Organization) for the insurance.
- Condition for the chief complaint (health concern; the history of present illness as its note) and
  one per past-history item (problem-list item; clinical status from the chart when it matches there).
- MedicationStatement per medication (status from the reconciliation: stopped -> stopped,
  not taking -> not-taken, otherwise active).
- AllergyIntolerance per allergy (new -> unconfirmed, denied -> refuted and inactive, resolved ->
  resolved), or one "No known allergy" when the patient said they have none.
- FamilyMemberHistory per family-history item (relationship from the text, else "family member").
- Observation for tobacco (LOINC 72166-2, US Core Smoking Status), alcohol (LOINC 11331-6, US Core
  Simple Observation) and occupation (LOINC 11341-5, US Core Occupation).
- Flag for the urgency and the red flags; ServiceRequest (a proposal) per recommended follow-up.
- QuestionnaireResponse: the patient's answers as given in the chat, each with the question it
  answered, and the topics the patient declined.
- Provenance over all of them: the AI draft (a Device, "author") and the approving reviewer (a
  Practitioner, "verifier"), recorded at the approval time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from patients.models import PatientSummary
from patients.selectors import summary_topics

AI_DEVICE_NAME = "Gemini intake assistant (AI draft)"
_NS = uuid.UUID("7b0c1a52-3f0e-4c59-9c1e-0f4f5b8a6d21")  # stable ids: same summary, same export ids

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
QUESTIONNAIRE = "urn:intake:questionnaire:patient-intake"  # the app's intake conversation, as a canonical
_CLINICAL = f"{TERMINOLOGY}/allergyintolerance-clinical"
_VERIFICATION = f"{TERMINOLOGY}/allergyintolerance-verification"
_ROLE_CODE = f"{TERMINOLOGY}/v3-RoleCode"
_OBS_CATEGORY = f"{TERMINOLOGY}/observation-category"

_MED_STATUS = {"stopped": "stopped", "not_taking": "not-taken"}
_ALLERGY_STATUS = {  # reconciliation status -> (clinicalStatus, verificationStatus)
    "confirmed": ("active", "confirmed"),
    "new": ("active", "unconfirmed"),
    "resolved": ("resolved", "confirmed"),
    "denied": ("inactive", "refuted"),  # ait-1: clinicalStatus is required unless entered-in-error
}
# Smoking status answers (US Core's value set, SNOMED CT), matched on the patient's words, first hit wins.
_SMOKING = (
    (r"\bnever\b|\bno\b|\bnone\b|non-?smoker|do(?:n'?t| not) smoke", "266919005", "Never smoked tobacco"),
    (r"\bformer|\bquit|\bstopped|used to|ex-?smoker", "8517006", "Ex-smoker"),
    (r"every day|daily|a day\b|per day|pack", "449868002", "Smokes tobacco daily"),
    (r"some days|occasional|social|sometimes|weekends?", "428041000124106", "Occasional tobacco smoker"),
    (r"smok|cigar|tobacco|vape|vaping", "77176002", "Smoker"),
)
_FLAG_CATEGORY = f"{TERMINOLOGY}/flag-category"
_URGENCY_TEXT = {"routine": "Routine", "urgent": "Urgent", "emergent": "Emergent"}
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
# Words that say a past condition is over (a surgery, an outgrown illness): clinical status "resolved".
_RESOLVED_WORDS = re.compile(
    r"\b(resolved|removed|surgery|operation|repaired|as a (child|kid|teen)|in remission|no longer|"
    r"years ago|\w+ectomy|\w+otomy|\w+plasty)\b",
    re.IGNORECASE,
)
_CHART_CLINICAL = {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}


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


def _profile(name: str) -> dict[str, list[str]]:
    return {"profile": [f"{US_CORE}/{name}"]}


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int | float) else ""


def _texts(value: Any) -> list[str]:
    return [t for t in (_text(v) for v in value) if t] if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def relationship_of(item: str) -> dict[str, Any]:
    """The v3 RoleCode of the relative a family-history line names, else FAMMEMB."""
    words = set(re.findall(r"[a-z]+", item.lower()))
    for word, code, display in _RELATIVES:
        if word in words or f"{word}s" in words or f"{word}'s" in item.lower():
            return _concept(_ROLE_CODE, code, display)
    return _concept(_ROLE_CODE, "FAMMEMB", "family member")


def smoking_status_of(text: str) -> dict[str, Any]:
    """The patient's tobacco answer as a US Core smoking-status concept (their words kept as text)."""
    for pattern, code, display in _SMOKING:
        if re.search(pattern, text, re.IGNORECASE):
            return _concept(SNOMED, code, display, text)
    return _concept(SNOMED, "266927001", "Tobacco smoking consumption unknown", text or "Not stated")


def past_condition_status(item: str, chart_problems: Iterable[dict[str, Any]]) -> str:
    """Clinical status of a past-history item: the chart's when the chart has it, else from the words."""
    words = set(re.findall(r"[a-z]+", item.lower()))
    for problem in chart_problems:
        name_words = set(re.findall(r"[a-z]+", str(problem.get("name", "")).lower())) - {"disorder", "finding"}
        status = str(problem.get("status", "")).lower()
        if name_words and name_words <= words | {"of", "the", "type"} and status in _CHART_CLINICAL:
            return status
    return "resolved" if _RESOLVED_WORDS.search(item) else "active"


def contact_points(summary: PatientSummary) -> list[dict[str, str]]:
    """Telecom: what the patient gave at intake (the summary's `contact`), then the registration's."""
    contact = summary.data.get("contact") if isinstance(summary.data, dict) else None
    contact = contact if isinstance(contact, dict) else {}
    points: list[dict[str, str]] = []
    for system, values in (
        ("phone", (_text(contact.get("phone")), summary.patient.phone)),
        ("email", (_text(contact.get("email")), summary.patient.email)),
    ):
        for value in dict.fromkeys(v.strip() for v in values if v and v.strip()):
            points.append({"system": system, "value": value})
    return points


def _patient(summary: PatientSummary) -> dict[str, Any]:
    p = summary.patient
    names: list[dict[str, Any]] = [{"use": "official", "family": p.family_name, "given": [p.given_name]}]
    said = _text(summary.data.get("patient_name"))
    if said and said.casefold() != p.full_name.casefold():
        names.append({"use": "usual", "text": said})
    identifiers = [{"system": "urn:intake:patient", "value": str(p.pk)}]
    if p.mrn:
        mr = _concept(f"{TERMINOLOGY}/v2-0203", "MR", "Medical record number")
        identifiers.insert(0, {"type": mr, "system": "urn:intake:mrn", "value": p.mrn})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _id(summary, "patient"),
        "meta": _profile("us-core-patient"),
        "identifier": identifiers,
        "name": names,
        "birthDate": p.birth_date.isoformat(),
        "gender": p.sex if p.sex in ("female", "male", "other", "unknown") else "unknown",
    }
    telecom = contact_points(summary)
    if telecom:
        resource["telecom"] = telecom
    return resource


def _coverage(summary: PatientSummary, data: dict[str, Any], patient: dict[str, Any]) -> list[dict[str, Any]]:
    insurance = data.get("insurance") if isinstance(data.get("insurance"), dict) else {}
    payer, member_id = _text(insurance.get("payer")), _text(insurance.get("member_id"))
    if not (payer or member_id):
        return []
    org = {
        "resourceType": "Organization",
        "id": _id(summary, "payer"),
        "meta": _profile("us-core-organization"),
        "active": True,
        "name": payer or "Payer not stated",
    }
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": _id(summary, "coverage"),
        "meta": _profile("us-core-coverage"),
        "status": "active",
        "beneficiary": _ref(patient),
        # The intake asks for the patient's own plan; who holds it was not asked, so it stays text.
        "relationship": {"text": "Not asked at intake"},
        "payor": [_ref(org, org["name"])],
    }
    if member_id:
        coverage["subscriberId"] = member_id
        coverage["identifier"] = [
            {"type": _concept(f"{TERMINOLOGY}/v2-0203", "MB", "Member Number"), "value": member_id}
        ]
    return [org, coverage]


def _chief_complaint(summary: PatientSummary, data: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": _id(summary, "condition"),
        "meta": _profile("us-core-condition-problems-health-concerns"),
        "clinicalStatus": _concept(f"{TERMINOLOGY}/condition-clinical", "active"),
        "verificationStatus": _concept(f"{TERMINOLOGY}/condition-ver-status", "provisional"),
        "category": [
            _concept("http://hl7.org/fhir/us/core/CodeSystem/condition-category", "health-concern", "Health Concern"),
            _concept(LOINC, "10154-3", "Chief complaint Narrative - Reported", "Chief complaint"),
        ],
        "code": {"text": _text(data.get("chief_complaint")) or "Not stated"},
        "subject": _ref(patient),
    }
    if _text(data.get("history_of_present_illness")):
        resource["note"] = [{"text": _text(data["history_of_present_illness"])}]
    return resource


def _past_condition(
    summary: PatientSummary, index: int, item: str, patient: dict[str, Any], chart: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": _id(summary, "past", index),
        "meta": _profile("us-core-condition-problems-health-concerns"),
        "clinicalStatus": _concept(f"{TERMINOLOGY}/condition-clinical", past_condition_status(item, chart)),
        "verificationStatus": _concept(f"{TERMINOLOGY}/condition-ver-status", "unconfirmed"),
        "category": [_concept(f"{TERMINOLOGY}/condition-category", "problem-list-item", "Problem List Item")],
        "code": {"text": item},
        "subject": _ref(patient),
        "note": [{"text": "Past history, patient-reported at intake"}],
    }


def _medication(summary: PatientSummary, index: int, med: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    status = _text(med.get("status")) or "new"
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": _id(summary, "medication", index),
        "status": _MED_STATUS.get(status, "active"),
        "medicationCodeableConcept": {"text": _text(med.get("name")) or "Unnamed medication"},
        "subject": _ref(patient),
        "informationSource": _ref(patient),
        "note": [{"text": f"Patient-reported at intake; versus chart: {status.replace('_', ' ')}"}],
    }
    dosage = " ".join(x for x in (_text(med.get("dose")), _text(med.get("frequency"))) if x)
    if dosage:
        resource["dosage"] = [{"text": dosage}]
    return resource


def _allergy(summary: PatientSummary, index: int, allergy: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    clinical, verification = _ALLERGY_STATUS.get(_text(allergy.get("status")), ("active", "unconfirmed"))
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": _id(summary, "allergy", index),
        "meta": _profile("us-core-allergyintolerance"),
        "clinicalStatus": _concept(_CLINICAL, clinical),
        "verificationStatus": _concept(_VERIFICATION, verification),
        "code": {"text": _text(allergy.get("substance")) or "Unnamed substance"},
        "patient": _ref(patient),
        "asserter": _ref(patient),
    }
    if _text(allergy.get("reaction")):
        resource["reaction"] = [{"manifestation": [{"text": _text(allergy["reaction"])}]}]
    return resource


def _no_known_allergy(summary: PatientSummary, patient: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "id": _id(summary, "allergy-none"),
        "meta": _profile("us-core-allergyintolerance"),
        "clinicalStatus": _concept(_CLINICAL, "active"),
        "verificationStatus": _concept(_VERIFICATION, "unconfirmed"),
        "code": _concept(SNOMED, "716186003", "No known allergy", "No known allergies (patient-reported)"),
        "patient": _ref(patient),
        "asserter": _ref(patient),
    }


def _family(summary: PatientSummary, index: int, item: str, patient: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "FamilyMemberHistory",
        "id": _id(summary, "family", index),
        "status": "partial",
        "patient": _ref(patient),
        "relationship": relationship_of(item),
        "condition": [{"code": {"text": item}}],
    }


def _social(summary: PatientSummary, data: dict[str, Any], patient: dict[str, Any], when: str) -> list[dict[str, Any]]:
    social = data.get("social_history") if isinstance(data.get("social_history"), dict) else {}
    category = [_concept(_OBS_CATEGORY, "social-history", "Social History")]
    out = []
    rows = (
        ("tobacco", "us-core-smokingstatus", "72166-2", "Tobacco smoking status", smoking_status_of),
        ("alcohol", "us-core-simple-observation", "11331-6", "History of Alcohol use", None),
        ("occupation", "us-core-observation-occupation", "11341-5", "History of Occupation", None),
    )
    for key, profile, code, display, to_concept in rows:
        said = _text(social.get(key))
        if not said:
            continue
        out.append(
            {
                "resourceType": "Observation",
                "id": _id(summary, f"social-{key}"),
                "meta": _profile(profile),
                "status": "final",
                "category": category,
                "code": _concept(LOINC, code, display),
                "subject": _ref(patient),
                "effectiveDateTime": when,
                "performer": [_ref(patient)],
                "valueCodeableConcept": to_concept(said) if to_concept else {"text": said},
            }
        )
    return out


def _flag(summary: PatientSummary, data: dict[str, Any], patient: dict[str, Any]) -> list[dict[str, Any]]:
    flags = _texts(data.get("red_flags"))
    urgency = _text(data.get("urgency_level")) or summary.urgency
    if not flags and urgency == "routine":
        return []
    label = _URGENCY_TEXT.get(urgency, urgency)
    return [
        {
            "resourceType": "Flag",
            "id": _id(summary, "flag"),
            "status": "active",
            "category": [_concept(_FLAG_CATEGORY, "clinical", "Clinical")],
            "code": {"text": f"{label}: {'; '.join(flags)}" if flags else label},
            "subject": _ref(patient),
        }
    ]


def _follow_up(summary: PatientSummary, index: int, item: str, patient: dict[str, Any], when: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": _id(summary, "follow-up", index),
        "meta": _profile("us-core-servicerequest"),
        "status": "draft",
        "intent": "proposal",
        "code": {"text": item},
        "subject": _ref(patient),
        "authoredOn": when,
        "note": [{"text": "Recommended follow-up from the intake, for clinic staff"}],
    }


def transcript_pairs(summary: PatientSummary) -> list[tuple[str, str]]:
    """(question the assistant asked, the patient's answer as given), in conversation order."""
    session = getattr(summary, "intake_session", None)  # reverse one-to-one: absent raises, getattr hides it
    if session is None:
        return []
    pairs: list[tuple[str, str]] = []
    question = ""
    for role, text in session.turns.filter(role__in=("patient", "model")).order_by("index").values_list("role", "text"):
        if role == "model":
            question = text
        elif text.strip():
            pairs.append((question, text))
    return pairs


def _questionnaire_response(
    summary: PatientSummary, data: dict[str, Any], patient: dict[str, Any], when: str
) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for n, (question, answer) in enumerate(transcript_pairs(summary), start=1):
        item: dict[str, Any] = {"linkId": f"answer-{n}", "answer": [{"valueString": answer}]}
        if question.strip():
            item["text"] = question.strip()
        items.append(item)
    said = summary_topics(summary)
    for key, label in (("declined", "Declined to answer"), ("none", "Said they have none")):
        topics = said[key]
        if topics:
            items.append(
                {"linkId": key, "text": label, "answer": [{"valueString": t.replace("_", " ")} for t in topics]}
            )
    if not items:
        items.append(
            {
                "linkId": "chief-complaint",
                "text": "Reason for visit",
                "answer": [{"valueString": _text(data.get("chief_complaint")) or "Not stated"}],
            }
        )
    return {
        "resourceType": "QuestionnaireResponse",
        "id": _id(summary, "answers"),
        "meta": _profile("us-core-questionnaireresponse"),
        "questionnaire": QUESTIONNAIRE,
        "status": "completed",
        "subject": _ref(patient),
        "authored": when,
        "author": _ref(patient),
        "source": _ref(patient),
        "item": items,
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
    data = summary.data if isinstance(summary.data, dict) else {}
    recorded = summary.reviewed_at or timezone.now()
    when = (summary.created_at or recorded).isoformat()
    chart_problems = _dicts((summary.chart_snapshot or {}).get("problems"))
    patient = _patient(summary)
    coverage = _coverage(summary, data, patient)
    clinical: list[dict[str, Any]] = [_chief_complaint(summary, data, patient)]
    clinical += [
        _past_condition(summary, i, t, patient, chart_problems) for i, t in enumerate(_texts(data.get("past_history")))
    ]
    clinical += [_medication(summary, i, m, patient) for i, m in enumerate(_dicts(data.get("medications")))]
    allergies = [_allergy(summary, i, a, patient) for i, a in enumerate(_dicts(data.get("allergies")))]
    if not allergies and "allergies" in summary_topics(summary)["none"]:
        allergies = [_no_known_allergy(summary, patient)]
    clinical += allergies
    clinical += [_family(summary, i, f, patient) for i, f in enumerate(_texts(data.get("family_history")))]
    clinical += _social(summary, data, patient, when)
    clinical += _flag(summary, data, patient)
    clinical += [
        _follow_up(summary, i, t, patient, when) for i, t in enumerate(_texts(data.get("recommended_follow_up")))
    ]
    clinical += [_questionnaire_response(summary, data, patient, when)]

    device = {
        "resourceType": "Device",
        "id": _id(summary, "device"),
        "deviceName": [{"name": AI_DEVICE_NAME, "type": "user-friendly-name"}],
        "type": {"text": "AI model drafting the intake summary"},
    }
    name = reviewer_display(summary)
    user = summary.reviewer
    practitioner: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": _id(summary, "practitioner"),
        "meta": _profile("us-core-practitioner"),
        "identifier": [{"system": "urn:intake:user", "value": str(summary.reviewer_id or "unknown")}],
        "name": [
            {
                "text": name or "Unknown reviewer",
                "family": (user.last_name if user else "") or name or "Unknown",
                **({"given": [user.first_name]} if user and user.first_name else {}),
            }
        ],
    }
    participant = f"{TERMINOLOGY}/provenance-participant-type"
    provenance = {
        "resourceType": "Provenance",
        "id": _id(summary, "provenance"),
        "meta": _profile("us-core-provenance"),
        "target": [_ref(r) for r in [patient, *coverage, *clinical]],
        "recorded": recorded.isoformat(),
        "activity": _concept(
            "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "CREATE", "create", "AI draft, human reviewed"
        ),
        "agent": [
            {"type": _concept(participant, "author", "Author"), "who": _ref(device, AI_DEVICE_NAME)},
            {"type": _concept(participant, "verifier", "Verifier"), "who": _ref(practitioner, name)},
        ],
    }
    resources = [patient, *coverage, *clinical, device, practitioner, provenance]
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


# --- US Core required elements ---------------------------------------------------------------------
# fhir.resources validates the base R4 rules; it knows no profiles, so the elements each US Core
# profile requires (min 1, plus the fixed codes) are listed here (US Core 6.1/7.0 differentials).
US_CORE_REQUIRED: dict[str, tuple[str, ...]] = {
    "us-core-patient": ("identifier.system", "identifier.value", "name", "gender"),
    "us-core-organization": ("active", "name"),
    "us-core-coverage": ("status", "beneficiary", "relationship", "payor"),
    "us-core-condition-problems-health-concerns": ("category", "code", "subject"),
    "us-core-allergyintolerance": ("code", "patient"),
    "us-core-smokingstatus": ("status", "category", "code", "subject", "effectiveDateTime", "valueCodeableConcept"),
    "us-core-simple-observation": ("status", "category", "code", "subject"),
    "us-core-observation-occupation": ("status", "category", "code", "subject", "valueCodeableConcept"),
    "us-core-servicerequest": ("status", "intent", "code", "subject"),
    "us-core-questionnaireresponse": ("questionnaire", "status", "subject", "authored", "item.linkId"),
    "us-core-practitioner": ("identifier.system", "identifier.value", "name.family"),
    "us-core-provenance": ("target", "recorded", "agent.who"),
}
US_CORE_FIXED: dict[str, tuple[str, str]] = {  # profile -> (category code, LOINC code) it fixes
    "us-core-smokingstatus": ("social-history", "72166-2"),
    "us-core-observation-occupation": ("social-history", "11341-5"),
}


def _present(node: Any, path: list[str]) -> bool:
    if not path:
        return node not in (None, "", [], {})
    if isinstance(node, list):
        return bool(node) and all(_present(item, path) for item in node)
    return isinstance(node, dict) and _present(node.get(path[0]), path[1:])


def us_core_problems(bundle: dict[str, Any]) -> list[str]:
    """Missing US Core required elements, as "Type/id: element" lines; [] when every profile is met."""
    problems = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        for url in resource.get("meta", {}).get("profile", []):
            profile = url.rsplit("/", 1)[-1]
            where = f"{resource['resourceType']}/{resource['id']}"
            for path in US_CORE_REQUIRED.get(profile, ()):
                if not _present(resource, path.split(".")):
                    problems.append(f"{where}: {path} ({profile})")
            if profile in US_CORE_FIXED:
                category, code = US_CORE_FIXED[profile]
                categories = {c.get("code") for cc in resource.get("category", []) for c in cc.get("coding", [])}
                codes = {c.get("code") for c in resource.get("code", {}).get("coding", [])}
                if category not in categories or code not in codes:
                    problems.append(f"{where}: category {category} and code {code} ({profile})")
    return problems
