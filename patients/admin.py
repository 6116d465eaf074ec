"""Admin for patients, the chart store and the audit trail (the last two are read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from patients.models import AuditEvent, FhirResource, FhirSource, Patient, PatientSummary


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never editable here: these rows are written by services only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("__str__", "birth_date", "sex", "mrn", "fhir_patient_id", "created_at")
    list_filter = ("sex",)
    search_fields = ("given_name", "family_name", "mrn", "fhir_patient_id")
    readonly_fields = ("created_at",)


@admin.register(FhirResource)
class FhirResourceAdmin(ReadOnlyAdmin):
    list_display = ("resource_type", "resource_id", "patient_ref", "source", "loaded_at")
    list_filter = ("resource_type",)
    search_fields = ("resource_id", "patient_ref")
    show_full_result_count = False


@admin.register(FhirSource)
class FhirSourceAdmin(ReadOnlyAdmin):
    list_display = ("name", "resource_count", "sha256", "loaded_at")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "actor_label", "patient", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "patient")


@admin.register(PatientSummary)
class PatientSummaryAdmin(admin.ModelAdmin):
    """Basic until the reviewers' admin lands."""

    list_display = ("__str__", "patient", "urgency", "review_status", "reviewer", "created_at")
    list_filter = ("urgency", "review_status")
    search_fields = ("patient__given_name", "patient__family_name", "patient__mrn")
    list_select_related = ("patient", "reviewer")
    raw_id_fields = ("patient",)
    readonly_fields = ("created_at",)
