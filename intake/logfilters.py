"""A log filter that keeps exception messages out of the logs.

An exception's message can quote request data or a database row (a name, a date of birth, an
MRN). Tracebacks stay useful without it: the filter keeps the exception type and the frames
(file, line, source line) and drops the message, for every logger that reaches the handler,
Django's own `django.request` and (with the root logger left to Django) Celery's workers included.
"""

from __future__ import annotations

import logging
import traceback


class ExceptionMessageFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Celery's task-failure line ("Task x[id] raised unexpected: %(exc)s") quotes the exception.
        if isinstance(record.args, dict) and isinstance(record.args.get("exc"), BaseException):
            record.args = {**record.args, "exc": f"{type(record.args['exc']).__name__} (message withheld)"}
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            frames = "".join(traceback.format_tb(tb))
            record.msg = f"{record.getMessage()}\n{exc_type.__name__} (message withheld)\n{frames}".rstrip()
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
