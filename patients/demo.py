"""Demo data: the bundled Synthea charts, a Patient per chart, the roles, and dev-only logins.

Everything here is idempotent: a second run loads nothing (file hashes match), creates nothing and
changes no password.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction

from patients.ehr import clean_name, mrn_of, parse_identity
from patients.fhir_load import fhir_bundle_load
from patients.models import FhirResource, Patient
from patients.roles import REVIEWERS_GROUP, STAFF_GROUP, roles_ensure
from patients.services import PatientDuplicateError, patient_create

DEMO_DIR = Path(__file__).resolve().parent / "demo_data" / "synthea"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    group: str | None
    superuser: bool = False


# Development-only credentials: created only when DEBUG is on, documented in README.md.
DEMO_LOGINS = (
    DemoLogin("admin", "admin-demo-pass", "superuser (everything in /admin/)", None, superuser=True),
    DemoLogin("staff", "staff-demo-pass", "front-desk staff (view patients, intakes)", STAFF_GROUP),
    DemoLogin("reviewer", "reviewer-demo-pass", "clinician reviewer (approve summaries)", REVIEWERS_GROUP),
)


@dataclass
class DemoSeedReport:
    files_loaded: int = 0
    files_skipped: int = 0
    patients_created: int = 0
    patients_existing: int = 0
    users_created: list[str] = field(default_factory=list)
    seconds: float = 0.0
    logins_note: str = ""


def demo_files() -> list[Path]:
    return sorted(DEMO_DIR.glob("*.json"))


def demo_users_ensure() -> list[str]:
    """Create the demo logins that do not exist yet. Never changes an existing user."""
    created = []
    for login in DEMO_LOGINS:
        if User.objects.filter(username=login.username).exists():
            continue
        user = User.objects.create_user(
            username=login.username,
            password=login.password,
            is_staff=True,  # all three log in to /admin/; permissions decide what they see
            is_superuser=login.superuser,
        )
        if login.group:
            user.groups.add(Group.objects.get(name=login.group))
        created.append(login.username)
    return created


def _demo_patients_ensure(report: DemoSeedReport, sources: list[str]) -> None:
    """A Patient per chart Patient of the demo files, registered through patient_create."""
    chart_patients = FhirResource.objects.filter(resource_type="Patient", source__in=sources).values_list(
        "data", flat=True
    )
    for resource in chart_patients:
        mrn = mrn_of(resource) or None
        if mrn and Patient.objects.filter(mrn=mrn).exists():
            report.patients_existing += 1
            continue
        ident = parse_identity(resource)
        phone = next((t.get("value", "") for t in resource.get("telecom") or [] if t.get("system") == "phone"), "")
        gender = resource.get("gender") or "unknown"
        try:
            patient_create(
                given_name=ident["given_name"],
                family_name=clean_name(ident["family_name"]),
                birth_date=date.fromisoformat(ident["birth_date"]),
                sex=gender if gender in Patient.Sex.values else Patient.Sex.UNKNOWN,
                phone=phone,
                mrn=mrn,
                actor_label="seed_demo",
            )
        except PatientDuplicateError:
            # Registered by hand before the seed ran (same name and birth date): leave it alone.
            report.patients_existing += 1
            continue
        report.patients_created += 1


def demo_seed() -> DemoSeedReport:
    started = time.monotonic()
    report = DemoSeedReport()
    files = demo_files()
    for path in files:
        result = fhir_bundle_load(path=path)
        if result.skipped:
            report.files_skipped += 1
        else:
            report.files_loaded += 1
    with transaction.atomic():
        _demo_patients_ensure(report, [p.name for p in files])
        roles_ensure()
        if settings.DEBUG:
            report.users_created = demo_users_ensure()
    report.logins_note = demo_logins_text()
    report.seconds = time.monotonic() - started
    return report


def demo_logins_text() -> str:
    if not settings.DEBUG:
        return "DEBUG is off: no demo logins exist; create users with `manage.py createsuperuser`."
    lines = ["Demo logins (development only, DEBUG=true):"]
    for login in DEMO_LOGINS:
        lines.append(f"  {login.username:<9} / {login.password:<19} {login.role}")
    return "\n".join(lines)
