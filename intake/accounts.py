"""Second factor (TOTP, django-otp) for staff: enrol a device on first use, then a code per sign-in."""

from __future__ import annotations

import base64

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from patients.models import AuditEvent


def mfa_device_for(user: User) -> tuple[TOTPDevice, bool]:
    """The user's confirmed authenticator, or a pending one to enrol (True: enrolling)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is not None:
        return device, False
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device, True


def mfa_secret_text(device: TOTPDevice) -> str:
    """The key as authenticator apps expect it typed in: base32, in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def mfa_verify(*, request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    """Check a code; on success confirm a pending device and mark this session verified."""
    allowed, _ = device.verify_is_allowed()  # django-otp slows down repeated wrong codes
    if not allowed or not device.verify_token(code.replace(" ", "")):
        return False
    action = "mfa.verify"
    if not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        action = "mfa.enrol"
    otp_login(request, device)
    AuditEvent.objects.create(actor=request.user, action=action, object_type="User", object_id=str(request.user.pk))
    return True
