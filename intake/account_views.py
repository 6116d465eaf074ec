"""Account pages: the one-time code step (enrol an authenticator, then a code per sign-in) and the
page a locked-out login gets. Thin: parse, call intake.accounts, render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from intake import accounts
from intake.qr import qr_svg


class MfaCodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        label="6-digit code",
        error_messages={"invalid": "Enter the 6 digits your authenticator app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if target and ok else settings.LOGIN_REDIRECT_URL


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def mfa(request: HttpRequest) -> HttpResponse:
    if request.user.is_verified():
        return HttpResponseRedirect(_next(request))
    device, enrolling = accounts.mfa_device_for(request.user)
    form = MfaCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if accounts.mfa_verify(request=request, device=device, code=form.cleaned_data["code"]):
            return HttpResponseRedirect(_next(request))
        form.add_error("code", "That code is not right. Enter the code your authenticator app shows now.")
    context: dict[str, Any] = {"form": form, "enrolling": enrolling, "next": _next(request)}
    if enrolling:
        context |= {"qr": qr_svg(device.config_url), "secret": accounts.mfa_secret_text(device)}
    return render(request, "registration/mfa.html", context, status=400 if form.errors else 200)


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes calls this when a locked-out username tries to sign in: 429, no detail given away."""
    cooloff = settings.AXES_COOLOFF_TIME.total_seconds() // 60
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": int(cooloff)}
    return render(request, "registration/locked_out.html", context, status=429)
