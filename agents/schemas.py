"""Pydantic contracts with the model: the summary it must return and the EHR tool it may call.

Both JSON Schemas are re-sent to the model (the summary on the final call, the tool on every turn),
so descriptions are short and titles are dropped from the generated schema.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

Urgency = Literal["routine", "urgent", "emergent"]
MedicationStatus = Literal["confirmed", "new", "changed", "stopped", "not_taking"]
# confirmed: in chart and patient agrees; new: patient reports, chart lacks; resolved: chart has it,
# patient says outgrown; denied: patient says they never had it.
AllergyStatus = Literal["confirmed", "new", "resolved", "denied"]
ChartSection = Literal["identity", "allergies", "medications", "problems", "coverage"]


class _CompactSchema(GenerateJsonSchema):
    """Drops the auto-generated `title` keys, which only repeat the property names."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def generate(self, schema: Any, mode: Any = "validation") -> JsonSchemaValue:
        result = super().generate(schema, mode=mode)
        _strip_model_titles(result)
        return result


def _strip_model_titles(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node or "enum" in node:
            node.pop("title", None)
        for value in node.values():
            _strip_model_titles(value)
    elif isinstance(node, list):
        for value in node:
            _strip_model_titles(value)


# --- Summary ----------------------------------------------------------------------------------


class InsuranceSchema(BaseModel):
    payer: str = Field(description="Insurance company or plan")
    member_id: str = Field(description="Member ID as given")


class MedicationSchema(BaseModel):
    name: str
    dose: str = Field(description="e.g. '10 mg'; empty if unknown")
    frequency: str = Field(description="e.g. 'once daily'; empty if unknown")
    status: MedicationStatus = Field(description="Versus the chart")


class AllergySchema(BaseModel):
    substance: str
    reaction: str = Field(description="Empty if unknown")
    status: AllergyStatus = Field(description="Versus the chart")


class SocialHistorySchema(BaseModel):
    tobacco: str
    alcohol: str
    occupation: str


class FieldSourceSchema(BaseModel):
    field: str = Field(description="Summary field name")
    turns: list[int] = Field(description="Turn numbers it came from")


class PatientSummarySchema(BaseModel):
    """Every field is required; use "" or [] for what the patient did not say or declined."""

    patient_name: str
    urgency_level: Urgency = Field(description="Never lower than the app's red-flag level")
    chief_complaint: str = Field(description="Reason for visit, patient's words")
    history_of_present_illness: str = Field(description="Onset, severity, course")
    insurance: InsuranceSchema
    medications: list[MedicationSchema]
    allergies: list[AllergySchema]
    past_history: list[str] = Field(description="Conditions and surgeries")
    family_history: list[str]
    social_history: SocialHistorySchema
    red_flags: list[str] = Field(description="Emergency signs reported")
    recommended_follow_up: list[str] = Field(description="For clinic staff; no diagnosis")
    sources: list[FieldSourceSchema] = Field(description="Per field, the turns it came from")


@cache
def _summary_schema_json() -> str:
    return json.dumps(PatientSummarySchema.model_json_schema(schema_generator=_CompactSchema))


def summary_json_schema() -> dict[str, Any]:
    """The summary's JSON Schema, generated once; callers get a fresh copy they may mutate."""
    return json.loads(_summary_schema_json())


# --- EHR tool ---------------------------------------------------------------------------------

EHR_TOOL_NAME = "ehr_lookup"


class EhrLookupArgs(BaseModel):
    """The tool's arguments. There is deliberately no patient identifier: the app supplies the scope."""

    # Extra keys (a "patient_id" the model invents) are refused, not ignored.
    model_config = ConfigDict(extra="forbid")

    sections: Annotated[
        list[ChartSection],
        Field(min_length=1, description="Chart sections to read", json_schema_extra={"uniqueItems": True}),
    ]

    @field_validator("sections")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("sections must be unique")
        return value


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline_refs(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


@cache
def _ehr_declaration_json() -> str:
    schema = EhrLookupArgs.model_json_schema(schema_generator=_CompactSchema)
    schema.pop("description", None)  # the tool description already says it
    parameters = _inline_refs(schema, schema.get("$defs", {}))
    return json.dumps(
        {
            "type": "function",
            "name": EHR_TOOL_NAME,
            "description": (
                "Read the current patient's chart (only theirs) to confirm what they say. "
                "Returns the requested sections; identity is for verifying, never read it out."
            ),
            "parameters": parameters,
        }
    )


def ehr_tool_declaration() -> dict[str, Any]:
    """The Interactions API function-tool declaration for the EHR lookup."""
    return json.loads(_ehr_declaration_json())


class EhrLookupResult(BaseModel):
    """What the tool returns to the model: the requested sections, or an error it can explain."""

    allergies: list[dict[str, Any]] | None = None
    medications: list[dict[str, Any]] | None = None
    problems: list[dict[str, Any]] | None = None
    coverage: list[dict[str, Any]] | None = None
    error: str | None = None

    def to_tool_output(self) -> str:
        # Sections that were not requested are omitted rather than sent as null.
        return self.model_dump_json(exclude_none=True)
