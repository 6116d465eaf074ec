"""Pages and plain-HTTP endpoints of the intake project."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from intake import health


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health.health_check()
    return JsonResponse(report, status=200 if report["ok"] else 503)
