"""Who may open a staff page: a signed-in, active staff account with the page's permissions, past
its second factor when one is required. Anonymous users go to the login page; anyone else who
falls short gets a 403 that shows no data."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_otp import user_has_device

ViewFunc = Callable[..., HttpResponse]


def mfa_pending(user: Any) -> bool:
    """Whether a signed-in user still owes a one-time code: always when OTP_REQUIRED is on (first
    they enrol a device), otherwise only if they enrolled one."""
    if not user.is_authenticated or user.is_verified():
        return False
    return settings.OTP_REQUIRED or user_has_device(user, confirmed=True)


def staff_perms_required(*perms: str) -> Callable[[ViewFunc], ViewFunc]:
    """Staff pages: login, then the second factor, then every one of `perms` (app_label.codename)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not (user.is_active and user.is_staff):
                raise PermissionDenied("Staff pages are for clinic staff accounts.")
            if mfa_pending(user):
                return redirect_to_login(request.get_full_path(), login_url=reverse("mfa"))
            if not user.has_perms(perms):
                raise PermissionDenied("Your account does not have permission to open this page.")
            return view(request, *args, **kwargs)

        wrapper.required_permissions = perms  # type: ignore[attr-defined]  # read by the URL walk test
        return wrapper

    return decorator
