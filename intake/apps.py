from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = "Intake conversations"

    def ready(self) -> None:
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
