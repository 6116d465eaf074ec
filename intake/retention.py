"""Retention: the one way intake conversations and research jobs are deleted (docs/security.md).

Nothing clinical can be deleted from the admin, and on PostgreSQL triggers refuse deletes from
anywhere else; this service lifts them for exactly its own deletes, in one transaction, and
audits what it removed (counts only). Patients, their summaries (the clinical record) and the
audit trail are kept.
"""

from __future__ import annotations

from datetime import datetime

import pgtrigger
from django.db import transaction

from agents.models import ResearchJob
from intake.links import FINISHED
from intake.models import IntakeSession, IntakeTurn
from patients.models import AuditEvent


def retention_purge(*, before: datetime, dry_run: bool = True, actor_label: str = "retention_purge") -> dict[str, int]:
    """Delete finished intakes (with their turns) and finished research jobs created before `before`."""
    sessions = IntakeSession.objects.filter(created_at__lt=before, status__in=FINISHED)
    turns = IntakeTurn._base_manager.filter(session__in=sessions)
    jobs = ResearchJob.objects.filter(created_at__lt=before, status__in=ResearchJob.TERMINAL)
    counts = {"intakes": sessions.count(), "intake_turns": turns.count(), "research_jobs": jobs.count()}
    if dry_run:
        return counts
    with (
        transaction.atomic(),
        pgtrigger.ignore("intake.IntakeTurn:append_only", "agents.ResearchJob:research_job_no_delete"),
    ):
        turns._raw_delete(turns.db)
        sessions.delete()
        jobs.delete()
        AuditEvent.objects.create(
            actor_label=actor_label,
            action=AuditEvent.Action.RETENTION_PURGE,
            detail={"before": before.isoformat(), **counts},
        )
    return counts
