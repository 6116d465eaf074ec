"""Model contracts: the summary schema and the EHR tool declaration."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from agents import schemas


def full_summary() -> dict[str, Any]:
    return {
        "patient_name": "Blair Conroy",
        "urgency_level": "urgent",
        "chief_complaint": "Cough for a week",
        "history_of_present_illness": "Dry cough since last Monday, worse at night, no fever.",
        "insurance": {"payer": "Aetna", "member_id": "W123456789"},
        "medications": [
            {"name": "lisinopril", "dose": "10 mg", "frequency": "once daily", "status": "confirmed"},
            {"name": "ibuprofen", "dose": "", "frequency": "as needed", "status": "new"},
        ],
        "allergies": [{"substance": "bee venom", "reaction": "hives", "status": "confirmed"}],
        "past_history": ["Hypertension", "Appendectomy 2010"],
        "family_history": ["Father: type 2 diabetes"],
        "social_history": {"tobacco": "never", "alcohol": "2 drinks a week", "occupation": "teacher"},
        "red_flags": [],
        "recommended_follow_up": ["Check blood pressure"],
        "sources": [{"field": "chief_complaint", "turns": [4]}, {"field": "medications", "turns": [6, 7]}],
        "contact": {"phone": "555-0100", "email": ""},
        "declined": ["email"],
    }


def _walk_property_names(node: Any) -> list[str]:
    names: list[str] = []
    if isinstance(node, dict):
        names.extend(node.get("properties", {}).keys())
        for value in node.values():
            names.extend(_walk_property_names(value))
    elif isinstance(node, list):
        for value in node:
            names.extend(_walk_property_names(value))
    return names


def test_summary_round_trips_full_example() -> None:
    data = full_summary()
    parsed = schemas.PatientSummarySchema.model_validate(data)
    assert parsed.model_dump() == data
    again = schemas.PatientSummarySchema.model_validate_json(parsed.model_dump_json())
    assert again == parsed


def test_summary_accepts_empty_values() -> None:
    data = full_summary() | {
        "chief_complaint": "",
        "medications": [],
        "allergies": [],
        "past_history": [],
        "sources": [],
        "insurance": {"payer": "", "member_id": ""},
    }
    assert schemas.PatientSummarySchema.model_validate(data).medications == []


@pytest.mark.parametrize("field", ["patient_name", "urgency_level", "insurance", "sources", "social_history"])
def test_summary_fields_are_required(field: str) -> None:
    data = full_summary()
    del data[field]
    with pytest.raises(ValidationError):
        schemas.PatientSummarySchema.model_validate(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("urgency_level",), "critical"),
        (("medications", 0, "status"), "maybe"),
        (("allergies", 0, "status"), "not_in_chart"),
    ],
)
def test_summary_enums_enforced(path: tuple[Any, ...], value: str) -> None:
    data = full_summary()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        schemas.PatientSummarySchema.model_validate(data)


def test_summary_json_schema_is_compact_cached_and_describes_enums() -> None:
    schema = schemas.summary_json_schema()
    text = json.dumps(schema, separators=(",", ":"))
    assert len(text) < 3500
    assert '"title"' not in text
    assert schema["properties"]["urgency_level"]["enum"] == ["routine", "urgent", "emergent"]
    asked = set(schemas.PatientSummarySchema.model_fields) - set(schemas.APP_FILLED_SUMMARY_FIELDS)
    assert set(schema["required"]) == asked == set(schema["properties"])
    assert "ContactSchema" not in text, "the app fills contact from the record; the model is not asked"
    schema["properties"].clear()  # callers get a copy; the cache is not poisoned
    assert schemas.summary_json_schema()["properties"]


def test_tool_declaration_shape() -> None:
    decl = schemas.ehr_tool_declaration()
    assert decl["type"] == "function"
    assert decl["name"] == schemas.EHR_TOOL_NAME == "ehr_lookup"
    assert decl["description"]
    params = decl["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["sections"]
    sections = params["properties"]["sections"]
    assert sections["items"]["enum"] == ["identity", "allergies", "medications", "problems", "coverage"]
    assert sections["minItems"] == 1 and sections["uniqueItems"] is True
    assert "$ref" not in json.dumps(decl) and "$defs" not in json.dumps(decl)


def test_tool_declaration_has_no_patient_identifier() -> None:
    names = _walk_property_names(schemas.ehr_tool_declaration()["parameters"])
    assert names == ["sections"]
    for name in names:
        assert not any(bad in name.lower() for bad in ("id", "mrn", "patient", "name"))


def test_lookup_args_validation() -> None:
    assert schemas.EhrLookupArgs.model_validate({"sections": ["allergies"]}).sections == ["allergies"]
    for bad in (
        {"sections": []},
        {"sections": ["allergies", "allergies"]},
        {"sections": ["labs"]},
        {"sections": ["allergies"], "patient_id": "123"},
        {},
    ):
        with pytest.raises(ValidationError):
            schemas.EhrLookupArgs.model_validate(bad)


def test_lookup_result_omits_unrequested_sections() -> None:
    result = schemas.EhrLookupResult(allergies=[{"substance": "Penicillin V"}])
    assert json.loads(result.to_tool_output()) == {"allergies": [{"substance": "Penicillin V"}]}
    assert json.loads(schemas.EhrLookupResult(error="unavailable").to_tool_output()) == {"error": "unavailable"}
