"""The log filter drops exception messages (they can quote PHI) and keeps type and frames."""

from __future__ import annotations

import logging
import sys

from intake.logfilters import ExceptionMessageFilter


def test_exception_message_is_withheld_and_frames_kept() -> None:
    phi = "Jane Doe born 1980-03-07"
    try:
        raise ValueError(phi)
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed on %s", ("intake 7",), sys.exc_info())
    assert ExceptionMessageFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "Jane" not in text and "1980" not in text
    assert "failed on intake 7" in text
    assert "ValueError (message withheld)" in text
    assert "test_logfilters.py" in text


def test_records_without_exceptions_pass_unchanged() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "job %s", (3,), None)
    assert ExceptionMessageFilter().filter(record)
    assert record.getMessage() == "job 3"


def test_celery_task_failure_line_withholds_the_exception_text() -> None:
    phi = "Jane Doe born 1980-03-07"
    args = {"name": "agents.tasks.research_job_poll", "id": "abc", "description": "raised unexpected"}
    record = logging.LogRecord(
        "celery.app.trace", logging.ERROR, __file__, 1, "Task %(name)s[%(id)s] %(description)s: %(exc)s", None, None
    )
    record.args = {**args, "exc": ValueError(phi)}
    assert ExceptionMessageFilter().filter(record)
    message = record.getMessage()
    assert "Jane" not in message
    assert message.endswith("raised unexpected: ValueError (message withheld)")
