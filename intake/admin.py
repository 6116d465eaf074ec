"""Admin for intake sessions; turns are shown read-only inline (they are append-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from intake import selectors
from intake.models import ApiToken, IntakeRecord, IntakeRecordVersion, IntakeSession, IntakeTurn
from intake.tokens import api_token_is_live, api_token_revoke
from patients.adminsearch import PostSearchMixin


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

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The turns are the patient's own words: clinicians only, not everyone who sees the intake.
        return super().has_view_permission(request, obj) and request.user.has_perm("intake.view_transcript")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _may_read_record(request: HttpRequest) -> bool:
    """The record is what the patient said: whoever may read the conversation (clinicians)."""
    return request.user.has_perms(("intake.view_intakesession", "intake.view_transcript"))


def _record_html(session_id: int) -> str:
    record = selectors.intake_records_for_staff([session_id]).get(session_id)
    if record is None:
        return "No record yet."
    return render_to_string("staff/_record.html", {"record": record})


class _ReadOnlyRecord:
    """Records change only through the intake's turns; the admin shows them, never edits them."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or _may_read_record(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IntakeRecordVersionInline(_ReadOnlyRecord, admin.TabularInline):
    model = IntakeRecordVersion
    extra = 0
    can_delete = False
    fields = ("version", "turn", "created_at", "link")
    readonly_fields = fields
    ordering = ("version",)

    @admin.display(description="Stored version")
    def link(self, obj: IntakeRecordVersion) -> str:
        url = reverse("admin:intake_intakerecordversion_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.version)


@admin.register(IntakeRecord)
class IntakeRecordAdmin(_ReadOnlyRecord, admin.ModelAdmin):
    list_display = ("__str__", "session", "version", "updated_at")
    list_select_related = ("session",)
    fields = ("session", "version", "updated_at", "record", "document")
    readonly_fields = fields
    inlines = (IntakeRecordVersionInline,)

    @admin.display(description="Record (as clinicians see it)")
    def record(self, obj: IntakeRecord) -> str:
        return _record_html(obj.session_id)


@admin.register(IntakeRecordVersion)
class IntakeRecordVersionAdmin(_ReadOnlyRecord, admin.ModelAdmin):
    list_display = ("__str__", "record", "version", "turn", "created_at")
    list_select_related = ("record",)
    fields = ("record", "version", "turn", "created_at", "document")
    readonly_fields = fields


@admin.register(IntakeSession)
class IntakeSessionAdmin(PostSearchMixin, admin.ModelAdmin):
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
        fields = [f.name for f in IntakeSession._meta.concrete_fields if f.name not in self.exclude]
        return [*fields, "intake_record"] if _may_read_record(request) else fields

    @admin.display(description="Intake record")
    def intake_record(self, obj: IntakeSession) -> str:
        if obj.pk is None:
            return ""
        record_id = IntakeRecord.objects.filter(session_id=obj.pk).values_list("pk", flat=True).first()
        link = (
            format_html(
                '<p><a href="{}">The record with its stored versions</a></p>',
                reverse("admin:intake_intakerecord_change", args=[record_id]),
            )
            if record_id
            else ""
        )
        return format_html("{}{}", link, _record_html(obj.pk))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # intakes are started from the staff pages or the API, which issue the token

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical records leave only through `manage.py retention_purge`


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Every staff API token, live or not; revoke from the list. New ones: `manage.py issue_api_token`."""

    list_display = ("__str__", "user", "label", "state", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("user",)
    fields = ("user", "label", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke_selected",)

    @admin.display(description="State")
    def state(self, obj: ApiToken) -> str:
        if obj.revoked_at:
            return "Revoked"
        if obj.expires_at is None or obj.expires_at <= timezone.now():
            return "Expired"
        return "Live" if api_token_is_live(obj) else "Dead (password changed or user inactive)"

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = api_token_revoke(token_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        self.message_user(request, f"{count} token{'' if count == 1 else 's'} revoked.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued by the command, which shows the token once
