"""Patients, their chart (FHIR R4 resources), their intake summaries and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a row of an append-only table."""


class AppendOnlyModel(models.Model):
    """Rows are written once. Updates and deletes are refused so the record stays a record."""

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
    """Who did what to which patient's data, and when. Never holds PHI in `detail`."""

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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


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
