"""The clinic's roles: two groups and exactly the permissions each one grants.

One definition, applied by the data migration `intake.0005_roles` (so every database has
the groups) and again by `seed_demo`. Least privilege: the front desk registers patients and
starts intakes; only clinicians read what the patient said, decide on summaries, export them or
ask research questions about them.
"""

from __future__ import annotations

from typing import Any

STAFF_GROUP = "staff"
REVIEWERS_GROUP = "reviewers"

# "app_label.codename" granted to each role; the group gets exactly these (extra ones are removed).
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    STAFF_GROUP: (
        "patients.view_patient",
        "patients.add_patient",
        "patients.view_patientsummary",
        "intake.view_intakesession",
        "intake.start_intake",
    ),
    REVIEWERS_GROUP: (
        "patients.view_patient",
        "patients.view_patientsummary",
        "patients.change_patientsummary",
        "patients.approve_patientsummary",
        "patients.export_fhir",
        "intake.view_intakesession",
        "intake.view_intaketurn",
        "intake.view_transcript",
        "agents.view_researchjob",
        "agents.request_research",
    ),
}


def roles_ensure(apps: Any = None) -> None:
    """Create or update both groups to exactly ROLE_PERMISSIONS (idempotent).

    `apps` is a migration's historical registry; without it the live models are used. Permissions
    are normally created after `migrate`, so they are created here first if missing."""
    from django.apps import apps as live_apps
    from django.contrib.auth.management import create_permissions

    registry = apps or live_apps
    for app_config in registry.get_app_configs():
        # create_permissions skips apps whose models module is unset, as in a historical registry.
        restore = getattr(app_config, "models_module", None)
        app_config.models_module = restore or True
        create_permissions(app_config, apps=registry, verbosity=0)
        app_config.models_module = restore
    group_model = registry.get_model("auth", "Group")
    permission_model = registry.get_model("auth", "Permission")
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        wanted = []
        for label in perms:
            app_label, codename = label.split(".")
            wanted.append(permission_model.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
