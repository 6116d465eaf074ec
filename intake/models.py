"""Intake sessions and their append-only turns: the local record of truth of every conversation."""

from __future__ import annotations

from django.db import models

from patients.models import AppendOnlyModel, Patient, PatientSummary, append_only_trigger


class IntakeSession(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        REVIEW = "review", "Patient reviewing"
        SUMMARIZING = "summarizing", "Summarizing"
        COMPLETED = "completed", "Completed"
        MANUAL = "manual", "Needs manual summary"
        CANCELLED = "cancelled", "Cancelled"

    class Mode(models.TextChoices):
        CHAINED = "chained", "Chained (server-side state)"
        STATELESS = "stateless", "Stateless (history re-sent, store=false)"

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"
        EMERGENT = "emergent", "Emergent"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="intake_sessions")
    # sha256 of the patient's access token; the token itself is shown once, in the link.
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.CHAINED)
    store = models.BooleanField(default=True, help_text="Whether interactions are stored by Gemini")
    # Head of the remote chain, advanced by compare-and-set on head_version.
    head_interaction_id = models.CharField(max_length=128, blank=True)
    head_version = models.PositiveIntegerField(default=0)
    head_created_at = models.DateTimeField(null=True, blank=True)
    # In-flight lease: set while a model call runs so a second post gets 409, no lock held.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    step_index = models.PositiveSmallIntegerField(default=0)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE, db_index=True)
    emergency_flagged = models.BooleanField(default=False, db_index=True)
    rebuild_count = models.PositiveIntegerField(default=0, help_text="Times the context was rebuilt locally")
    # Per-step answers the plan tracks (declined questions, review corrections).
    answers = models.JSONField(default=dict, blank=True)
    summary = models.OneToOneField(
        PatientSummary, null=True, blank=True, on_delete=models.SET_NULL, related_name="intake_session"
    )
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("start_intake", "Can start an intake and hand its chat link to a patient"),
            ("view_transcript", "Can read the intake conversation (the patient's own words)"),
        ]

    def __str__(self) -> str:
        return f"Intake #{self.pk}"


class IntakeTurn(AppendOnlyModel):
    """One message in a session. Written before the model call (patient) and after it (model)."""

    class Role(models.TextChoices):
        PATIENT = "patient", "Patient"
        MODEL = "model", "Assistant"
        TOOL = "tool", "Tool"
        SYSTEM = "system", "System"

    session = models.ForeignKey(IntakeSession, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    step = models.PositiveSmallIntegerField(default=0, help_text="Plan step this turn belongs to")
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True, help_text="Type and size only, never content")
    interaction_id = models.CharField(max_length=128, blank=True)
    previous_interaction_id = models.CharField(max_length=128, blank=True)
    request_bytes = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    thought_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    # The key the chat page sends with a patient message, so a retried post is stored once.
    idempotency_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "index"]
        constraints = [
            models.UniqueConstraint(fields=["session", "index"], name="intake_turn_unique_index"),
            models.UniqueConstraint(
                fields=["session", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="intake_turn_unique_idempotency_key",
            ),
        ]
        triggers = [append_only_trigger()]

    def __str__(self) -> str:
        return f"Turn {self.index} of intake #{self.session_id}"


class IntakeRecord(models.Model):
    """The live record of what an intake has understood (`intake.record.IntakeRecordSchema` as JSON).

    `version` goes up by one with each patient turn; every version is kept in IntakeRecordVersion."""

    session = models.OneToOneField(IntakeSession, on_delete=models.CASCADE, related_name="record")
    document = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Record of intake #{self.session_id} (v{self.version})"


class IntakeRecordVersion(AppendOnlyModel):
    """One stored version of an intake record: the history of every answer and correction."""

    record = models.ForeignKey(IntakeRecord, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    turn = models.PositiveIntegerField(help_text="Patient turn number (1 = first patient message)")
    document = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["record", "version"]
        constraints = [models.UniqueConstraint(fields=["record", "version"], name="intake_record_unique_version")]

    def __str__(self) -> str:
        return f"Record of intake #{self.record_id} v{self.version}"


class ApiToken(models.Model):
    """A staff member's bearer token for the JSON API. Only its hash is stored."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A token works until it expires, is revoked, or its user changes password (the fingerprint
    # of the password hash at issue no longer matches) or is deactivated.
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    password_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    def __str__(self) -> str:
        return f"API token #{self.pk} for {self.user}"
