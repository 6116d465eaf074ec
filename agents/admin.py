"""Admin for the agents app."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from agents import services
from agents.models import ResearchJob


@admin.register(ResearchJob)
class ResearchJobAdmin(admin.ModelAdmin):
    """Research jobs, with a self-updating status column (static/js/research.js)."""

    list_display = ["id", "patient", "summary", "live_status", "elapsed", "created_at", "requested_by"]
    list_filter = ["status", "created_at"]
    list_select_related = ["patient", "summary", "requested_by"]
    # Search by id only: searching free text would put PHI into admin URLs.
    search_fields = ["=id", "=remote_interaction_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "patient",
        "summary",
        "question",
        "prompt",
        "status",
        "live_status",
        "elapsed",
        "remote_interaction_id",
        "brief_interaction_id",
        "rendered_brief",
        "rendered_report",
        "source_links",
        "usage",
        "error",
        "poll_count",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "deadline_at",
        "next_poll_at",
    ]
    exclude = ["report", "brief", "sources"]

    class Media:
        js = ["js/research.js"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # jobs are requested from a summary so the prompt is always checked

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # jobs leave only through `manage.py retention_purge`

    @admin.display(description="Status")
    def live_status(self, obj: ResearchJob) -> str:
        view = services.research_job_view(obj)
        if obj.is_terminal:
            return obj.get_status_display()
        return format_html(
            '<span data-research-status-url="{}?compact=1">{} <progress max="100" value="{}"></progress></span>',
            reverse("research:status", args=[obj.pk]),
            obj.get_status_display(),
            view.progress,
        )

    @admin.display(description="Elapsed")
    def elapsed(self, obj: ResearchJob) -> str:
        return services.research_job_view(obj).elapsed_display

    @admin.display(description="Brief")
    def rendered_brief(self, obj: ResearchJob) -> str:
        return services.research_job_view(obj).brief_html or "-"

    @admin.display(description="Report")
    def rendered_report(self, obj: ResearchJob) -> str:
        return services.research_job_view(obj).report_html or "-"

    @admin.display(description="Sources")
    def source_links(self, obj: ResearchJob) -> str:
        links = services.research_job_view(obj).sources
        if not links:
            return "-"
        items = format_html_join(
            "",
            '<li><a href="{}" rel="noopener noreferrer" target="_blank">{}</a></li>',
            ((s["url"], s["title"]) for s in links),
        )
        return format_html("<ol>{}</ol>", items)
