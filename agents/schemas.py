"""Pydantic contracts with the model: the summary it must return and the EHR tool it may call.

Both JSON Schemas are re-sent to the model (the summary on the final call, the tool on every turn),
so descriptions are short and titles are dropped from the generated schema.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
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


class ContactSchema(BaseModel):
    phone: str = ""
    email: str = ""


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
    # Filled by the app from the intake record (the record wins), so optional for the model.
    contact: ContactSchema = Field(default_factory=ContactSchema, description="Phone and email")
    declined: list[str] = Field(default_factory=list, description="Topics the patient declined to answer")


# Summary fields the app fills from the intake record; the model is not asked for them.
APP_FILLED_SUMMARY_FIELDS = ("contact", "declined")


@cache
def _summary_schema_json() -> str:
    schema = PatientSummarySchema.model_json_schema(schema_generator=_CompactSchema)
    for name in APP_FILLED_SUMMARY_FIELDS:
        schema["properties"].pop(name, None)
    schema.get("$defs", {}).pop("ContactSchema", None)
    return json.dumps(schema)


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


# --- record_answers tool ----------------------------------------------------------------------
# The model reports, each turn, the facts the patient gave in their latest message. The app
# validates, applies them to the intake record and decides the next step. Every field is optional.

RECORD_TOOL_NAME = "record_answers"
# Where the step instruction travels: the `next` field of each record_answers result (one sentence
# starting with "Ask"). When the model has not been told it that way (the first turn, a turn it did
# not call record_answers, a history re-sent without tool steps), the input starts with a user_input
# step whose only text is STEP_NOTE_PREFIX + "Next: " + that sentence; the patient's message follows.
STEP_NOTE_PREFIX = "[Intake app, not the patient] "

# Topic keys for `none` and `declined`: the record's fact names.
RecordTopic = Literal[
    "name",
    "date_of_birth",
    "phone",
    "email",
    "insurance",
    "chief_complaint",
    "history_of_present_illness",
    "medications",
    "allergies",
    "past_history",
    "family_history",
    "tobacco",
    "alcohol",
    "occupation",
]
RECORD_TOPICS: tuple[str, ...] = RecordTopic.__args__  # type: ignore[attr-defined]
# What a patient can have "none" of; for other topics a plain answer ("I don't drink") is a value.
NoneTopic = Literal["email", "medications", "allergies", "past_history", "family_history", "tobacco", "alcohol"]


def _clip(limit: int) -> Any:
    # Lengths are enforced here, not in the JSON Schema: the declaration stays small, and an
    # over-long answer is trimmed and kept rather than lost.
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            value = " ".join(value.split())[:limit]
            if not value:
                raise ValueError("empty")
        return value

    return BeforeValidator(clean)


_Short = Annotated[str, _clip(120)]
_Item = Annotated[str, _clip(200)]
_Text = Annotated[str, _clip(500)]


class InsuranceArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payer: _Short | None = Field(default=None, description="Company or plan")
    member_id: _Short | None = Field(default=None, description="Member or policy ID")


class MedicationArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: _Short = Field(description="As the patient said it")
    dose: _Short | None = Field(default=None, description="e.g. 10 mg")
    frequency: _Short | None = Field(default=None, description="e.g. twice a day")
    taking: bool = Field(default=True, description="False if stopped or not taken")


class AllergyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    substance: _Short
    reaction: _Short | None = None


class RecordAnswersArgs(BaseModel):
    """Facts from the patient's latest message only. Omit anything they did not say.

    Re-sent with every request, so a property whose name says it all has no description; the
    others say only what the name does not (a format, whose words, when true)."""

    model_config = ConfigDict(extra="forbid")

    name: _Text | None = Field(default=None, description="Patient's full name")
    date_of_birth: _Text | None = Field(default=None, description="YYYY-MM-DD if clear")
    phone: _Text | None = None
    email: _Text | None = None
    insurance: InsuranceArgs | None = None
    chief_complaint: _Text | None = Field(default=None, description="Reason for visit, patient's words")
    history_of_present_illness: _Text | None = Field(default=None, description="Onset, severity, course")
    medications: list[MedicationArgs] | None = None
    allergies: list[AllergyArgs] | None = None
    past_history: list[_Item] | None = Field(default=None, description="Conditions, surgeries")
    family_history: list[_Item] | None = Field(default=None, description="Relatives' illnesses")
    tobacco: _Text | None = Field(default=None, description="Smoking or tobacco use")
    alcohol: _Text | None = None
    occupation: _Text | None = None
    none: list[NoneTopic] | None = Field(default=None, description="Topics the patient has none of")
    declined: list[RecordTopic] | None = Field(default=None, description="Topics the patient declined to answer")
    review_confirmed: bool | None = Field(default=None, description="True if the patient says the summary is right")
    urgency: Urgency | None = Field(default=None, description="How urgent the symptoms sound")
    warning_signs: list[_Item] | None = Field(default=None, description="Worrying symptoms, patient's words")


@cache
def _record_declaration_json() -> str:
    schema = RecordAnswersArgs.model_json_schema(schema_generator=_CompactSchema)
    schema.pop("description", None)
    parameters = _simplify_optional(_inline_refs(schema, schema.get("$defs", {})))
    return json.dumps(
        {
            "type": "function",
            "name": RECORD_TOOL_NAME,
            "description": (
                "Record the facts in the patient's latest message (only those). The result says what to ask next."
            ),
            "parameters": parameters,
        }
    )


def _simplify_optional(node: Any) -> Any:
    """`X | None` becomes plain X: every property is optional anyway, and the schema stays small."""
    if isinstance(node, dict):
        any_of = node.get("anyOf")
        if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
            inner = next(v for v in any_of if v != {"type": "null"})
            rest = {k: v for k, v in node.items() if k not in {"anyOf", "default"}}
            return _simplify_optional({**inner, **rest})
        # Defaults and additionalProperties say nothing the model needs (validation still forbids
        # extra keys); dropping them keeps the declaration, re-sent every request, small.
        return {k: _simplify_optional(v) for k, v in node.items() if k not in {"default", "additionalProperties"}}
    if isinstance(node, list):
        return [_simplify_optional(v) for v in node]
    return node


def record_tool_declaration() -> dict[str, Any]:
    """The Interactions API function-tool declaration for `record_answers`."""
    return json.loads(_record_declaration_json())
