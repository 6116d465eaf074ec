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
from csp import middleware as csp_middleware
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as sessions
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware import clickjacking, common, csrf, security
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


# --- Django's own middlewares without a thread hop on the async path ------------------------------------
# `MiddlewareMixin.__acall__` runs every `process_request` and `process_response` through
# `sync_to_async`: two thread hops per middleware per request, sixteen for a streamed chat turn, when
# these hooks only look at headers and set lazy attributes. `inline_hooks_install()` (AppConfig.ready)
# gives Django's own middleware classes below an `__acall__` that runs them in the event loop instead.
# The classes stay Django's own, named as Django's deploy checks expect them in MIDDLEWARE. A hook that
# may do I/O (saving a modified session, storing used messages, a CSRF token kept in the session) says
# so below and runs in a thread as before. If an inlined hook ever touched the database, Django's
# async-unsafe guard would raise SynchronousOnlyOperation: loud in tests, never a silently blocked loop.
# The sync path (WSGI, the test client) is untouched.

Hop = Callable[..., bool] | None


def _session_save_needed(request: HttpRequest, response: HttpResponse) -> bool:
    session = getattr(request, "session", None)
    return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


def _messages_stored(request: HttpRequest, response: HttpResponse) -> bool:
    storage = getattr(request, "_messages", None)
    return storage is not None and bool(storage.used or storage.added_new)


def _csrf_in_session(request: HttpRequest, *args: Any) -> bool:
    return bool(settings.CSRF_USE_SESSIONS)


# class: (when process_request needs a thread, when process_response does); None: never.
INLINE_MIDDLEWARE: dict[type, tuple[Hop, Hop]] = {
    security.SecurityMiddleware: (None, None),  # the HTTPS redirect and headers
    sessions.SessionMiddleware: (None, _session_save_needed),  # the store is lazy; saving writes
    common.CommonMiddleware: (None, None),  # user-agent and slash checks against the URLconf
    csrf.CsrfViewMiddleware: (_csrf_in_session, _csrf_in_session),  # a cookie, unless kept in the session
    auth_middleware.AuthenticationMiddleware: (None, None),  # the lazy request.user / request.auser
    message_middleware.MessageMiddleware: (None, _messages_stored),  # untouched messages store nothing
    clickjacking.XFrameOptionsMiddleware: (None, None),  # one header
    csp_middleware.CSPMiddleware: (None, None),  # a lazy nonce and the policy header
}


def _inline_acall(hop_request: Hop, hop_response: Hop) -> Callable[..., Any]:
    async def __acall__(self: Any, request: HttpRequest) -> HttpResponse:
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            if hop_request is not None and hop_request(request):
                response = await sync_to_async(process_request, thread_sensitive=True)(request)
            else:
                response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if hop_response is not None and hop_response(request, response):
                response = await sync_to_async(process_response, thread_sensitive=True)(request, response)
            else:
                response = process_response(request, response)
        return response

    __acall__.inline_hooks = True  # type: ignore[attr-defined]
    return __acall__


def inline_hooks_install() -> None:
    """Give the middleware classes above their in-loop `__acall__` (idempotent)."""
    for cls, (hop_request, hop_response) in INLINE_MIDDLEWARE.items():
        if not getattr(cls.__dict__.get("__acall__"), "inline_hooks", False):
            cls.__acall__ = _inline_acall(hop_request, hop_response)  # type: ignore[attr-defined]
