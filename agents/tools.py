"""Tools the model may call. Executors receive the session's PatientScope, never a patient id.

The model chooses only *which sections* to read; whose chart is decided by the scope the app built
from the session. A failing read becomes an error result for the model, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from agents.schemas import EHR_TOOL_NAME, EhrLookupArgs, ehr_tool_declaration, record_tool_declaration
from patients import ehr
from patients.db import sync_to_async  # gives the DB connection back after each batch

logger = logging.getLogger(__name__)

ToolExecutor = Callable[[ehr.PatientScope, dict[str, Any]], dict[str, Any]]


def _ehr_lookup(scope: ehr.PatientScope, arguments: dict[str, Any]) -> dict[str, Any]:
    args = EhrLookupArgs.model_validate(arguments)
    result: dict[str, Any] = {}
    if "identity" in args.sections:
        # Name and birth date as the chart has them, so the assistant can confirm who it talks to.
        result["identity"] = ehr.chart_patient_identity(scope=scope)
    sections = [s for s in args.sections if s != "identity"]
    if sections:
        data = ehr.chart_read(scope=scope, sections=sections).as_dict()
        result.update({section: data.get(section, []) for section in sections})
    return result


TOOLS: dict[str, ToolExecutor] = {EHR_TOOL_NAME: _ehr_lookup}


def tool_declarations() -> list[dict[str, Any]]:
    """Both tools, in a fixed order, on every turn: a byte-identical prefix for implicit caching.

    `record_answers` has no executor here: it writes the intake record, so the intake service
    answers it (agents never import intake)."""
    return [ehr_tool_declaration(), record_tool_declaration()]


def tool_execute(*, scope: ehr.PatientScope, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    executor = TOOLS.get(name)
    if executor is None:
        return {"error": f"Unknown tool {name!r}."}
    try:
        return executor(scope, arguments)
    except ValidationError:
        return {"error": "Invalid arguments: give 'sections', a list of allergies, medications, problems, coverage."}
    except ehr.ChartAccessError as exc:
        logger.warning("chart tool refused for %s: %s", scope.actor_label, type(exc).__name__)
        return {"error": "The chart could not be read."}


async def atool_execute(
    *, scope: ehr.PatientScope, name: str, arguments: dict[str, Any], timeout: float
) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(
            sync_to_async(tool_execute)(scope=scope, name=name, arguments=arguments), timeout=timeout
        )
    except TimeoutError:
        return {"error": "The chart did not answer in time."}
