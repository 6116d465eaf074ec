"""The admin site: same as Django's, but signing in goes through the staff login (rate limit,
lockout) and, where required, the one-time code step; an account that still owes its code is
treated as having no admin access."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from patients.access import mfa_pending


class ClinicAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not mfa_pending(request.user)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return HttpResponseRedirect(target)
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and mfa_pending(user):
            return redirect_to_login(target, login_url=reverse("mfa"))
        return redirect_to_login(target)
