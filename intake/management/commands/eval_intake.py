"""`manage.py eval_intake`: play scenario cards through the JSON API and print the quality figures."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from intake.evaluation import (
    DEFAULT_CARDS,
    DEFAULT_CHARTS,
    EvalError,
    eval_card_line,
    eval_intake_run,
    eval_report_text,
)


class Command(BaseCommand):
    help = "Play scenario cards (a patient's truth and messages) through the API and score the summaries."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--cards", default=str(DEFAULT_CARDS), help="A card file or a directory of *.json cards")
        parser.add_argument("--charts", default=str(DEFAULT_CHARTS), help="Directory of FHIR bundles the cards use")
        parser.add_argument("--base-url", default=None, help="An emulator already running (default: start one)")
        parser.add_argument("--details", action="store_true", help="List each card's misses under it")
        parser.add_argument("--transcripts", action="store_true", help="Print each conversation (synthetic cards only)")
        parser.add_argument("--json", dest="json_out", default="", help="Also write the figures (per card too) here")
        parser.add_argument(
            "--in-place", action="store_true", help="Use the configured database instead of a throwaway one"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = eval_intake_run(
                cards_path=options["cards"],
                charts_dir=options["charts"],
                base_url=options["base_url"],
                throwaway_db=not options["in_place"],
                on_card=lambda run: self.stderr.write(eval_card_line(run)),
            )
        except EvalError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(eval_report_text(report, details=options["details"], transcripts=options["transcripts"]))
        if options["json_out"]:
            with open(options["json_out"], "w", encoding="utf-8") as out:
                json.dump(report.as_dict(), out, indent=2)
        if report.errors:
            raise CommandError(f"{len(report.errors)} card(s) could not be run; see the errors above.")
