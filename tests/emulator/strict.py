"""The SDK's strict parse, applied to what the emulator actually sent.

`google.genai._gaos.utils.serializers.unmarshal_json` (what the SDK uses) lets a failing union
variant fall back to an unvalidated object. Here the same models are validated with that fallback
turned off, and any `Unknown*` variant (unknown step, content, delta or event type) is an error.
"""

from __future__ import annotations

import re
from typing import Any

import pydantic
from google.genai import interactions as T
from google.genai._gaos.errors.createinteraction import CreateInteractionClientErrorData
from google.genai._gaos.utils.serializers import unmarshal

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$")


def _walk_unknown(obj: Any, path: str = "$") -> None:
    if getattr(obj, "is_unknown", False) is True:
        raise AssertionError(f"unknown variant at {path}: {getattr(obj, 'raw', obj)!r}")
    if isinstance(obj, pydantic.BaseModel):
        for name, value in obj.__dict__.items():
            _walk_unknown(value, f"{path}.{name}")
    elif isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            _walk_unknown(x, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, x in obj.items():
            _walk_unknown(x, f"{path}.{k}")


def strict(value: Any, typ: Any) -> Any:
    obj = unmarshal(value, typ, coerce_iterables=False, allow_unknown_union_variants=False)
    _walk_unknown(obj)
    return obj


def strict_interaction(value: dict[str, Any]) -> T.Interaction:
    obj = strict(value, T.Interaction)
    assert "outputs" not in value, "legacy 'outputs' must not be sent"
    assert isinstance(value.get("steps"), list)
    for key in ("created", "updated"):
        assert ISO.match(value[key]), value[key]
    return obj


def strict_event(event: dict[str, Any]) -> Any:
    wrapped = strict({"data": event}, T.InteractionSSEStreamEvent)
    return wrapped.data


def strict_error(value: dict[str, Any]) -> None:
    data = strict(value, CreateInteractionClientErrorData)
    assert isinstance(data.error.code, str) and data.error.code
    assert isinstance(data.error.message, str) and data.error.message


def check_log_entry(entry: dict[str, Any]) -> None:
    """Strict-parse one logged reply according to its route."""
    path, status = entry["path"], entry.get("status")
    if "/models/" in path:
        if status and status >= 400:
            err = entry["response"]["error"]
            assert isinstance(err["code"], int) and err["status"] and err["message"]
        return
    if "/interactions" not in path or status is None:
        return
    if status >= 400:
        strict_error(entry["response"])
        return
    assert status == 200
    if entry.get("events") is not None:
        for ev in entry["events"]:
            strict_event(ev)
    elif entry["method"] == "DELETE":
        assert entry["response"] == {}
    else:
        strict_interaction(entry["response"])
