"""The emulator is a package of its own: it runs with `python -m gemini_emulator` and imports nothing
from Django, google-genai or this app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_emulator_imports_nothing_from_the_app_django_or_the_sdk():
    probe = (
        "import json, sys; import gemini_emulator.server, gemini_emulator.modes, gemini_emulator.__main__; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout))
    assert not loaded & {"django", "google", "agents", "intake", "patients"}, loaded


def test_its_own_requirements_cover_what_it_imports():
    pinned = {
        line.split("==")[0].lower()
        for line in (ROOT / "gemini_emulator" / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert {"aiohttp", "jsonschema", "pypdf"} <= pinned
    assert (ROOT / "gemini_emulator" / "README.md").read_text().startswith("# gemini_emulator")
