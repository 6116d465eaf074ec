"""A log filter that keeps exception messages out of the logs.

An exception's message can quote request data or a database row (a name, a date of birth, an
MRN). Tracebacks stay useful without it: the filter keeps the exception type and the frames
(file, line, source line) and drops the message, for every logger that reaches the handler,
Django's own `django.request` and (with the root logger left to Django) Celery's workers included.
"""

from __future__ import annotations

import logging
import re
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


class ChatTokenFilter(logging.Filter):
    """Masks the token of a chat link (`/i/<token>/`) in any log line, e.g. a dev server's or a
    proxy-style request line: only the link's first request carries it, and not even that is kept."""

    _LINK = re.compile(r"/i/(?!review\b)[A-Za-z0-9_\-]{8,}")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/i/" in message:
            masked = self._LINK.sub("/i/[token]", message)
            if masked != message:
                record.msg, record.args = masked, None
        return True
