"""What a reviewer sees of a summary, as plain data: the reconciliation table and the transcript.

Pure code over `summary.data` and `summary.chart_snapshot` (no ORM, no HTML): the admin renders the
result, tests check it directly.

The reconciliation table uses `patients.reconcile`, the same matching rules that decided the
statuses when the summary was saved, so the table cannot disagree with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from pydantic import ValidationError

from agents.schemas import AllergySchema, MedicationSchema, PatientSummarySchema
from patients.ehr import ChartAllergy, ChartMedication
from patients.reconcile import reconcile_allergies, reconcile_medications

NOT_MENTIONED = "not_mentioned"
_ChartT = TypeVar("_ChartT", ChartMedication, ChartAllergy)
STATUS_LABELS = {
    "confirmed": "Confirmed",
    "new": "New (not in chart)",
    "changed": "Changed dose/schedule",
    "stopped": "Stopped",
    "not_taking": "Not taking",
    "resolved": "Resolved",
    "denied": "Patient denies",
    NOT_MENTIONED: "Not mentioned by patient",
}


@dataclass(frozen=True)
class ReconciliationRow:
    """One line: chart entry | patient said | status. Empty strings where a side has nothing."""

    kind: str  # "medication" or "allergy"
    chart_entry: str
    patient_said: str
    status: str  # the summary's status (what gets exported), or NOT_MENTIONED for chart-only rows
    rule_status: str = ""  # what the matching rules say, when it differs from `status`

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def rule_status_label(self) -> str:
        return STATUS_LABELS.get(self.rule_status, self.rule_status)


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _chart_items(cls: type[_ChartT], items: Any) -> list[_ChartT]:
    """Chart entries of one kind from a stored snapshot; a missing status means active."""
    names = [f.name for f in fields(cls)]
    return [
        cls(**{n: str(item.get(n, "active" if n == "status" else "")) for n in names})
        for item in items or []
        if isinstance(item, Mapping)
    ]


def _valid_items(model: type[MedicationSchema] | type[AllergySchema], items: Any) -> list[Any]:
    """Items of a list that validate; a hand-damaged row is skipped rather than hiding the table."""
    out = []
    for item in items if isinstance(items, list) else []:
        try:
            out.append(model.model_validate(item))
        except ValidationError:
            continue
    return out


def _medication_text(m: ChartMedication | MedicationSchema) -> str:
    return _join(m.name, m.dose, m.frequency and f"({m.frequency})")


def _allergy_text(a: ChartAllergy | AllergySchema) -> str:
    return _join(a.substance, a.reaction and f"({a.reaction})")


def _rows(
    kind: str, result: Any, chart_entry: Callable[[Any], str], text: Callable[[Any], str]
) -> list[ReconciliationRow]:
    """Each patient-reported item with the chart entry it matched, then the chart-only entries."""
    rows = [
        ReconciliationRow(
            kind=kind,
            chart_entry=chart_entry(row),
            patient_said=text(row.reported),
            status=row.reported.status,
            rule_status=row.status if row.status != row.reported.status else "",
        )
        for row in result.rows
    ]
    rows.extend(
        ReconciliationRow(kind=kind, chart_entry=text(c), patient_said="", status=NOT_MENTIONED)
        for c in result.chart_only
    )
    return rows


def reconciliation_rows(*, data: Mapping[str, Any], chart_snapshot: Mapping[str, Any]) -> list[ReconciliationRow]:
    """Medications then allergies: each patient-reported item with the chart entry it matched, then
    the chart's entries the patient never mentioned."""
    snapshot = chart_snapshot or {}
    meds = reconcile_medications(
        _valid_items(MedicationSchema, data.get("medications")),
        _chart_items(ChartMedication, snapshot.get("medications")),
    )
    allergies = reconcile_allergies(
        _valid_items(AllergySchema, data.get("allergies")),
        _chart_items(ChartAllergy, snapshot.get("allergies")),
    )
    return [
        *_rows("medication", meds, lambda r: _medication_text(r.chart) if r.chart else "", _medication_text),
        *_rows("allergy", allergies, lambda r: "; ".join(map(_allergy_text, r.chart)), _allergy_text),
    ]


# --- Validation messages --------------------------------------------------------------------------

_FIELD_LABELS = {
    "patient_name": "Patient name",
    "urgency_level": "Urgency",
    "chief_complaint": "Chief complaint",
    "history_of_present_illness": "History of present illness",
    "insurance": "Insurance",
    "medications": "Medications",
    "allergies": "Allergies",
    "past_history": "Past history",
    "family_history": "Family history",
    "social_history": "Social history",
    "red_flags": "Red flags",
    "recommended_follow_up": "Recommended follow-up",
    "sources": "Sources",
}


def summary_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """Pydantic errors as (top-level field, readable message): "Medications, row 2, status: ..."."""
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        top = str(loc[0]) if loc else ""
        parts = [_FIELD_LABELS.get(top, top)] if top else []
        for p in loc[1:]:
            parts.append(f"row {p + 1}" if isinstance(p, int) else str(p).replace("_", " "))
        msg = str(err.get("msg", "is not valid"))
        if err.get("type") == "literal_error":
            expected = (err.get("ctx") or {}).get("expected", "")
            msg = f"must be one of {expected}"
        elif err.get("type") == "missing":
            msg = "is required"
        out.append((top, f"{', '.join(parts)}: {msg}" if parts else msg))
    return out


def summary_validate(data: Any) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """(normalised data, []) when `data` is a valid PatientSummarySchema, else (None, errors)."""
    try:
        parsed = PatientSummarySchema.model_validate(data)
    except ValidationError as exc:
        return None, summary_errors(exc)
    return parsed.model_dump(mode="json"), []


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Top-level summary keys whose value differs (names only: safe for audit and history)."""
    keys: Iterable[str] = sorted(set(before) | set(after))
    return [k for k in keys if before.get(k) != after.get(k)]


def _readable(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_readable(v) for v in value) or "—"
    if isinstance(value, Mapping):
        if "name" in value or "substance" in value:  # a medication or allergy row
            main = _join(*(str(value.get(k) or "") for k in ("name", "substance", "dose", "frequency", "reaction")))
            return f"{main} [{STATUS_LABELS.get(str(value.get('status')), value.get('status'))}]"
        return ", ".join(f"{str(k).replace('_', ' ')}: {v}" for k, v in value.items() if v) or "—"
    return str(value) if value not in (None, "") else "—"


def section_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each changed summary section as {"field", "old", "new"} in words, for the history page."""
    return [
        {
            "field": _FIELD_LABELS.get(k, k.replace("_", " ").capitalize()),
            "old": _readable(before.get(k)),
            "new": _readable(after.get(k)),
        }
        for k in changed_fields(before, after)
    ]
