"""`manage.py load_fhir FILE...`: load FHIR R4 Bundles into the local chart store."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patients.fhir_load import FhirBundleError, fhir_bundle_load


class Command(BaseCommand):
    help = "Load FHIR R4 transaction/collection Bundles (e.g. Synthea) into the local chart store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="Bundle JSON files")
        parser.add_argument("--skip-unchanged", action="store_true", help="Skip files whose content was already loaded")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = 0
        for path in options["files"]:
            started = time.monotonic()
            try:
                result = fhir_bundle_load(path=path, force=not options["skip_unchanged"])
            except FhirBundleError as exc:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{exc} (nothing from this file was loaded)"))
                continue
            took = time.monotonic() - started
            if result.skipped:
                self.stdout.write(f"{path}: unchanged, skipped")
            else:
                self.stdout.write(f"{path}: {result.resources} resources loaded in {took:.2f}s")
        if failed:
            raise CommandError(f"{failed} of {len(options['files'])} file(s) failed to load")
