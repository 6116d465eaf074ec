"""Run the red-flag suite: recall per category, false alarms on look-alikes, held-out figures, CPU per message."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intake import redflag_eval


class Command(BaseCommand):
    help = "Score the deterministic red-flag layer on evals/redflags/ and print CPU ms per message."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--suite",
            type=Path,
            default=redflag_eval.SUITE_DIR,
            help="Directory of batch_*.jsonl files (default evals/redflags).",
        )
        parser.add_argument("--repeats", type=int, default=3, help="Times each message is timed (default 3).")
        parser.add_argument("--bench", action="store_true", help="Only time it: CPU ms per message, p50/p95/max.")
        parser.add_argument("--failures", action="store_true", help="List each tuning message that failed.")
        parser.add_argument(
            "--held-out-failures", action="store_true", help="Also list held-out failures (then tune on a new batch)."
        )
        parser.add_argument(
            "--with-model",
            action="store_true",
            help="Also score the offline model (gemini_emulator, in process) and both layers together.",
        )
        parser.add_argument("--check", action="store_true", help="Exit 1 unless the tuning set meets the targets.")
        parser.add_argument(
            "--compare",
            action="store_true",
            help="Only compare the fast path with the slow reference pipeline on each message (exit 1 if they differ).",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if options["repeats"] < 1:
            raise CommandError("--repeats must be at least 1")
        build_s = redflag_eval.build_seconds()
        cases = redflag_eval.load_suite(options["suite"])
        if not cases:
            raise CommandError(f"no cases in {options['suite']}")
        if options["compare"]:
            different = redflag_eval.differences_from_reference(cases)
            self.stdout.write(redflag_eval.format_differences(cases, different))
            if different:
                raise CommandError("the fast path and the reference pipeline disagree")
            return
        cpu_ms = redflag_eval.cpu_ms_per_message(cases, repeats=options["repeats"])
        if options["bench"]:
            self.stdout.write(redflag_eval.format_cpu(cpu_ms=cpu_ms, build_s=build_s))
            return
        report = redflag_eval.score(redflag_eval.run(cases))
        self.stdout.write(
            redflag_eval.format_report(
                report,
                cpu_ms=cpu_ms,
                build_s=build_s,
                failures=options["failures"] or options["held_out_failures"],
                held_out_failures=options["held_out_failures"],
            )
        )
        if options["with_model"]:
            from intake import redflag_model_eval

            self.stdout.write("")
            self.stdout.write(redflag_model_eval.format_layers(redflag_model_eval.run(cases)))
        if options["check"] and not redflag_eval.meets_targets(report):
            raise CommandError("the red-flag suite misses its targets")
