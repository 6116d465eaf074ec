"""Staff workflow through Django's test client: `/` per kind of user, the patient list and its POSTed
search, links between admin and staff pages, the red-flag sign, the second-intake warning, research form."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from intake import services
from intake.models import IntakeSession
from patients.models import Patient
from tests.patients.summary_factory import make_summary, reviewer, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(db: Any) -> Client:
    client = Client()
    client.force_login(staff("desk"))
    return client


@pytest.fixture
def ada(db: Any) -> Patient:
    return Patient.objects.create(given_name="Ada", family_name="Okafor", birth_date=date(1980, 5, 4), mrn="M-1")


# --- `/` ---------------------------------------------------------------------------------------


def test_root_is_a_friendly_page_for_patients_without_a_session(client: Client) -> None:
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Open the link the clinic gave you" in html and 'href="/accounts/login/?next=/"' in html


@pytest.mark.parametrize(
    ("who", "start"),
    [
        ("staff", "/staff/"),
        ("reviewer", "/admin/patients/patientsummary/"),
        ("admin", "/admin/"),
    ],
)
def test_root_sends_each_kind_of_user_to_their_start_page(client: Client, who: str, start: str) -> None:
    user = {
        "staff": lambda: staff("sam"),
        "reviewer": lambda: reviewer("rita"),
        "admin": lambda: User.objects.create_superuser("root", password="root-pass-123"),
    }[who]()
    client.force_login(user)
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, start)
    assert client.get(start).status_code == 200


def test_admin_view_site_and_view_on_site_lead_to_working_pages(client: Client, ada: Patient) -> None:
    summary = make_summary(patient=ada)
    client.force_login(User.objects.create_superuser("root", password="root-pass-123"))
    index = client.get("/admin/").content.decode()
    assert 'href="/"' in index  # "View site"
    for change in (f"/admin/patients/patient/{ada.pk}/change/", f"/admin/patients/patientsummary/{summary.pk}/change/"):
        html = client.get(change).content.decode()
        assert 'class="viewsitelink"' in html
        target = html.split('class="viewsitelink"')[0].rsplit('href="', 1)[1].split('"')[0]
        assert target == f"/staff/patients/{ada.pk}/"
        assert client.get(target).status_code == 200
    # ...and the other way: the staff patient page links the admin.
    assert (
        f'href="/admin/patients/patient/{ada.pk}/change/"' in client.get(f"/staff/patients/{ada.pk}/").content.decode()
    )


# --- Patient list and search -----------------------------------------------------------------------


def test_patient_list_search_is_posted_and_the_results_page_has_no_query_string(desk: Client, ada: Patient) -> None:
    Patient.objects.create(given_name="Bo", family_name="Ng", birth_date=date(1970, 1, 1))
    listing = desk.get("/staff/patients/")
    assert listing.status_code == 200 and "Ada Okafor" in listing.content.decode()
    assert 'method="post"' in listing.content.decode()

    for query in ("okaf", "Ada Okafor", "M-1", "1980-05-04"):
        found = desk.post("/staff/patients/", {"q": query})
        html = found.content.decode()
        assert found.status_code == 200
        assert found.request["PATH_INFO"] == "/staff/patients/" and found.request["QUERY_STRING"] == ""
        assert f'href="/staff/patients/{ada.pk}/"' in html and "Bo Ng" not in html, query
    none = desk.post("/staff/patients/", {"q": "Zzyzx"}).content.decode()
    assert "No patient matches" in none and "Ada Okafor" not in none


def test_patient_search_that_is_too_long_says_so(desk: Client) -> None:
    response = desk.post("/staff/patients/", {"q": "x" * 101})
    assert response.status_code == 400
    assert "Shorten the search to at most 100 characters." in response.content.decode()


def test_patient_list_needs_staff(client: Client) -> None:
    assert client.post("/staff/patients/", {"q": "Ada"}).status_code == 302  # to the login page


# --- Dashboard, second intake, research form ----------------------------------------------------------


def test_dashboard_row_says_which_red_flag(desk: Client, ada: Patient) -> None:
    session, _ = services.intake_start(patient=ada)
    IntakeSession.objects.filter(pk=session.pk).update(
        emergency_flagged=True, urgency="emergent", answers={"red_flags": ["chest pain", "shortness of breath"]}
    )
    rows = desk.get("/staff/dashboard/rows").content.decode()
    assert "Emergent" in rows and "Sign: chest pain, shortness of breath" in rows


def test_second_open_intake_warns_with_a_link_first(desk: Client, ada: Patient) -> None:
    first, _ = services.intake_start(patient=ada)
    page = desk.get(f"/staff/patients/{ada.pk}/").content.decode()
    assert f"Intake #{first.pk} is still open" in page and f'href="#intake-{first.pk}"' in page
    assert f'id="intake-{first.pk}"' in page

    warned = desk.post(f"/staff/patients/{ada.pk}/intakes/")
    html = warned.content.decode()
    assert warned.status_code == 409
    assert f'href="/staff/patients/{ada.pk}/#intake-{first.pk}"' in html and 'name="confirm_second"' in html
    assert IntakeSession.objects.filter(patient=ada).count() == 1

    confirmed = desk.post(f"/staff/patients/{ada.pk}/intakes/", {"confirm_second": "1"})
    assert confirmed.status_code == 200 and IntakeSession.objects.filter(patient=ada).count() == 2


def test_no_warning_once_the_earlier_intake_is_finished(desk: Client, ada: Patient) -> None:
    first, _ = services.intake_start(patient=ada)
    IntakeSession.objects.filter(pk=first.pk).update(status=IntakeSession.Status.COMPLETED)
    assert "still open" not in desk.get(f"/staff/patients/{ada.pk}/").content.decode()
    assert desk.post(f"/staff/patients/{ada.pk}/intakes/").status_code == 200


def test_research_form_is_styled_like_the_staff_pages(ada: Patient) -> None:
    clinician = Client()
    clinician.force_login(reviewer("clin"))  # research is the clinicians' permission
    html = clinician.get(f"/staff/research/patients/{ada.pk}/").content.decode()
    assert 'class="stack research-form"' in html and "css/staff.css" in html
    assert 'class="button primary"' in html
