"""Create or update the `staff` and `reviewers` groups (patients/roles.py is the one definition),
and give API tokens issued before expiry existed an expiry and their user's password fingerprint."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations


def roles_forward(apps, schema_editor):
    from patients.roles import roles_ensure

    roles_ensure(apps)


def tokens_forward(apps, schema_editor):
    from intake.tokens import password_fingerprint

    ApiToken = apps.get_model("intake", "ApiToken")
    for token in ApiToken.objects.select_related("user").filter(password_fingerprint=""):
        token.password_fingerprint = password_fingerprint(token.user)
        token.expires_at = token.expires_at or token.created_at + timedelta(days=settings.API_TOKEN_DAYS)
        token.save(update_fields=["password_fingerprint", "expires_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("intake", "0004_permissions_api_token_expiry"),
        ("patients", "0004_export_fhir_permission"),
        ("agents", "0003_request_research_permission"),
    ]

    operations = [
        migrations.RunPython(roles_forward, migrations.RunPython.noop),
        migrations.RunPython(tokens_forward, migrations.RunPython.noop),
    ]
