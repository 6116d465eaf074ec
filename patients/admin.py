"""Admin for patients, the chart store and the audit trail (the last two are read-only), and the
reviewers' tool: the PatientSummary admin (queue, transcript, reconciliation, edits, decisions and
the FHIR export). Every write goes through `patients.services`; every look is audited there too.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from patients import services
from patients.adminsearch import PostSearchMixin
from patients.fhir_export import FhirExportError
from patients.forms import PatientSummaryReviewForm
from patients.models import AuditEvent, FhirResource, FhirSource, Patient, PatientSummary
from patients.review import reconciliation_rows, section_changes


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never editable here: these rows are written by services only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def staff_page_url(patient_id: int) -> str:
    return reverse("staff:patient", args=[patient_id])


@admin.register(Patient)
class PatientAdmin(PostSearchMixin, admin.ModelAdmin):
    list_display = ("__str__", "birth_date", "sex", "mrn", "fhir_patient_id", "created_at", "staff_page")
    list_filter = ("sex",)
    search_fields = ("given_name", "family_name", "mrn", "fhir_patient_id")
    readonly_fields = ("created_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical records leave only through `manage.py retention_purge`

    def view_on_site(self, obj: Patient) -> str:  # the "View on site" button: the staff patient page
        return staff_page_url(obj.pk)

    @admin.display(description="Staff page")
    def staff_page(self, obj: Patient) -> SafeString:
        return format_html('<a href="{}">Open</a>', staff_page_url(obj.pk))


@admin.register(FhirResource)
class FhirResourceAdmin(PostSearchMixin, ReadOnlyAdmin):
    list_display = ("resource_type", "resource_id", "patient_ref", "source", "loaded_at")
    list_filter = ("resource_type",)
    search_fields = ("resource_id", "patient_ref")
    show_full_result_count = False


@admin.register(FhirSource)
class FhirSourceAdmin(ReadOnlyAdmin):
    list_display = ("name", "resource_count", "sha256", "loaded_at")


@admin.register(AuditEvent)
class AuditEventAdmin(PostSearchMixin, ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "actor_label", "patient", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "patient")


# --- The reviewers' PatientSummary admin -----------------------------------------------------------

URGENCY_RANK = Case(
    When(urgency=PatientSummary.Urgency.EMERGENT, then=Value(0)),
    When(urgency=PatientSummary.Urgency.URGENT, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
# Submit-button name -> (service, past tense for the message, whether a note is required).
DECISIONS = {
    "_approve": (services.summary_approve, "approved", False),
    "_request_changes": (services.summary_request_changes, "sent back for changes", True),
    "_reject": (services.summary_reject, "rejected", True),
}
DECISION_ACTIONS = ("approve_selected", "request_changes_selected", "reject_selected")
NO_APPROVE_MESSAGE = (
    "You do not have permission to approve, reject or request changes to summaries "
    "(a reviewer with “Can approve, reject or request changes to a summary” must do it). Nothing was changed."
)
TRANSCRIPT_ROLES = ("patient", "model")
TRANSCRIPT_PERMISSION = "intake.view_transcript"
EXPORT_PERMISSION = "patients.export_fhir"


def _lines(value: Any) -> str:
    return "\n".join(str(v) for v in value) if isinstance(value, list) else ""


def _pairs(value: Any) -> str:
    return "\n".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items() if v) if isinstance(value, dict) else ""


@admin.register(PatientSummary)
class PatientSummaryAdmin(PostSearchMixin, SimpleHistoryAdmin):
    """A clinician's review queue: emergent first, then oldest first within an urgency."""

    form = PatientSummaryReviewForm
    list_display = (
        "summary_label",
        "patient_name",
        "patient_mrn",
        "chief_complaint_short",
        "urgency_badge",
        "review_status",
        "reviewer",
        "research_status",
        "created_at",
    )
    list_display_links = ("summary_label", "patient_name")
    list_filter = ("urgency", "review_status")
    search_fields = ("patient__given_name", "patient__family_name", "patient__mrn", "data__chief_complaint")
    search_help_text = "Search by patient name, MRN or chief complaint."
    list_select_related = ("patient", "reviewer")
    list_per_page = 50
    actions = DECISION_ACTIONS
    history_list_display = ("review_status", "urgency", "review_note")
    change_form_template = "admin/patients/patientsummary/change_form.html"
    edit_fields = (
        "urgency_level",
        "chief_complaint",
        "history_of_present_illness",
        "patient_name",
        ("contact_phone", "contact_email"),
        ("insurance_payer", "insurance_member_id"),
        ("tobacco", "alcohol", "occupation"),
    )
    display_fields = ("summary_display",)
    always_readonly = (
        "patient_link",
        "review_state",
        "urgency_badge",
        "red_flags",
        "reconciliation",
        "transcript",
    )

    class Media:
        css = {"all": ("patients/review_admin.css",)}
        js = ("patients/review_admin.js",)

    # --- Permissions ---------------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # summaries come from intakes

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a reviewed summary is a record; reject it instead

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.APPROVE_PERMISSION)

    # --- List --------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[PatientSummary]:
        # The rank must exist before ModelAdmin.get_queryset would order by it, so build it here.
        qs = self.model._default_manager.get_queryset().annotate(urgency_rank=URGENCY_RANK)
        # prefetch: one query for the research column of the whole page
        return qs.prefetch_related("research_jobs").order_by(*self.get_ordering(request))

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
        return ("urgency_rank", "created_at")

    @admin.display(description="Research")
    def research_status(self, obj: PatientSummary) -> str:
        jobs = list(obj.research_jobs.all())
        if not jobs:
            return "—"
        latest = max(jobs, key=lambda job: job.created_at)
        more = f" (+{len(jobs) - 1} earlier)" if len(jobs) > 1 else ""
        return f"{latest.get_status_display()}{more}"

    @admin.display(description="Summary", ordering="pk")
    def summary_label(self, obj: PatientSummary) -> str:
        return f"#{obj.pk}"

    @admin.display(description="Patient", ordering="patient__family_name")
    def patient_name(self, obj: PatientSummary) -> str:
        return obj.patient.full_name

    @admin.display(description="MRN", ordering="patient__mrn")
    def patient_mrn(self, obj: PatientSummary) -> str:
        return obj.patient.mrn or "—"

    @admin.display(description="Chief complaint")
    def chief_complaint_short(self, obj: PatientSummary) -> str:
        text = str((obj.data or {}).get("chief_complaint", "")) or "—"
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="Urgency", ordering="urgency_rank")
    def urgency_badge(self, obj: PatientSummary) -> SafeString:
        urgency = obj.urgency if obj.urgency in PatientSummary.Urgency.values else "routine"
        return format_html('<span class="urgency-badge urgency-{}">{}</span>', urgency, obj.get_urgency_display())

    # --- Change page -------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[str | None, dict[str, Any]]]:
        editable = obj is not None and self.has_change_permission(request, obj)
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ("patient_link", "urgency_badge", "red_flags", "review_state")}),
            ("Summary", {"fields": self.edit_fields if editable else self.display_fields}),
            ("Chart against patient-reported", {"fields": ("reconciliation",)}),
            ("Review", {"fields": ("review_note",)}),
        ]
        if request.user.has_perm(TRANSCRIPT_PERMISSION):  # the patient's own words: clinicians only
            fieldsets.append(("Intake transcript", {"fields": ("transcript",)}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and self.has_change_permission(request, obj):
            return self.always_readonly
        return (*self.always_readonly, *self.display_fields, "review_note")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None or not self.has_change_permission(request, obj):
            kwargs["form"] = forms.ModelForm  # view-only: nothing to edit, nothing to validate
            kwargs["fields"] = []
        return super().get_form(request, obj, change, **kwargs)

    def view_on_site(self, obj: PatientSummary) -> str:  # the "View on site" button: the staff patient page
        return staff_page_url(obj.patient_id)

    @admin.display(description="Patient")
    def patient_link(self, obj: PatientSummary) -> SafeString:
        p = obj.patient
        return format_html(
            '{} · born {} · MRN {} · <a href="{}">staff page</a>',
            p.full_name,
            p.birth_date.isoformat(),
            p.mrn or "not recorded",
            staff_page_url(p.pk),
        )

    @admin.display(description="Review status")
    def review_state(self, obj: PatientSummary) -> SafeString:
        if obj.reviewer_id is None:
            return format_html("{}", obj.get_review_status_display())
        when = obj.reviewed_at.strftime("%Y-%m-%d %H:%M") if obj.reviewed_at else ""
        who = obj.reviewer.get_full_name() or obj.reviewer.get_username()
        return format_html("{} by {} {}", obj.get_review_status_display(), who, when)

    @admin.display(description="Red flags")
    def red_flags(self, obj: PatientSummary) -> SafeString:
        flags = [str(f) for f in (obj.data or {}).get("red_flags") or [] if f]
        if not flags:
            return format_html('<span class="red-flags-none">{}</span>', "None reported")
        return format_html('<ul class="red-flags">{}</ul>', format_html_join("", "<li>{}</li>", ((f,) for f in flags)))

    @admin.display(description="Summary")
    def summary_display(self, obj: PatientSummary) -> SafeString:
        data = obj.data or {}
        meds = [
            f"{m.get('name', '')} {m.get('dose', '')} {m.get('frequency', '')} [{m.get('status', '')}]"
            for m in data.get("medications") or []
            if isinstance(m, dict)
        ]
        allergies = [
            f"{a.get('substance', '')} {a.get('reaction', '')} [{a.get('status', '')}]"
            for a in data.get("allergies") or []
            if isinstance(a, dict)
        ]
        rows = [
            ("Chief complaint", data.get("chief_complaint", "")),
            ("History of present illness", data.get("history_of_present_illness", "")),
            ("Medications", "\n".join(meds)),
            ("Allergies", "\n".join(allergies)),
            ("Past history", _lines(data.get("past_history"))),
            ("Family history", _lines(data.get("family_history"))),
            ("Insurance", _pairs(data.get("insurance"))),
            ("Social history", _pairs(data.get("social_history"))),
            ("Red flags", _lines(data.get("red_flags"))),
            ("Recommended follow-up", _lines(data.get("recommended_follow_up"))),
        ]
        return format_html(
            '<dl class="summary-display">{}</dl>',
            format_html_join("", "<dt>{}</dt><dd>{}</dd>", ((k, v or "—") for k, v in rows)),
        )

    @admin.display(description="Reconciliation")
    def reconciliation(self, obj: PatientSummary) -> SafeString:
        rows = reconciliation_rows(data=obj.data or {}, chart_snapshot=obj.chart_snapshot or {})
        if not rows:
            return format_html('<p class="help">{}</p>', "No medications or allergies, reported or charted.")
        body = format_html_join(
            "",
            '<tr class="recon-row recon-{}"><td>{}</td><td>{}</td><td>{}</td>'
            '<td><span class="recon-status status-{}">{}</span>{}</td></tr>',
            (
                (
                    r.kind,
                    "Medication" if r.kind == "medication" else "Allergy",
                    r.chart_entry or "— not in chart",
                    r.patient_said or "— not mentioned",
                    r.status,
                    r.status_label,
                    format_html(' <span class="recon-rule">(rules say: {})</span>', r.rule_status_label)
                    if r.rule_status
                    else "",
                )
                for r in rows
            ),
        )
        return format_html(
            '<table class="reconciliation"><thead><tr><th>Kind</th><th>Chart entry</th>'
            "<th>Patient said</th><th>Status</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="Transcript")
    def transcript(self, obj: PatientSummary) -> SafeString:
        session = getattr(obj, "intake_session", None)  # reverse one-to-one: absent raises, getattr hides it
        if session is None:
            return format_html('<p class="help">{}</p>', "No intake conversation is linked to this summary.")
        turns = session.turns.filter(role__in=TRANSCRIPT_ROLES).order_by("index")
        items = format_html_join(
            "",
            '<li class="turn turn-{}"><span class="turn-who">{}</span><div class="turn-text">{}</div></li>',
            ((t.role, "Patient" if t.role == "patient" else "Assistant", t.text) for t in turns),
        )
        return (
            format_html('<ol class="transcript">{}</ol>', items)
            if items
            else format_html('<p class="help">{}</p>', "The conversation has no messages.")
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        decision = next((d for d in DECISIONS if d in request.POST), None) if request.method == "POST" else None
        refused = decision and not self.has_approve_permission(request)
        if obj is not None and refused and self.has_change_permission(request, obj):
            self.message_user(request, NO_APPROVE_MESSAGE, messages.ERROR)
            return HttpResponseRedirect(request.path)
        if obj is not None and request.method == "GET" and self.has_view_or_change_permission(request, obj):
            services.summary_record_view(summary=obj, viewer=request.user)
        context = {
            **(extra_context or {}),
            "can_review": self.has_approve_permission(request),
            "can_export": obj is not None
            and obj.review_status == PatientSummary.ReviewStatus.APPROVED
            and request.user.has_perm(EXPORT_PERMISSION),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def save_model(self, request: HttpRequest, obj: PatientSummary, form: Any, change: bool) -> None:
        was_approved = PatientSummary.objects.filter(
            pk=obj.pk, review_status=PatientSummary.ReviewStatus.APPROVED
        ).exists()
        data = form.cleaned_data.get("summary_data")
        if data is None:  # a form without the summary fields (never for editors); keep the data
            data = PatientSummary.objects.values_list("data", flat=True).get(pk=obj.pk)
        services.summary_update(
            summary=obj, data=data, editor=request.user, review_note=form.cleaned_data.get("review_note")
        )
        decision = next((d for d in DECISIONS if d in request.POST), None)
        if was_approved and obj.review_status == PatientSummary.ReviewStatus.PENDING and decision != "_approve":
            self.message_user(
                request, "The summary was edited after approval, so it is pending review again.", messages.WARNING
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return  # no related objects are edited here

    def response_change(self, request: HttpRequest, obj: PatientSummary) -> HttpResponse:
        decision = next((d for d in DECISIONS if d in request.POST), None)
        if decision is None:
            return super().response_change(request, obj)
        service, done, _ = DECISIONS[decision]
        try:
            service(summary=obj, reviewer=request.user, note=obj.review_note)
        except services.SummaryPermissionError:
            self.message_user(request, NO_APPROVE_MESSAGE, messages.ERROR)
        except services.SummaryInvalidError as exc:
            self.message_user(request, f"Not {done}: the summary does not validate: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Summary #{obj.pk} {done}.", messages.SUCCESS)
        return HttpResponseRedirect(request.path)

    def set_history_delta_changes(self, request: HttpRequest, historical_records: Any, **kwargs: Any) -> None:
        """The history page's "Changes" column per summary section, in words (not one JSON blob)."""
        previous = None
        for current in historical_records:  # newest first: each record is compared with the one before it
            if previous is not None:
                changes = section_changes(current.data or {}, previous.data or {})
                for field in ("review_status", "review_note"):
                    old, new = getattr(current, field), getattr(previous, field)
                    if old != new:
                        label = PatientSummary._meta.get_field(field).verbose_name.capitalize()
                        changes.append({"field": label, "old": old or "—", "new": new or "—"})
                previous.history_delta_changes = changes
            previous = current

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and response.status_code == 200:
            services.summary_record_view(summary=obj, viewer=request.user, what="history")
        return response

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if not (str(object_id).isdigit() and str(version_id).isdigit()):
            raise Http404("No such version.")  # simple_history would pass the text to the query: a 500
        response = super().history_form_view(request, object_id, version_id, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and request.method == "GET" and response.status_code == 200:
            services.summary_record_view(summary=obj, viewer=request.user, what="history_version")
        return response

    # --- Actions (changelist) ----------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST" and request.POST.get("action") in DECISION_ACTIONS:
            if not self.has_approve_permission(request):
                self.message_user(request, NO_APPROVE_MESSAGE, messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            if not all(pk.isdigit() for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
                # The admin would filter pk__in=["abc"] and fail with a 500.
                self.message_user(request, "Select summaries from the list; nothing was changed.", messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl") if request.method == "GET" else None
        if cl is not None and response.status_code == 200:
            services.summary_record_list(viewer=request.user, shown=len(cl.result_list), searched=bool(cl.query))
        return response

    def _decide_many(self, request: HttpRequest, queryset: QuerySet[PatientSummary], decision: str) -> None:
        service, done, _ = DECISIONS[decision]
        ok, invalid = 0, []
        for summary in queryset:
            try:
                service(summary=summary, reviewer=request.user)
            except services.SummaryPermissionError:
                self.message_user(request, NO_APPROVE_MESSAGE, messages.ERROR)
                return
            except services.SummaryInvalidError:
                invalid.append(f"#{summary.pk}")
            else:
                ok += 1
        if ok:
            self.message_user(request, f"{ok} summar{'y' if ok == 1 else 'ies'} {done}.", messages.SUCCESS)
        if invalid:
            self.message_user(
                request,
                f"Not {done} (the summary does not validate; open it to fix): {', '.join(invalid)}.",
                messages.ERROR,
            )

    @admin.action(description="Approve selected summaries", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[PatientSummary]) -> None:
        self._decide_many(request, queryset, "_approve")

    @admin.action(description="Request changes to selected summaries", permissions=["approve"])
    def request_changes_selected(self, request: HttpRequest, queryset: QuerySet[PatientSummary]) -> None:
        self._decide_many(request, queryset, "_request_changes")

    @admin.action(description="Reject selected summaries", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[PatientSummary]) -> None:
        self._decide_many(request, queryset, "_reject")

    # --- FHIR export -------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        info = (self.model._meta.app_label, self.model._meta.model_name)
        custom = [
            path(
                "<path:object_id>/fhir/",
                self.admin_site.admin_view(self.fhir_export_view),
                name="{}_{}_fhir".format(*info),
            )
        ]
        return custom + super().get_urls()

    def fhir_export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if not (self.has_view_or_change_permission(request, obj) and request.user.has_perm(EXPORT_PERMISSION)):
            raise PermissionDenied
        try:
            bundle = services.summary_fhir_export(summary=obj, actor=request.user)
        except (services.SummaryNotApprovedError, FhirExportError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:patients_patientsummary_change", args=[obj.pk])
            )
        response = HttpResponse(json.dumps(bundle, indent=2), content_type="application/fhir+json")
        response["Content-Disposition"] = f'attachment; filename="summary-{obj.pk}-fhir.json"'
        return response
