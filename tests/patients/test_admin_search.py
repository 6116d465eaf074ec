"""Admin searches never put a patient's name in a URL (patients/adminsearch.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.patients.summary_factory import make_patient, make_summary

pytestmark = pytest.mark.django_db

PHI_ADMIN_LISTS = [
    "/admin/patients/patient/",
    "/admin/patients/patientsummary/",
    "/admin/intake/intakesession/",
    "/admin/patients/auditevent/",
    "/admin/patients/fhirresource/",
]


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("changelist", PHI_ADMIN_LISTS)
def test_the_search_form_posts_and_the_page_never_links_the_term(admin_client: Client, changelist: str) -> None:
    page = admin_client.get(changelist).content.decode()
    assert '<form id="changelist-search" method="post"' in page

    response = admin_client.post(changelist, {"q": "Zebediah", "_search": "1"}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain and all("Zebediah" not in url for url, _ in response.redirect_chain)
    html = response.content.decode()
    assert 'value="Zebediah"' in html  # shown in the search box, inside the page only
    assert "q=Zebediah" not in html and "q=~" in response.redirect_chain[-1][0]


def test_the_reference_finds_the_patient_and_only_in_its_own_session(admin_client: Client) -> None:
    wanted = make_patient(given_name="Zebediah", family_name="Quill")
    make_patient(given_name="Other")
    response = admin_client.post("/admin/patients/patient/", {"q": "Zebediah", "_search": "1"}, follow=True)
    assert [p.pk for p in response.context["cl"].result_list] == [wanted.pk]
    url = response.redirect_chain[-1][0]

    stranger = Client()
    stranger.force_login(User.objects.create(username="other", is_staff=True, is_superuser=True))
    elsewhere = stranger.get(url)

    # Another session does not know the reference: no search is applied, the box stays empty.
    assert elsewhere.context["cl"].query == ""
    assert len(elsewhere.context["cl"].result_list) == 2


def test_a_plain_term_in_a_url_is_swapped_for_a_reference(admin_client: Client) -> None:
    make_summary(patient=make_patient(given_name="Zebediah"), chief_complaint="Swollen wrist")
    response = admin_client.get("/admin/patients/patientsummary/", {"q": "Zebediah", "urgency__exact": "routine"})
    assert response.status_code == 302
    location: Any = response["Location"]
    assert "Zebediah" not in location and "q=~" in location and "urgency__exact=routine" in location
    assert len(admin_client.get(location).context["cl"].result_list) == 1


def test_filters_survive_a_search(admin_client: Client) -> None:
    make_summary(patient=make_patient(given_name="Zebediah"), urgency="urgent")
    make_summary(patient=make_patient(given_name="Zebediah"), urgency="routine")
    response = admin_client.post(
        "/admin/patients/patientsummary/", {"q": "Zebediah", "_search": "1", "urgency__exact": "urgent"}, follow=True
    )
    assert [s.urgency for s in response.context["cl"].result_list] == ["urgent"]
