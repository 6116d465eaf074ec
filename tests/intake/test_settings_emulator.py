"""EMULATOR_PORT moves the app's default emulator address along with the emulator (make run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_BASE_URL = "import django; django.setup(); from django.conf import settings; print(settings.GEMINI_BASE_URL)"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"EMULATOR_PORT": "8799"}, "http://127.0.0.1:8799"),
        ({"EMULATOR_PORT": "8799", "GEMINI_BASE_URL": "http://10.0.0.5:9000"}, "http://10.0.0.5:9000"),
    ],
)
def test_default_gemini_address_follows_emulator_port(env: dict[str, str], expected: str) -> None:
    base = {k: v for k, v in os.environ.items() if k not in {"EMULATOR_PORT", "GEMINI_BASE_URL", "GEMINI_API_KEY"}}
    out = subprocess.run(
        [sys.executable, "-c", PRINT_BASE_URL],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "intake.settings", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == expected
