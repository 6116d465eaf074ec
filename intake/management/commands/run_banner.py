"""`manage.py run_banner`: what `make run` starts, where to open it, and how to log in."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from patients.demo import demo_logins_text


class Command(BaseCommand):
    help = "Print the local URLs and the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        web = f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}"
        emulator = f"http://127.0.0.1:{os.environ.get('EMULATOR_PORT', '8765')}"
        gemini = settings.GEMINI_BASE_URL or "Google (GEMINI_API_KEY set)"
        chart = settings.FHIR_BASE_URL or "local chart store (database)"
        lines = [
            "",
            "Clinic intake is starting (Ctrl-C stops everything):",
            f"  App            {web}/",
            f"  Staff          {web}/staff/",
            f"  Admin          {web}/admin/",
            f"  Health         {web}/healthz",
            f"  Gemini         emulator at {emulator} ; the app talks to: {gemini}",
            f"  Chart (EHR)    {chart}",
            "",
            demo_logins_text(),
            "",
        ]
        self.stdout.write("\n".join(lines))
