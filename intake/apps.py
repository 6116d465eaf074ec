from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = "Intake conversations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from intake import middleware  # connects the staff sign-in receiver

        # Django's own middlewares run their hooks in the event loop on the async path (no thread hops).
        middleware.inline_hooks_install()

        # The groups follow patients/roles.py after every migrate (and after a test flush).
        post_migrate.connect(_roles_sync, sender=self, dispatch_uid="intake.roles_sync")

        # Research prompts are checked against what the patient typed in the chat (their phone,
        # email, address, people's names); agents never import intake, so intake hands it over.
        from agents import services as research_services
        from intake.selectors import patient_chat_texts

        if patient_chat_texts not in research_services.PATIENT_TEXT_SOURCES:
            research_services.PATIENT_TEXT_SOURCES.append(patient_chat_texts)

        # Every sign-in, failed sign-in and sign-out is audited.
        from django.contrib.auth import signals

        from intake import audit

        signals.user_logged_in.connect(audit.audit_login, dispatch_uid="audit_login")
        signals.user_logged_out.connect(audit.audit_logout, dispatch_uid="audit_logout")
        signals.user_login_failed.connect(audit.audit_login_failed, dispatch_uid="audit_login_failed")


def _roles_sync(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    from patients.roles import roles_ensure

    roles_ensure()


class ClinicAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with a site that sends sign-in to the one staff login and its MFA step."""

    default = False  # installed by its dotted path; IntakeConfig stays the app's default config
    default_site = "intake.adminsite.ClinicAdminSite"
