"""Shared fixtures. A fake API key is forced so nothing can reach a real service by accident."""

import os

os.environ["GEMINI_API_KEY"] = ""

pytest_plugins = ["tests.emulator_fixture"]
