from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = "Intake conversations"

    def ready(self) -> None:
        from intake import middleware  # noqa: F401  (connects the staff sign-in receiver)


class ClinicAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with a site that sends sign-in to the one staff login and its MFA step."""

    default = False  # installed by its dotted path; IntakeConfig stays the app's default config
    default_site = "intake.adminsite.ClinicAdminSite"
