"""Admin for Deep Research jobs."""

from __future__ import annotations

from django.contrib import admin

from agents.models import ResearchJob


@admin.register(ResearchJob)
class ResearchJobAdmin(admin.ModelAdmin):
    list_display = ("__str__", "patient", "status", "poll_count", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("remote_interaction_id", "patient__family_name")
    list_select_related = ("patient",)
    raw_id_fields = ("patient", "summary", "requested_by")
    readonly_fields = (
        "remote_interaction_id",
        "brief_interaction_id",
        "created_at",
        "started_at",
        "finished_at",
    )
