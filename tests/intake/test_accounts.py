"""Accounts: lockout, the TOTP step, staff session limits, API token life, rate limits, deploy checks.

Every test goes through the real app (Django's test client; the chat through the emulator).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from intake import services
from intake.middleware import LAST_SEEN_AT, SIGNED_IN_AT
from intake.models import ApiToken
from intake.tokens import api_token_issue
from patients.models import AuditEvent, Patient
from tests.roles import grant_roles

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fast_and_fresh(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    cache.clear()  # rate-limit counters start at zero


@pytest.fixture
def desk(db: Any) -> User:
    return grant_roles(User.objects.create_user("desk", password=PASSWORD, is_staff=True))


def _login(client: Client, username: str, password: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password, "next": "/staff/"})


# --- Lockout (django-axes) ------------------------------------------------------------------------


def test_the_right_password_is_refused_after_five_failures(client: Client, desk: User, settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "desk", "wrong-password").status_code == 200  # the form again, with an error
    assert _login(client, "desk", "wrong-password").status_code == 429  # the fifth failure locks

    locked = _login(client, "desk", PASSWORD)

    assert locked.status_code == 429
    assert "Account locked for now" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/staff/").status_code == 302  # still signed out


def test_a_success_before_the_limit_clears_the_count(client: Client, desk: User, settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "desk", "wrong-password")
    assert _login(client, "desk", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "desk", "wrong-password")
    assert _login(client, "desk", PASSWORD).status_code == 302


def test_login_posts_are_rate_limited_per_address(client: Client, desk: User, settings: Any) -> None:
    settings.RATE_LIMIT_LOGIN_PER_MINUTE = 3
    settings.AXES_FAILURE_LIMIT = 100  # so the rate limit, not the lockout, answers
    for _ in range(3):
        assert _login(client, "nobody", "x").status_code == 200
    limited = _login(client, "desk", PASSWORD)
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert "too many sign-in attempts from this network" in limited.content.decode()
    other_address = Client(REMOTE_ADDR="10.0.0.9")
    assert _login(other_address, "desk", PASSWORD).status_code == 302


# --- TOTP second factor ---------------------------------------------------------------------------


def _code(device: TOTPDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def test_with_otp_required_staff_enrol_then_pass_a_code(client: Client, desk: User, settings: Any) -> None:
    settings.OTP_REQUIRED = True
    assert _login(client, "desk", PASSWORD)["Location"] == "/staff/"

    sent = client.get("/staff/")
    assert sent.status_code == 302 and sent["Location"].startswith("/accounts/mfa/?next=/staff/")
    assert client.get("/admin/").status_code == 302  # the admin refuses an account that owes its code too
    enrol = client.get(sent["Location"])
    assert enrol.status_code == 200 and b"Set up your authenticator" in enrol.content and b"<svg" in enrol.content
    device = TOTPDevice.objects.get(user=desk)
    assert not device.confirmed

    wrong = client.post("/accounts/mfa/", {"code": "000000" if _code(device) != "000000" else "111111"})
    assert wrong.status_code == 400 and b"That code is not right" in wrong.content
    assert client.get("/staff/").status_code == 302
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None  # no wait for the test
    device.save()

    ok = client.post("/accounts/mfa/", {"code": _code(device), "next": "/staff/"})

    assert ok.status_code == 302 and ok["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    assert TOTPDevice.objects.get(user=desk).confirmed
    assert AuditEvent.objects.filter(actor=desk, action="mfa.enrol").exists()

    # The next sign-in asks for a code (no new QR code), even once OTP_REQUIRED is off again.
    settings.OTP_REQUIRED = False
    second = Client()
    _login(second, "desk", PASSWORD)
    asked = second.get(second.get("/staff/")["Location"])
    assert b"Enter your authenticator code" in asked.content and b"<svg" not in asked.content
    device.refresh_from_db()
    assert second.post("/accounts/mfa/", {"code": _code(device, drift=1)}).status_code == 302
    assert second.get("/staff/").status_code == 200


def test_without_otp_required_demo_logins_need_no_code(client: Client, desk: User, settings: Any) -> None:
    settings.OTP_REQUIRED = False
    _login(client, "desk", PASSWORD)
    assert client.get("/staff/").status_code == 200


# --- Staff session limits -------------------------------------------------------------------------


def _age_session(client: Client, **seconds_ago: float) -> None:
    session = client.session
    for key, ago in seconds_ago.items():
        session[key] = time.time() - ago
    session.save()


def test_thirty_idle_minutes_sign_staff_out(client: Client, desk: User) -> None:
    _login(client, "desk", PASSWORD)
    assert client.get("/staff/").status_code == 200
    _age_session(client, **{LAST_SEEN_AT: 29 * 60})
    assert client.get("/staff/").status_code == 200  # 29 idle minutes: still in

    _age_session(client, **{LAST_SEEN_AT: 31 * 60})
    out = client.get("/staff/")

    assert out.status_code == 302 and out["Location"].startswith("/accounts/login/")
    login_page = client.get(out["Location"])
    assert b"signed out after 30 minutes without activity" in login_page.content
    assert client.get("/staff/").status_code == 302


def test_twelve_hours_after_sign_in_staff_are_signed_out_however_active(client: Client, desk: User) -> None:
    _login(client, "desk", PASSWORD)
    _age_session(client, **{SIGNED_IN_AT: 12 * 3600 + 5, LAST_SEEN_AT: 10})
    out = client.get("/staff/")
    assert out.status_code == 302 and out["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


# --- API tokens -----------------------------------------------------------------------------------


def _api(token: str, path: str = "/api/v1/summaries") -> Any:
    return Client().get(path, headers={"Authorization": f"Bearer {token}"})


def test_api_tokens_expire(desk: User) -> None:
    token = api_token_issue(username="desk", days=30)
    stored = ApiToken.objects.get(user=desk)
    assert timedelta(days=29) < stored.expires_at - timezone.now() <= timedelta(days=30)
    assert _api(token).status_code == 200
    ApiToken.objects.filter(pk=stored.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _api(token).status_code == 401


def test_api_tokens_die_on_password_change_and_deactivation(desk: User) -> None:
    token = api_token_issue(username="desk")
    assert _api(token).status_code == 200
    desk.set_password("a-brand-new-password-7")
    desk.save()
    assert _api(token).status_code == 401

    second = api_token_issue(username="desk")
    assert _api(second).status_code == 200
    User.objects.filter(pk=desk.pk).update(is_active=False)
    assert _api(second).status_code == 401


def test_api_tokens_are_listed_and_revoked_in_the_admin(desk: User) -> None:
    token = api_token_issue(username="desk", label="lab-integration")
    admin_user = User.objects.create_superuser("root", password=PASSWORD)
    client = Client()
    client.force_login(admin_user)
    listing = client.get("/admin/intake/apitoken/")
    assert listing.status_code == 200 and b"lab-integration" in listing.content and b"Live" in listing.content

    stored = ApiToken.objects.get(label="lab-integration")
    done = client.post(
        "/admin/intake/apitoken/", {"action": "revoke_selected", "_selected_action": [str(stored.pk)]}, follow=True
    )

    assert b"1 token revoked." in done.content
    assert _api(token).status_code == 401
    assert AuditEvent.objects.filter(actor=admin_user, action="api_token.revoke", object_id=str(stored.pk)).exists()


def test_the_api_is_rate_limited_per_token(desk: User, settings: Any) -> None:
    settings.RATE_LIMIT_API_PER_MINUTE = 3
    token = api_token_issue(username="desk")
    assert [_api(token).status_code for _ in range(3)] == [200, 200, 200]
    limited = _api(token)
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert limited.json() == {"detail": "Too many requests. Please wait a minute and try again."}


# --- Chat links ---------------------------------------------------------------------------------


@pytest.fixture
def intake(desk: User) -> tuple[int, str]:
    patient = Patient.objects.create(given_name="Ann", family_name="Example", birth_date="1980-02-03")
    session, token = services.intake_start(patient=patient, actor=desk)
    return session.pk, token


def test_chat_page_loads_are_rate_limited_per_link(intake: tuple[int, str], settings: Any) -> None:
    settings.RATE_LIMIT_CHAT_PAGE_PER_MINUTE = 2
    _, token = intake
    client = Client()
    # The link's first visit moves the token out of the URL (a redirect to /i/); each load counts.
    assert [client.get(f"/i/{token}/").status_code for _ in range(2)] == [302, 302]
    limited = client.get(f"/i/{token}/")
    assert limited.status_code == 429 and b"Please wait a minute" in limited.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("use_emulator")
def test_one_chat_link_gets_a_few_model_turns_a_minute_then_a_friendly_429(
    intake: tuple[int, str], settings: Any, emulator: Any
) -> None:
    settings.RATE_LIMIT_CHAT_MESSAGES_PER_MINUTE = 2
    intake_id, token = intake
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/intakes/{intake_id}/messages"
    before = len(emulator.requests())

    answers = [
        Client().post(url, json.dumps({"text": f"Message {i}"}), content_type="application/json", headers=headers)
        for i in range(5)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429, 429, 429]
    assert answers[2].json()["detail"].startswith("You are sending messages faster than I can answer.")
    model_calls = [r for r in emulator.requests()[before:] if r["method"] == "POST"]
    assert 2 <= len(model_calls) <= 2 * 3  # two turns (each one to three calls); none for the refused ones
    stream = Client().post(
        f"{url}/stream", json.dumps({"text": "again"}), content_type="application/json", headers=headers
    )
    assert stream.status_code == 429  # the streaming endpoint shares the budget


def test_a_post_turned_away_before_the_model_costs_no_budget(intake: tuple[int, str], settings: Any) -> None:
    settings.RATE_LIMIT_CHAT_MESSAGES_PER_MINUTE = 2
    intake_id, token = intake
    from datetime import timedelta

    from django.utils import timezone

    from intake.models import IntakeSession

    # Another message is being answered: every post is refused with 409 before the model.
    IntakeSession.objects.filter(pk=intake_id).update(
        lease_token="someone-else", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    url = f"/api/v1/intakes/{intake_id}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    statuses = [
        Client().post(url, json.dumps({"text": "hi"}), content_type="application/json", headers=headers).status_code
        for _ in range(4)
    ]
    assert statuses == [409, 409, 409, 409]  # refused by the service, never counted


# --- Deployment --------------------------------------------------------------------------------


def test_production_settings_pass_check_deploy_at_warning_level_and_require_otp() -> None:
    """One subprocess (settings are read at import): DEBUG off, nothing else set but the key and host."""
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "ci-only-" + "k" * 56, "ALLOWED_HOSTS": "clinic.example"}
    for name in ("OTP_REQUIRED", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE"):
        env.pop(name, None)
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.OTP_REQUIRED, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.CACHES['default']['BACKEND'].endswith('RedisCache')); "
        "from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING')"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "intake.settings"},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0].split() == ["True"] * 6
    assert "no issues" in out.stdout + out.stderr
