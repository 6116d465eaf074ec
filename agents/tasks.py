"""Celery tasks for Deep Research jobs: thin, id-only wrappers around agents.services.

`acks_late` is set only where running a task twice is harmless: start and poll claim the job by
compare-and-set, so a redelivery after a worker crash does nothing twice. Polling re-queues
itself with `self.retry(countdown=...)`, never sleeps, so a waiting job never holds a worker slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Task, shared_task

from agents import services

# Each run makes at most one or two short Gemini calls; these bound a hung HTTP call.
_CALL_TIME_LIMIT = 200
_CALL_SOFT_TIME_LIMIT = 180


# Start and poll share their options and their body: run one step, re-queue when it says so.
_STEP_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "max_retries": None,
    "time_limit": _CALL_TIME_LIMIT,
    "soft_time_limit": _CALL_SOFT_TIME_LIMIT,
    "ignore_result": True,
}


def _step(task: Task, step: Callable[..., float | None], job_id: int) -> None:
    countdown = step(job_id=int(job_id))
    if countdown is not None:
        raise task.retry(countdown=countdown)


@shared_task(**_STEP_OPTIONS)
def research_job_start(self: Task, job_id: int) -> None:
    _step(self, services.research_job_start, job_id)


@shared_task(**_STEP_OPTIONS)
def research_job_poll(self: Task, job_id: int) -> None:
    _step(self, services.research_job_poll, job_id)


# Not acks_late: beat sends it again within a minute, so a lost run costs nothing, while a
# redelivered backlog of reconciles after an outage would only add noise.
@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def research_jobs_reconcile() -> dict[str, int]:
    return services.research_jobs_reconcile()
