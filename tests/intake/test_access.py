"""Least privilege, proved by walking EVERY URL pattern of the urlconf as every role.

Roles: anonymous, a staff account with no permissions, the `staff` group (front desk), the
`reviewers` group (clinicians) and a superuser. Ids in the patterns are filled from the objects
below. Each (URL, role) must get the status its permissions call for, and a refused request's
body must hold none of the patient's identifiers or words. A URL added to the urlconf without an
entry here makes the test fail, so no page escapes the walk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from agents.models import ResearchJob
from intake import services
from intake.models import ApiToken, IntakeRecord, IntakeRecordVersion
from intake.tokens import api_token_issue
from patients.models import Patient, PatientSummary
from patients.roles import REVIEWERS_GROUP, STAFF_GROUP
from tests.patients.summary_factory import add_transcript, make_summary
from tests.roles import grant_roles

ROLES = ("anonymous", "no_perms", "staff", "reviewer", "superuser")

# Things only this patient's record holds; none may appear in a refused response.
PHI = (
    "Quintessa",
    "Zeppelinova",
    "MRN-PHI-4242",
    "555-867-5309",
    "wrist-phi-complaint",
    "transcript-phi-words",
    "record-phi-words",
)

# The app's own pages: the permissions each needs (all of them). Every non-admin URL name must be
# listed here, in PUBLIC or in PATIENT_LINK.
PAGE_PERMS: dict[str, tuple[str, ...]] = {
    "staff:dashboard": ("intake.view_intakesession",),
    "staff:dashboard-rows": ("intake.view_intakesession",),
    "staff:patient-register": ("patients.add_patient",),
    "staff:patient": ("patients.view_patient",),
    "staff:patient-list": ("patients.view_patient",),
    "staff:intake-revoke": ("intake.start_intake",),
    "staff:intake-start": ("patients.view_patient", "intake.start_intake"),
    "staff:kiosk": ("intake.start_intake",),
    "research:request-summary": ("agents.request_research",),
    "research:request-patient": ("agents.request_research",),
    "research:detail": ("agents.view_researchjob",),
    "research:status": ("agents.view_researchjob",),
    "research:cancel": ("agents.request_research",),
}
API_PERMS: dict[str, tuple[str, ...]] = {
    "api-v1:patient_create": ("patients.add_patient",),
    "api-v1:intake_create": ("patients.view_patient", "intake.start_intake"),
    "api-v1:intake_detail": ("intake.view_intakesession", "intake.view_transcript"),
    "api-v1:intake_message": ("intake.start_intake",),
    "api-v1:intake_message_stream": ("intake.start_intake",),
    "api-v1:intake_complete": ("intake.start_intake",),
    "api-v1:summary_list": ("patients.view_patientsummary",),
    "api-v1:summary_detail": ("patients.view_patientsummary",),
}
# Open to anyone (no object data behind them), or only to a signed-in account for its own settings.
PUBLIC = {
    "healthz",
    "home",  # sends each kind of user to their start page; nothing of a patient on it
    "api-v1:openapi-json",
    "api-v1:openapi-view",
    "api-v1:api-root",
    "login",
    "logout",
    "mfa",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}
# The link (then the browser session it opened) is the credential, not a role.
PATIENT_LINK = {"patient-chat", "patient-chat-current", "patient-chat-review"}
# Admin pages with no object data: the site itself, its assets, and redirects.
ADMIN_NO_DATA = {"admin:index", "admin:login", "admin:logout", "admin:jsi18n", "admin:autocomplete"}
POST_ONLY = {"staff:intake-start", "staff:kiosk", "research:cancel", "staff:intake-revoke"}


@dataclass
class World:
    patient: Patient
    summary: PatientSummary
    job: ResearchJob
    active_token: str
    done_intake_id: int
    users: dict[str, User | None]
    api_tokens: dict[str, str]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def world(db: Any) -> World:
    patient = Patient.objects.create(
        given_name="Quintessa",
        family_name="Zeppelinova",
        birth_date="1961-04-05",
        sex="female",
        phone="555-867-5309",
        mrn="MRN-PHI-4242",
    )
    summary = make_summary(patient=patient, chief_complaint="wrist-phi-complaint")
    done = add_transcript(summary, [("patient", "transcript-phi-words"), ("model", "Thank you.")])
    # The live record (and a stored version of it) holds the patient's words too.
    document = {"chief_complaint": {"state": "value", "value": "record-phi-words", "turns": [1]}}
    record = IntakeRecord.objects.create(session=done, document=document, version=1)
    IntakeRecordVersion.objects.create(record=record, version=1, turn=1, document=document)
    job = ResearchJob.objects.create(patient=patient, summary=summary, question="Dosing?", prompt="Dosing?")

    users: dict[str, User | None] = {"anonymous": None}
    for role in ROLES[1:]:
        # No password hashing: these accounts sign in with force_login.
        user = User.objects.create(username=role, is_staff=True, is_superuser=role == "superuser")
        users[role] = user
    grant_roles(users["staff"], STAFF_GROUP)  # type: ignore[arg-type]
    grant_roles(users["reviewer"], REVIEWERS_GROUP)  # type: ignore[arg-type]
    PatientSummary.objects.filter(pk=summary.pk).update(
        review_status=PatientSummary.ReviewStatus.APPROVED, reviewer=users["reviewer"]
    )
    users = {role: (User.objects.get(pk=u.pk) if u else None) for role, u in users.items()}
    # One device of each kind, unconfirmed so no account owes a code (OTP_REQUIRED is off in tests).
    TOTPDevice.objects.create(user=users["superuser"], name="phone", confirmed=False)
    StaticDevice.objects.create(user=users["superuser"], name="backup", confirmed=False)
    api_tokens = {role: api_token_issue(username=role) for role in ROLES[1:]}
    _, active_token = services.intake_start(patient=patient, actor=users["superuser"])
    return World(patient, summary, job, active_token, done.pk, users, api_tokens)


def _walk(patterns: list[Any], prefix: str = "", ns: str | None = None) -> list[tuple[str, str | None, Any]]:
    found: list[tuple[str, str | None, Any]] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = f"{ns}:{p.namespace}" if ns and p.namespace else (p.namespace or ns)
            found += _walk(p.url_patterns, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern):
            name = f"{ns}:{p.name}" if ns and p.name else p.name
            found.append((prefix + str(p.pattern), name, p))
    return found


ALL_PATTERNS = _walk(get_resolver().url_patterns)


def _object_for(app_label: str, model_name: str, world: World) -> Any:
    model = next(
        (m for m in admin.site._registry if (m._meta.app_label, m._meta.model_name) == (app_label, model_name)), None
    )
    if model is None:
        return None
    preferred = {
        "patients.patient": world.patient,
        "patients.patientsummary": world.summary,
        "agents.researchjob": world.job,
    }.get(f"{app_label}.{model_name}")
    return preferred or model._default_manager.order_by("pk").first()


def _fill(route: str, world: World) -> str:
    """A concrete path for a route: ids from the world, the admin's model from the path itself."""
    if route.startswith("admin/patients/patientsummary/^"):  # simple_history's regex version page
        version = world.summary.history.order_by("history_id").first()
        return reverse("admin:patients_patientsummary_simple_history", args=[world.summary.pk, version.history_id])
    if route.startswith("admin/^"):
        return "/admin/patients/"
    if route == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    admin_model = re.match(r"admin/(\w+)/(\w+)/", route)
    obj = _object_for(*admin_model.groups(), world) if admin_model else None
    values = {
        "patient_id": world.patient.pk,
        "summary_id": world.summary.pk,
        "job_id": world.job.pk,
        "intake_id": world.done_intake_id,
        "token": world.active_token,
        "object_id": obj.pk if obj is not None else 999999,
        "pk": obj.pk if obj is not None else 999999,
        "id": obj.pk if obj is not None else 999999,
        "content_type_id": ContentType.objects.get_for_model(Patient).pk,
        "uidb64": "MQ",
        "url": "x",
    }
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)
    path = path.replace("{token}", "set-password")  # password reset confirm's token
    return "/" + path


def _admin_allowed(name: str, path: str, user: User | None, world: World) -> bool | None:
    """Whether the admin lets `user` open a model page (None: a page with no object data)."""
    match = re.match(r"^/admin/(\w+)/(\w+)/", path)
    if name in ADMIN_NO_DATA or name == "admin:view_on_site" or match is None:
        return None
    if user is None:
        return False
    model = next((m for m in admin.site._registry if (m._meta.app_label, m._meta.model_name) == match.groups()), None)
    if model is None:
        return None  # the site's own pages (password change and the like)
    model_admin = admin.site._registry[model]
    request = RequestFactory().get(path)
    request.user = user
    user.is_verified = lambda: False  # type: ignore[attr-defined]  # as OTPMiddleware sets it
    obj = _object_for(*match.groups(), world)
    action = name.rsplit("_", 1)[-1] if name else "redirect"
    if obj is None and action != "changelist" and action != "add":
        return None  # no row of this model exists: the admin redirects to its index, no data
    if action == "redirect" or path.endswith(f"/{obj.pk if obj else 999999}/"):
        return None  # the legacy object URL only redirects to the change page
    if action in ("config", "qrcode"):
        return False  # an authenticator's secret is never shown in the admin, not even to a superuser
    if action == "add":
        return model_admin.has_add_permission(request)
    if action == "delete":
        return model_admin.has_delete_permission(request, obj)
    if action == "fhir":
        return model_admin.has_view_or_change_permission(request, obj) and user.has_perm("patients.export_fhir")
    return model_admin.has_view_or_change_permission(request, obj)


def _request(client: Client, name: str | None, path: str, role: str, world: World) -> Any:
    if name and name.startswith("api-v1:"):
        headers = {"Authorization": f"Bearer {world.api_tokens[role]}"} if role != "anonymous" else {}
        bodies = {
            "api-v1:patient_create": {"given_name": "New", "family_name": "Person", "birth_date": "1990-01-01"},
            "api-v1:intake_create": {"patient_id": world.patient.pk},
            "api-v1:intake_message": {"text": "hello"},
            "api-v1:intake_message_stream": {"text": "hello"},
            "api-v1:intake_complete": {},
        }
        if name in bodies:
            return client.post(path, json.dumps(bodies[name]), content_type="application/json", headers=headers)
        return client.get(path, headers=headers)
    if name in POST_ONLY:
        return client.post(path, {})
    return client.get(path)


def _assert_no_phi(response: Any, where: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", "replace")
    leaked = [marker for marker in PHI if marker in text]
    assert not leaked, f"{where}: refused, but the body holds {leaked}"


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_by_its_permissions(world: World, role: str) -> None:
    user = world.users[role]
    client = Client()
    if user is not None:
        client.force_login(user)
    checked = 0
    for route, name, _ in ALL_PATTERNS:
        if route.startswith("static/"):
            continue
        path = _fill(route, world)
        where = f"{role} {path} ({name})"
        response = _request(client, name, path, role, world)
        assert response.status_code < 500 or name == "healthz", where  # 503 is how health says "down"
        checked += 1
        if name in PUBLIC or name in PATIENT_LINK:
            continue
        if name in PAGE_PERMS:
            allowed = user is not None and user.has_perms(PAGE_PERMS[name])
            if user is None:
                assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), where
                continue
        elif name in API_PERMS:
            allowed = user is not None and user.has_perms(API_PERMS[name])
            if user is None:
                assert response.status_code == 401, where
                _assert_no_phi(response, where)
                continue
        else:
            assert path.startswith("/admin/"), f"{where}: a URL with no entry in this test's tables"
            allowed = _admin_allowed(name or "", path, user, world)
            if user is None and allowed is not None:
                assert response.status_code == 302 and "/login/" in response["Location"], where
                continue
            if allowed is None:
                assert response.status_code in (200, 301, 302, 403, 404, 405), where
                if response.status_code != 200 or role == "no_perms":
                    _assert_no_phi(response, where)
                continue
        if allowed:
            assert response.status_code not in (401, 403), where
            if response.status_code == 302:
                assert "/login/" not in response["Location"], where
        else:
            assert response.status_code == 403, f"{where}: got {response.status_code}"
            _assert_no_phi(response, where)
    assert checked > 100  # the walk really covered the urlconf (admin included)


def test_zero_permission_staff_cannot_mint_a_chat_link_or_read_a_chart(world: World) -> None:
    """The finding: a staff account with no permissions read PHI and minted chat links."""
    client = Client()
    client.force_login(world.users["no_perms"])
    before = ApiToken.objects.count(), world.patient.intake_sessions.count()
    page = client.get(f"/staff/patients/{world.patient.pk}/")
    start = client.post(f"/staff/patients/{world.patient.pk}/intakes/")
    api = Client().post(
        "/api/v1/intakes",
        json.dumps({"patient_id": world.patient.pk}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.api_tokens['no_perms']}"},
    )
    assert (page.status_code, start.status_code, api.status_code) == (403, 403, 403)
    assert api.json() == {"detail": "Your account does not have permission for this call."}
    assert (ApiToken.objects.count(), world.patient.intake_sessions.count()) == before
    for response in (page, start, api):
        _assert_no_phi(response, response.request["PATH_INFO"])


def test_front_desk_sees_the_patient_but_not_the_conversation(world: World) -> None:
    desk, clinician = Client(), Client()
    desk.force_login(world.users["staff"])
    clinician.force_login(world.users["reviewer"])
    url = f"/staff/patients/{world.patient.pk}/"

    desk_html = desk.get(url).content.decode()
    clinician_html = clinician.get(url).content.decode()

    assert "Zeppelinova" in desk_html and "transcript-phi-words" not in desk_html
    assert "Only clinicians can read the conversation." in desk_html
    assert "transcript-phi-words" in clinician_html
    # The live intake record is the patient's words too: shown to clinicians only.
    assert "record-phi-words" not in desk_html and "record-phi-words" in clinician_html
    detail = f"/api/v1/intakes/{world.done_intake_id}"
    assert Client().get(detail, headers={"Authorization": f"Bearer {world.api_tokens['staff']}"}).status_code == 403
    answer = Client().get(detail, headers={"Authorization": f"Bearer {world.api_tokens['reviewer']}"})
    assert answer.status_code == 200 and "transcript-phi-words" in answer.content.decode()


def test_fhir_export_needs_its_own_permission(world: World) -> None:
    url = reverse("admin:patients_patientsummary_fhir", args=[world.summary.pk])
    desk, clinician = Client(), Client()
    desk.force_login(world.users["staff"])  # may view summaries, may not export them
    clinician.force_login(world.users["reviewer"])
    refused = desk.get(url)
    assert refused.status_code == 403
    _assert_no_phi(refused, url)
    exported = clinician.get(url)
    assert exported.status_code == 200 and exported["Content-Type"] == "application/fhir+json"


def test_roles_are_exactly_the_documented_permissions(world: World) -> None:
    from patients.roles import ROLE_PERMISSIONS

    for role, group in (("staff", STAFF_GROUP), ("reviewer", REVIEWERS_GROUP)):
        user = world.users[role]
        assert user is not None
        assert user.get_all_permissions() == set(ROLE_PERMISSIONS[group])


def test_the_intake_record_in_the_admin_is_read_only_clinicians_only_and_audited(world: World) -> None:
    from patients.models import AuditEvent

    record = IntakeRecord.objects.get(session_id=world.done_intake_id)
    version = record.versions.get()
    desk, clinician = Client(), Client()
    desk.force_login(world.users["staff"])
    clinician.force_login(world.users["reviewer"])
    urls = [
        reverse("admin:intake_intakerecord_change", args=[record.pk]),
        reverse("admin:intake_intakerecordversion_change", args=[version.pk]),
        reverse("admin:intake_intakesession_change", args=[world.done_intake_id]),
    ]
    for url in urls[:2]:
        refused = desk.get(url)
        assert refused.status_code == 403, url
        _assert_no_phi(refused, url)
    session_page = desk.get(urls[2])
    assert session_page.status_code == 200 and "record-phi-words" not in session_page.content.decode()
    for url in urls:
        before = AuditEvent.objects.filter(action=AuditEvent.Action.PHI_VIEW, patient_id=world.patient.pk).count()
        page = clinician.get(url)
        assert page.status_code == 200 and "record-phi-words" in page.content.decode(), url
        assert 'name="_save"' not in page.content.decode(), "read-only: no save button"
        after = AuditEvent.objects.filter(action=AuditEvent.Action.PHI_VIEW, patient_id=world.patient.pk).count()
        assert after == before + 1, f"{url}: the look is audited against the patient"
    assert clinician.post(urls[0], {}).status_code == 403, "nothing in the record is edited from the admin"
