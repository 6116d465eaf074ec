"""Test data builders: a tiny real PDF, a PNG, the chart tool the app declares."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any


def json_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The typed `response_format` Google takes since May 2026 (a bare JSON Schema is refused)."""
    return {"type": "text", "mime_type": "application/json", "schema": schema}


PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

CHART_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "read_patient_chart",
    "description": "Read sections of the current patient's EHR chart.",
    "parameters": {
        "type": "object",
        "properties": {
            "sections": {
                "type": "array",
                "items": {"type": "string", "enum": ["medications", "allergies", "conditions", "immunizations"]},
                "minItems": 1,
            }
        },
        "required": ["sections"],
        "additionalProperties": False,
    },
}

CHART_RESULT = {
    "medications": [{"name": "lisinopril 10 MG Oral Tablet", "dose": "10 mg", "frequency": "once daily"}],
    "allergies": [{"substance": "Penicillin", "reaction": "hives"}],
}


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with real text objects (readable by pypdf)."""
    text_ops = " ".join(f"({ln}) Tj T*" for ln in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text_ops} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    """Call fetch() until done(result); the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
