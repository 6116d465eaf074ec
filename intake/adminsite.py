"""The admin site: Django's, plus the one-time code step. An account that still owes its code is
treated as having no admin access and is sent to /accounts/mfa/."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from patients.access import mfa_pending


class ClinicAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not mfa_pending(request.user)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The password step is Django's admin login (django-axes and the login rate limit watch it);
        # an account past it that still owes its code goes to the code step instead of back here.
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and mfa_pending(user):
            target = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = reverse("admin:index", current_app=self.name)
            return redirect_to_login(target, login_url=reverse("mfa"))
        return super().login(request, extra_context)
