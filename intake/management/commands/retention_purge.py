"""Delete intake conversations and research jobs older than a date, after their retention period.

The documented way to remove clinical working records (docs/security.md): nothing can be deleted
from the admin, and on PostgreSQL triggers refuse deletes from anywhere else. Kept: patients, their
summaries (the clinical record) and the whole audit trail. The purge itself is audited.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from intake.retention import retention_purge


class Command(BaseCommand):
    help = "Delete finished intakes (with their turns) and finished research jobs created before --before."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--before", required=True, help="YYYY-MM-DD: records created before this date go")
        parser.add_argument("--yes", action="store_true", help="Really delete (without it: count only)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            before = date.fromisoformat(options["before"])
        except ValueError as exc:
            raise CommandError("--before must be a date like 2020-01-31.") from exc
        cutoff = timezone.make_aware(datetime.combine(before, time.min))
        if cutoff > timezone.now():
            raise CommandError("--before cannot be in the future.")
        counts = retention_purge(before=cutoff, dry_run=not options["yes"])
        verb = "Deleted" if options["yes"] else "Would delete (run again with --yes)"
        self.stdout.write(f"{verb}: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items()))
