"""Print a new JSON API bearer token for a staff user."""

from django.core.management.base import BaseCommand, CommandError

from intake.tokens import ApiTokenError, api_token_issue


class Command(BaseCommand):
    help = "Issue a JSON API token for a staff user and print it (it is shown only once)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--label", default="", help="What the token is for")
        parser.add_argument("--days", type=int, default=None, help="How long it lasts (default API_TOKEN_DAYS)")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            token = api_token_issue(username=options["username"], label=options["label"], days=options["days"])
        except ApiTokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token)
