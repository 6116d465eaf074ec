"""Session limits for signed-in staff, and the login rate limit.

Both only ever act on staff accounts and login forms. They are sync and async capable, so the
patient chat's async endpoints run without a thread hop for them (an anonymous chat session is
read with `request.auser()`, which needs no thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import sync_and_async_middleware

from intake.ratelimit import rate_limit_hit

SIGNED_IN_AT = "staff_signed_in_at"
LAST_SEEN_AT = "staff_last_seen_at"
# Writing the session on every request would be a database write per page; a minute is precise enough.
SEEN_RESOLUTION_SECONDS = 60
LOGIN_PATHS = ("/accounts/login/", "/admin/login/", "/accounts/mfa/")


@receiver(user_logged_in, dispatch_uid="intake.staff_session_start")
def _session_start(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN_AT] = now


def _staff_session_check(request: HttpRequest) -> HttpResponse | None:
    """Sign out after STAFF_IDLE_TIMEOUT_SECONDS without a request, and STAFF_SESSION_MAX_SECONDS
    after sign-in however active the session was."""
    if request.user.is_authenticated:
        now = time.time()
        signed_in = request.session.setdefault(SIGNED_IN_AT, now)
        last_seen = request.session.setdefault(LAST_SEEN_AT, now)
        idle = now - last_seen > settings.STAFF_IDLE_TIMEOUT_SECONDS
        if idle or now - signed_in > settings.STAFF_SESSION_MAX_SECONDS:
            logout(request)
            why = (
                f"after {settings.STAFF_IDLE_TIMEOUT_SECONDS // 60} minutes without activity"
                if idle
                else f"at the end of the {settings.STAFF_SESSION_MAX_SECONDS // 3600}-hour session limit"
            )
            messages.info(request, f"You were signed out {why}. Please sign in again.")
            return redirect_to_login(request.get_full_path())
        if now - last_seen >= SEEN_RESOLUTION_SECONDS:
            request.session[LAST_SEEN_AT] = now
    return None


@sync_and_async_middleware
def StaffSessionLimitMiddleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponse:
            user = await request.auser()
            if user.is_authenticated:
                early = await sync_to_async(_staff_session_check)(request)
                if early is not None:
                    return early
            return await get_response(request)

        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return _staff_session_check(request) or get_response(request)

    return middleware


def _login_rate_limited(request: HttpRequest) -> HttpResponse | None:
    """At most RATE_LIMIT_LOGIN_PER_MINUTE login (and code) submissions per client address."""
    if request.method == "POST" and request.path in LOGIN_PATHS:
        address = request.META.get("REMOTE_ADDR", "")
        if rate_limit_hit(scope="login", key=address, limit=settings.RATE_LIMIT_LOGIN_PER_MINUTE):
            response = render(request, "registration/rate_limited.html", status=429)
            response["Retry-After"] = "60"
            return response
    return None


@sync_and_async_middleware
def LoginRateLimitMiddleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponse:
            if request.method == "POST" and request.path in LOGIN_PATHS:  # the chat never hops a thread
                early = await sync_to_async(_login_rate_limited)(request)
                if early is not None:
                    return early
            return await get_response(request)

        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return _login_rate_limited(request) or get_response(request)

    return middleware
