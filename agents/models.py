"""Deep Research jobs: a background Gemini agent run, claimed and polled by Celery workers."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models

from patients.models import Patient, PatientSummary


class ResearchJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        STARTING = "starting", "Starting"
        RUNNING = "running", "Running"
        SUMMARIZING = "summarizing", "Writing brief"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        TIMED_OUT = "timed_out", "Timed out"

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="research_jobs")
    summary = models.ForeignKey(
        PatientSummary, null=True, blank=True, on_delete=models.SET_NULL, related_name="research_jobs"
    )
    question = models.TextField()
    # The exact de-identified prompt that left the clinic.
    prompt = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    remote_interaction_id = models.CharField(max_length=128, blank=True)
    brief_interaction_id = models.CharField(max_length=128, blank=True)
    report = models.TextField(blank=True)
    brief = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    # The poll chain's lease: a poll arriving before this is a duplicate and stops; one long past
    # it means the chain was lost (crashed worker, lost message) and the reconciler re-queues it.
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("request_research", "Can request and cancel a de-identified research job")]
        triggers = [
            # On PostgreSQL a job is never deleted, and whose it is, what was asked and what was sent never
            # change; its status and results move on by compare-and-set updates (agents/services.py).
            pgtrigger.Protect(name="research_job_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="research_job_request_fixed",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange("patient", "question", "prompt"),
            ),
        ]

    def __str__(self) -> str:
        return f"Research job #{self.pk} ({self.get_status_display()})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
