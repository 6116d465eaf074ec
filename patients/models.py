"""Patients, their chart (FHIR R4 resources), their intake summaries and the audit trail."""

from __future__ import annotations

import json

import pgtrigger
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords

from patients.audit import GENESIS, audit_hash, current_request_id


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a row of an append-only table."""


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk `update()` and `delete()` are refused too (on PostgreSQL a trigger refuses any)."""

    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self):  # type: ignore[no-untyped-def]
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")


def append_only_trigger() -> pgtrigger.Protect:
    """On PostgreSQL the database itself refuses to change or delete an append-only row, whoever
    asks (bulk queries, raw SQL, a cascade). A no-op on SQLite, where the queryset refuses."""
    return pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


class AppendOnlyModel(models.Model):
    """Rows are written once. Updates and deletes are refused so the record stays a record."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    mrn = models.CharField("MRN", max_length=64, unique=True, null=True, blank=True)
    # The chart link: the id of this patient's FHIR Patient resource (local store or FHIR server).
    fhir_patient_id = models.CharField("chart id", max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [models.Index(fields=["family_name", "given_name", "birth_date"])]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class FhirResource(models.Model):
    """One FHIR R4 resource of the local chart store, as validated JSON."""

    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=64)
    # The FHIR Patient id this resource belongs to ("" for resources that belong to nobody).
    patient_ref = models.CharField(max_length=64, blank=True, db_index=True)
    data = models.JSONField()
    source = models.CharField(max_length=255, blank=True, help_text="File the resource was loaded from")
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resource_type", "resource_id"], name="fhir_resource_unique")]
        indexes = [models.Index(fields=["patient_ref", "resource_type"])]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


class PatientSummary(models.Model):
    """The structured result of an intake: full JSON plus indexed columns for review."""

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"
        EMERGENT = "emergent", "Emergent"

    class ReviewStatus(models.TextChoices):
        PENDING = "pending", "Pending review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="summaries")
    data = models.JSONField(help_text="The full PatientSummarySchema JSON")
    # Chart data the summary was reconciled against, kept so review sees what the model saw.
    chart_snapshot = models.JSONField(default=dict, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE, db_index=True)
    review_status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.PENDING, db_index=True
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    review_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "patient summaries"
        ordering = ["-created_at"]
        permissions = [
            ("approve_patientsummary", "Can approve, reject or request changes to a summary"),
            ("export_fhir", "Can export an approved summary as a FHIR bundle"),
        ]

    def __str__(self) -> str:
        return f"Summary #{self.pk} ({self.get_review_status_display()})"


class AuditEvent(AppendOnlyModel):
    """Who did what to which patient's data, and when. Never holds PHI in `detail`.

    Rows form a hash chain (patients/audit.py): `manage.py audit_verify` finds any change."""

    class Action(models.TextChoices):
        """Every audit action, in one place; a row with any other action is refused."""

        LOGIN = "auth.login", "Signed in"
        LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
        LOGOUT = "auth.logout", "Signed out"
        PHI_VIEW = "phi.view", "Viewed a patient's data"
        PHI_LIST = "phi.list", "Viewed a list with patients' data"
        API_TOKEN_ISSUE = "api_token.issue", "API token issued"
        API_TOKEN_REVOKE = "api_token.revoke", "API token revoked"
        MFA_ENROL = "mfa.enrol", "Second factor enrolled"
        MFA_VERIFY = "mfa.verify", "Second factor verified"
        PATIENT_CREATE = "patient.create", "Patient registered"
        PATIENT_LINK_CHART = "patient.link_chart", "Chart linked"
        CHART_READ = "chart.read", "Chart read"
        CHART_IDENTITY = "chart.identity", "Chart identity read"
        CHART_DENIED = "chart.denied", "Chart read refused"
        INTAKE_START = "intake.start", "Intake started"
        INTAKE_RED_FLAG = "intake.red_flag", "Red flag raised"
        INTAKE_LINK_REVOKE = "intake.link_revoke", "Chat link revoked"
        SUMMARY_CREATE = "summary.create", "Summary created"
        SUMMARY_VIEW = "summary.view", "Summary viewed"
        SUMMARY_LIST = "summary.list", "Summaries listed"
        SUMMARY_CHANGE = "summary.change", "Summary changed"
        SUMMARY_APPROVE = "summary.approve", "Summary approved"
        SUMMARY_REJECT = "summary.reject", "Summary rejected"
        SUMMARY_REQUEST_CHANGES = "summary.request_changes", "Summary changes requested"
        SUMMARY_EXPORT_FHIR = "summary.export_fhir", "Summary exported as FHIR"
        RESEARCH_REQUESTED = "research.requested", "Research requested"
        RESEARCH_REFUSED = "research.refused", "Research refused"
        RESEARCH_CANCELLED = "research.cancelled", "Research cancelled"
        RETENTION_PURGE = "retention.purge", "Records purged by the retention command"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # For actors that are not users: "patient-session:12", "tool:ehr_lookup", "worker".
    actor_label = models.CharField(max_length=100, blank=True)
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The request (or task) that wrote the row, as in the X-Request-ID response header.
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        triggers = [append_only_trigger()]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._state.adding:
            super().save(*args, **kwargs)  # refused by AppendOnlyModel
            return
        if self.action not in self.Action.values:
            raise ValueError(f"Unknown audit action {self.action!r}: add it to AuditEvent.Action.")
        self.request_id = self.request_id or current_request_id.get()
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # One writer at a time extends the chain (SQLite's write lock does this already).
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])
            previous = AuditEvent.objects.order_by("-pk").values_list("hash", flat=True).first()
            self.prev_hash = previous or GENESIS
            self.detail = json.loads(json.dumps(self.detail, default=str))  # hashed as it will be read back
            self.hash = audit_hash(self.prev_hash, self.hashed_values())
            super().save(*args, **kwargs)

    def hashed_values(self) -> dict[str, object]:
        return {
            "created_at": self.created_at,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "patient_id": self.patient_id,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "detail": self.detail,
            "request_id": self.request_id,
        }


AUDIT_CHAIN_LOCK = 0x4155444954  # "AUDIT": the advisory lock key of the audit chain


class FhirSource(models.Model):
    """One bundle file loaded into the chart store, with the hash of the content that was loaded.

    Lets `seed_demo` skip files that did not change, and lets a reload replace exactly the
    resources a file brought in."""

    name = models.CharField(max_length=255, unique=True, help_text="File name the bundle was loaded from")
    sha256 = models.CharField(max_length=64)
    resource_count = models.PositiveIntegerField(default=0)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
