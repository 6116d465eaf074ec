"""The Celery application. Settings come from Django settings under the CELERY_ namespace."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intake.settings")

app = Celery("intake")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def _audit_request_id(task_id: str | None = None, **kwargs: object) -> None:
    # Audit rows a task writes carry its task id where a web request's rows carry the request id.
    from patients.audit import current_request_id

    current_request_id.set(f"task-{task_id}"[:64] if task_id else "")
