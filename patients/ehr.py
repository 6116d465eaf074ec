"""The only way the app reads a patient's chart (EHR).

Two sources give the same FHIR R4 JSON dicts: the local store (FhirResource rows, the default) and,
with `settings.FHIR_BASE_URL` set, an external FHIR R4 server over HTTP. One parser turns those dicts
into the Chart* dataclasses, so both sources produce identical snapshots.

Every read is scoped: the caller passes a `PatientScope` the app built from a session or a user, the
scope is checked against the Patient row, and the read is written to the audit trail (ids, sections
and counts only; never PHI).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from django.conf import settings

from patients.models import AuditEvent, FhirResource, Patient

logger = logging.getLogger(__name__)

SECTIONS = ("allergies", "medications", "problems", "coverage")
_SECTION_RESOURCE = {
    "allergies": "AllergyIntolerance",
    "medications": "MedicationRequest",
    "problems": "Condition",
    "coverage": "Coverage",
}
ACTIVE_PROBLEM_STATUSES = frozenset({"active", "recurrence", "relapse", "recurrent"})
MR_CODE = "MR"  # v2-0203 identifier type: Medical Record Number


@dataclass(frozen=True)
class PatientScope:
    """Which patient a chart read is for and who reads. Built by the app, never by the model."""

    patient_id: int  # patients.Patient pk
    fhir_patient_id: str  # chart id ("" if unmatched)
    actor_label: str  # e.g. "intake-session:12" or "user:5"
    actor_user_id: int | None = None


class ChartAccessError(Exception):
    """A chart read was refused (scope mismatch, unknown section) or the chart source failed."""


@dataclass(frozen=True)
class ChartAllergy:
    substance: str
    reaction: str
    criticality: str
    status: str


@dataclass(frozen=True)
class ChartMedication:
    name: str
    dose: str
    frequency: str
    status: str


@dataclass(frozen=True)
class ChartProblem:
    name: str
    code: str
    onset: str
    status: str


@dataclass(frozen=True)
class ChartCoverage:
    payer: str
    member_id: str
    status: str


@dataclass(frozen=True)
class ChartSnapshot:
    allergies: list[ChartAllergy] = field(default_factory=list)
    medications: list[ChartMedication] = field(default_factory=list)
    problems: list[ChartProblem] = field(default_factory=list)
    coverage: list[ChartCoverage] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        return asdict(self)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SECTIONS}


# --- Parsing: FHIR JSON dicts -> dataclasses (shared by both sources) --------------------------------


def _concept_text(concept: Any) -> str:
    """A CodeableConcept's text, else its first coding's display, else its first code."""
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    for coding in concept.get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


def _concept_code(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    for coding in concept.get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


def _quantity(q: Any) -> str:
    if not isinstance(q, dict) or q.get("value") is None:
        return ""
    unit = q.get("unit") or q.get("code") or ""
    return f"{q['value']} {unit}".strip()


def _dose(dosage: dict[str, Any]) -> str:
    for dr in dosage.get("doseAndRate") or []:
        if dr.get("doseQuantity"):
            return _quantity(dr["doseQuantity"])
        rng = dr.get("doseRange")
        if isinstance(rng, dict):
            low, high = _quantity(rng.get("low")), _quantity(rng.get("high"))
            return f"{low} - {high}".strip(" -")
    return ""


def _frequency(dosage: dict[str, Any]) -> str:
    timing = dosage.get("timing") or {}
    repeat = timing.get("repeat") or {}
    parts: list[str] = []
    if repeat.get("frequency") is not None and repeat.get("period") is not None:
        parts.append(f"{repeat['frequency']} time(s) per {repeat['period']} {repeat.get('periodUnit', '')}".strip())
    elif _concept_text(timing.get("code")):
        parts.append(_concept_text(timing.get("code")))
    if dosage.get("asNeededBoolean") is True or dosage.get("asNeededCodeableConcept"):
        parts.append("as needed")
    return ", ".join(parts) or str(dosage.get("text") or "")


def parse_allergy(r: dict[str, Any]) -> ChartAllergy | None:
    status = _concept_code(r.get("clinicalStatus"))
    if status != "active":
        return None
    reactions: list[str] = []
    for reaction in r.get("reaction") or []:
        for manifestation in reaction.get("manifestation") or []:
            text = _concept_text(manifestation)
            if text and text not in reactions:
                reactions.append(text)
    substance = _concept_text(r.get("code"))
    if not substance:
        for reaction in r.get("reaction") or []:
            substance = _concept_text(reaction.get("substance"))
            if substance:
                break
    return ChartAllergy(
        substance=substance,
        reaction="; ".join(reactions),
        criticality=str(r.get("criticality") or ""),
        status=status,
    )


def parse_medication(r: dict[str, Any]) -> ChartMedication | None:
    if r.get("status") != "active":
        return None
    name = _concept_text(r.get("medicationCodeableConcept"))
    if not name and isinstance(r.get("medicationReference"), dict):
        name = str(r["medicationReference"].get("display") or "")
    dosages = r.get("dosageInstruction") or []
    first = dosages[0] if dosages and isinstance(dosages[0], dict) else {}
    return ChartMedication(name=name, dose=_dose(first), frequency=_frequency(first), status="active")


def parse_problem(r: dict[str, Any]) -> ChartProblem | None:
    status = _concept_code(r.get("clinicalStatus"))
    if status not in ACTIVE_PROBLEM_STATUSES:
        return None
    when = r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start") or ""
    onset = str(when)[:10] if when else str(r.get("onsetString") or _quantity(r.get("onsetAge")))
    return ChartProblem(
        name=_concept_text(r.get("code")),
        code=_concept_code(r.get("code")),
        onset=onset,
        status=status,
    )


def parse_coverage(r: dict[str, Any]) -> ChartCoverage | None:
    if r.get("status") != "active":
        return None
    payer = ""
    for payor in r.get("payor") or []:
        payer = str(payor.get("display") or payor.get("reference") or "")
        if payer:
            break
    member_id = str(r.get("subscriberId") or "")
    if not member_id:
        for ident in r.get("identifier") or []:
            if ident.get("value"):
                member_id = str(ident["value"])
                break
    return ChartCoverage(payer=payer, member_id=member_id, status="active")


_PARSERS = {
    "allergies": parse_allergy,
    "medications": parse_medication,
    "problems": parse_problem,
    "coverage": parse_coverage,
}


def parse_section(section: str, resources: Iterable[dict[str, Any]]) -> list[Any]:
    """Parse and filter one section; sorted so both sources give the same order."""
    parser = _PARSERS[section]
    items = [item for item in (parser(r) for r in resources) if item is not None]
    return sorted(items, key=lambda item: tuple(asdict(item).values()))


_SUFFIX = re.compile(r"\d+")


def clean_name(name: str) -> str:
    """Synthea appends digits to names ("Blair354"); strip them for display and matching."""
    return " ".join(_SUFFIX.sub("", name).split())


def parse_identity(patient: dict[str, Any]) -> dict[str, str]:
    names = patient.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    return {
        "given_name": clean_name(" ".join(official.get("given") or [])),
        "family_name": clean_name(str(official.get("family") or "")),
        "birth_date": str(patient.get("birthDate") or ""),
    }


def mrn_of(patient: dict[str, Any]) -> str:
    for ident in patient.get("identifier") or []:
        codes = {c.get("code") for c in (ident.get("type") or {}).get("coding") or []}
        if MR_CODE in codes and ident.get("value"):
            return str(ident["value"])
    return ""


# --- Sources ------------------------------------------------------------------------------------


class ChartSource(Protocol):
    name: str

    def patient(self, fhir_patient_id: str) -> dict[str, Any] | None: ...

    def search(self, resource_type: str, fhir_patient_id: str) -> list[dict[str, Any]]: ...

    def find_patients(
        self, *, mrn: str | None, given_name: str, family_name: str, birth_date: str
    ) -> list[dict[str, Any]]: ...


class LocalChartSource:
    """FhirResource rows in this app's database."""

    name = "local"

    def patient(self, fhir_patient_id: str) -> dict[str, Any] | None:
        return (
            FhirResource.objects.filter(resource_type="Patient", resource_id=fhir_patient_id)
            .values_list("data", flat=True)
            .first()
        )

    def search(self, resource_type: str, fhir_patient_id: str) -> list[dict[str, Any]]:
        return list(
            FhirResource.objects.filter(patient_ref=fhir_patient_id, resource_type=resource_type).values_list(
                "data", flat=True
            )
        )

    def find_patients(
        self, *, mrn: str | None, given_name: str, family_name: str, birth_date: str
    ) -> list[dict[str, Any]]:
        # A demo-sized store: scan Patient rows (a handful). A real deployment uses FHIR_BASE_URL.
        return list(FhirResource.objects.filter(resource_type="Patient").values_list("data", flat=True))


class HttpChartSource:
    """An external FHIR R4 server, read with plain search interactions."""

    name = "http"
    max_pages = 20

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, client: httpx.Client, url: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ChartAccessError(f"chart server unreachable ({type(exc).__name__})") from exc
        return response

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise ChartAccessError(f"chart server answered {response.status_code} for {what}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ChartAccessError(f"chart server sent invalid JSON for {what}") from exc
        if not isinstance(body, dict):
            raise ChartAccessError(f"chart server sent an unexpected body for {what}")
        return body

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, headers={"Accept": "application/fhir+json"})

    def _search(self, resource_type: str, params: dict[str, str]) -> list[dict[str, Any]]:
        resources: list[dict[str, Any]] = []
        with self._client() as client:
            body = self._json(self._get(client, f"{self.base_url}/{resource_type}", params), resource_type)
            for _ in range(self.max_pages):
                resources.extend(
                    e["resource"]
                    for e in body.get("entry") or []
                    if isinstance(e.get("resource"), dict)
                    and e["resource"].get("resourceType") == resource_type
                    and (e.get("search") or {}).get("mode", "match") == "match"
                )
                next_url = next(
                    (link.get("url") for link in body.get("link") or [] if link.get("relation") == "next"),
                    None,
                )
                if not next_url:
                    break
                body = self._json(self._get(client, next_url), resource_type)
        return resources

    def patient(self, fhir_patient_id: str) -> dict[str, Any] | None:
        with self._client() as client:
            response = self._get(client, f"{self.base_url}/Patient/{quote(fhir_patient_id, safe='')}")
            if response.status_code in (404, 410):
                return None
            return self._json(response, "Patient")

    def search(self, resource_type: str, fhir_patient_id: str) -> list[dict[str, Any]]:
        return self._search(resource_type, {"patient": fhir_patient_id, "_count": "100"})

    def find_patients(
        self, *, mrn: str | None, given_name: str, family_name: str, birth_date: str
    ) -> list[dict[str, Any]]:
        found = self._search("Patient", {"identifier": mrn}) if mrn else []
        if not found:
            found = self._search("Patient", {"family": family_name, "given": given_name, "birthdate": birth_date})
        return found


def chart_source() -> ChartSource:
    if settings.FHIR_BASE_URL:
        return HttpChartSource(settings.FHIR_BASE_URL, float(settings.FHIR_TIMEOUT_SECONDS))
    return LocalChartSource()


# --- Public API -----------------------------------------------------------------------------------


def _audit(scope: PatientScope, *, patient: Patient | None, action: str, detail: dict[str, Any]) -> None:
    AuditEvent.objects.create(
        actor_id=scope.actor_user_id,
        actor_label=scope.actor_label[:100],
        patient=patient,
        action=action,
        object_type="Patient",
        object_id=str(scope.patient_id),
        detail=detail,
    )


def _check_scope(scope: PatientScope, *, action: str) -> Patient:
    """The scope must name an existing patient and that patient's current chart link."""
    patient = Patient.objects.filter(pk=scope.patient_id).first()
    if patient is None or patient.fhir_patient_id != scope.fhir_patient_id:
        reason = "no_such_patient" if patient is None else "chart_link_mismatch"
        # The refusal is audited too; the message and the record never say what the real link is.
        _audit(scope, patient=patient, action="chart.denied", detail={"attempted": action, "reason": reason})
        logger.warning("chart access denied patient=%s reason=%s actor=%s", scope.patient_id, reason, scope.actor_label)
        raise ChartAccessError("This chart read is outside the session's patient scope.")
    return patient


def _check_sections(sections: Sequence[str]) -> list[str]:
    if isinstance(sections, str):
        raise ChartAccessError("sections must be a list of section names, not a string")
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ChartAccessError(f"unknown chart section(s): {', '.join(map(str, unknown))}")
    return list(dict.fromkeys(sections))  # de-duplicated, order kept


def chart_read(*, scope: PatientScope, sections: Sequence[str]) -> ChartSnapshot:
    """Read the active allergies/medications/problems/coverage of the scoped patient. Audited."""
    wanted = _check_sections(sections)
    patient = _check_scope(scope, action="chart.read")
    source = chart_source()
    parsed: dict[str, list[Any]] = {}
    if scope.fhir_patient_id:
        try:
            for section in wanted:
                parsed[section] = parse_section(
                    section, source.search(_SECTION_RESOURCE[section], scope.fhir_patient_id)
                )
        except ChartAccessError as exc:
            _audit(
                scope,
                patient=patient,
                action="chart.read",
                detail={"sections": wanted, "source": source.name, "ok": False, "error": str(exc)[:200]},
            )
            raise
    snapshot = ChartSnapshot(**parsed)
    _audit(
        scope,
        patient=patient,
        action="chart.read",
        detail={
            "sections": wanted,
            "counts": {s: len(parsed.get(s, [])) for s in wanted},
            "source": source.name,
            "linked": bool(scope.fhir_patient_id),
            "ok": True,
        },
    )
    return snapshot


def chart_patient_identity(*, scope: PatientScope) -> dict[str, str]:
    """Name and birth date as the chart has them, for identity confirmation. Audited.

    Returns {"given_name", "family_name", "birth_date"}; all "" when the patient has no chart link
    or the chart has no such Patient."""
    patient = _check_scope(scope, action="chart.identity")
    source = chart_source()
    identity = {"given_name": "", "family_name": "", "birth_date": ""}
    if scope.fhir_patient_id:
        resource = source.patient(scope.fhir_patient_id)
        if resource:
            identity = parse_identity(resource)
    _audit(
        scope,
        patient=patient,
        action="chart.identity",
        detail={"source": source.name, "found": bool(identity["birth_date"] or identity["family_name"])},
    )
    return identity


def _norm(value: str) -> str:
    return clean_name(value).casefold()


def chart_match_patient(*, given_name: str, family_name: str, birth_date: date | str, mrn: str | None = None) -> str:
    """The chart's Patient id for this person, or "" when there is no single confident match.

    An MRN match counts only if the birth date agrees too; otherwise exactly one chart Patient must
    have the same family name, first given name and birth date (case and Synthea digits ignored)."""
    birth = birth_date.isoformat() if isinstance(birth_date, date) else str(birth_date)
    candidates = chart_source().find_patients(
        mrn=mrn or None, given_name=given_name, family_name=family_name, birth_date=birth
    )
    if mrn:
        by_mrn = [c for c in candidates if mrn_of(c) == mrn and c.get("birthDate") == birth]
        if len(by_mrn) == 1:
            return str(by_mrn[0].get("id", ""))
    given, family = _norm(given_name), _norm(family_name)
    by_name = []
    for c in candidates:
        if c.get("birthDate") != birth:
            continue
        ident = parse_identity(c)
        first_given = ident["given_name"].split(" ")[0] if ident["given_name"] else ""
        if _norm(ident["family_name"]) == family and given in {
            _norm(first_given),
            _norm(ident["given_name"]),
        }:
            by_name.append(c)
    return str(by_name[0].get("id", "")) if len(by_name) == 1 else ""


def chart_patient_exists(*, fhir_patient_id: str) -> bool:
    """Whether the chart has this Patient id (used when staff link a chart by hand)."""
    return bool(fhir_patient_id) and chart_source().patient(fhir_patient_id) is not None
