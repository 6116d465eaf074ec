"""Run the seed article's payload comparison against the configured Gemini endpoint."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.client import LlmError
from intake.benchmark import benchmark_chart, benchmark_payload, benchmark_table


class Command(BaseCommand):
    help = "Compare request bytes and tokens per turn: generateContent vs Interactions stateless vs chained."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--turns", type=int, default=10)
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "benchmarks"))

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            report = benchmark_payload(turns=options["turns"], runs=options["runs"])
        except (ValueError, LlmError) as exc:
            raise CommandError(str(exc)) from exc
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "payload.json").write_text(json.dumps(report, indent=2) + "\n")
        self.stdout.write(benchmark_table(report))
        try:
            benchmark_chart(report, str(out / "payload.png"))
        except ImportError:
            self.stderr.write("matplotlib is not installed (requirements-dev.txt): no chart written.")
        self.stdout.write(f"\nWrote {out / 'payload.json'} and {out / 'payload.png'}")
