"""Admin for intake sessions; turns are shown read-only inline (they are append-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from intake.models import IntakeSession, IntakeTurn


class IntakeTurnInline(admin.TabularInline):
    model = IntakeTurn
    extra = 0
    can_delete = False
    fields = (
        "index",
        "role",
        "step",
        "text",
        "interaction_id",
        "input_tokens",
        "output_tokens",
        "created_at",
    )
    readonly_fields = fields
    ordering = ("index",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IntakeSession)
class IntakeSessionAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "patient",
        "status",
        "urgency",
        "emergency_flagged",
        "step_index",
        "created_at",
    )
    list_filter = ("status", "urgency", "emergency_flagged", "mode")
    search_fields = ("patient__given_name", "patient__family_name", "patient__mrn")
    list_select_related = ("patient",)
    raw_id_fields = ("patient", "summary", "created_by")
    exclude = ("token_hash", "lease_token")  # secrets-ish: never shown or edited here
    inlines = (IntakeTurnInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The conversation's state moves only through intake services (lease + compare-and-set);
        # an admin save in the middle of a turn must not write stale values back.
        return [f.name for f in IntakeSession._meta.concrete_fields if f.name not in self.exclude]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # intakes are started from the staff pages or the API, which issue the token

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical records leave only through `manage.py retention_purge`
