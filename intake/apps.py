from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = "Intake conversations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from intake import middleware  # noqa: F401  (connects the staff sign-in receiver)

        # The groups follow patients/roles.py after every migrate (and after a test flush).
        post_migrate.connect(_roles_sync, sender=self, dispatch_uid="intake.roles_sync")


def _roles_sync(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    from patients.roles import roles_ensure

    roles_ensure()


class ClinicAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with a site that sends sign-in to the one staff login and its MFA step."""

    default = False  # installed by its dotted path; IntakeConfig stays the app's default config
    default_site = "intake.adminsite.ClinicAdminSite"
