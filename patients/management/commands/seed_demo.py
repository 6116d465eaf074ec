"""`manage.py seed_demo`: demo charts, matching patients, roles, and (DEBUG only) demo logins."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from patients.demo import demo_seed


class Command(BaseCommand):
    help = "Load the bundled Synthea charts, create their patients, the roles and the dev-only logins."

    def handle(self, *args: Any, **options: Any) -> None:
        report = demo_seed()
        self.stdout.write(
            f"Demo charts: {report.files_loaded} loaded, {report.files_skipped} unchanged; "
            f"patients: {report.patients_created} created, {report.patients_existing} already there; "
            f"users created: {', '.join(report.users_created) or 'none'} ({report.seconds:.2f}s)"
        )
        if report.logins_note:
            self.stdout.write(report.logins_note)
