"""Every test in this package starts from a clean emulator, and afterwards every reply the emulator
sent during the test goes through the SDK's strict parse (see strict.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.strict import check_log_entry
from tests.emulator_fixture import EmulatorHandle

MODEL = "gemini-3-flash-preview"
AGENT = "deep-research-preview-04-2026"


@pytest.fixture(autouse=True)
def strict_replies(request: pytest.FixtureRequest) -> Iterator[None]:
    if "emulator" not in request.fixturenames:
        yield
        return
    emu: EmulatorHandle = request.getfixturevalue("emulator")
    emu.reset()
    yield
    entries = emu.requests()
    for entry in entries:
        check_log_entry(entry)
