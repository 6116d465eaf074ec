"""The research identifier check as a second net: every identifier the clinic knows of a patient
(chart, registration, what they said in the chat), written hundreds of ways, is caught; plain
clinical questions pass. The identifiers come from the real context builder (chart store, intake
turns, summary), and a sample goes through the staff research form."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from agents import services
from agents.models import ResearchJob
from agents.research import phi_check, research_prompt_build
from intake import services as intake_services
from intake.models import IntakeTurn
from patients.models import Patient, PatientSummary
from tests.intake.conftest import DEMO_FILE, patient_from_bundle
from tests.roles import grant_roles

pytestmark = pytest.mark.django_db

# What the patient typed in the chat: a coworker's name and phone, their own email, employer, street.
CHAT = [
    "Hi, I'm Kermit Trantow.",
    "Reach me at kermit.t@example.com. If I don't answer, call my coworker Zelda Quimby on (508) 555-7781.",
    "I live at 18 Beacon Street, Apt 4B now.",
    "I work at Harbor Freight Logistics as an electrician.",
]
REGISTERED_PHONE = "617-555-0142"
CHART_PHONE = "555-793-7667"  # on the Synthea chart's Patient resource
CHAT_PHONE = "508-555-7781"
MEMBER_ID = "W123456789"
FULLWIDTH = {ord(str(i)): chr(0xFF10 + i) for i in range(10)}
ARABIC_INDIC = {ord(str(i)): chr(0x0660 + i) for i in range(10)}
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPOKEN = dict(zip("0123456789", DIGIT_NAMES, strict=True))


@pytest.fixture
def context(db: Any) -> tuple[Patient, Any, services.ResearchContext]:
    patient = patient_from_bundle(DEMO_FILE, phone=REGISTERED_PHONE)
    Patient.objects.filter(pk=patient.pk).update(email="k.trantow@mail.example")
    patient.refresh_from_db()
    session, _ = intake_services.intake_start(patient=patient)
    for index, text in enumerate(CHAT, start=1):
        IntakeTurn.objects.create(session=session, index=index * 2 - 1, role="patient", step=index - 1, text=text)
    PatientSummary.objects.create(
        patient=patient,
        data={
            "patient_name": "Kermit Trantow",
            "chief_complaint": "headache",
            "insurance": {"payer": "Aetna", "member_id": MEMBER_ID},
            "social_history": {"occupation": "electrician at Harbor Freight Logistics"},
        },
    )
    staff = grant_roles(get_user_model().objects.create_user("desk", password="x-not-used-9", is_staff=True))
    ctx = services.research_context_build(patient=patient, summary=patient.summaries.first(), actor=staff)
    return patient, staff, ctx


def _phone_forms(phone: str) -> list[str]:
    d = "".join(ch for ch in phone if ch.isdigit())
    a, b, c = d[:3], d[3:6], d[6:]
    return [
        f"{a}-{b}-{c}",
        f"{a}\u2013{b}\u2013{c}",  # en dashes
        f"{a}\u2014{b}\u2014{c}",  # em dashes
        f"({a}) {b}-{c}",
        f"+1 {a}.{b}.{c}",
        f"1-{a}-{b}-{c}",
        f"{a} {b} {c}",
        d,
        f"{b}-{c}",  # the local number alone
        f"{a}-{b}-{c}".translate(FULLWIDTH),
        f"{a}-{b}-{c}".translate(ARABIC_INDIC),
        " ".join(SPOKEN[ch] for ch in d),
        " ".join("oh" if ch == "0" else SPOKEN[ch] for ch in d),
    ]


def _date_forms(born: date) -> list[str]:
    m, d, y = born.month, born.day, born.year
    month = born.strftime("%B")
    return [
        f"{m}/{d}/{y % 100:02d}",
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{y}-{m:02d}-{d:02d}",
        f"{y}/{m:02d}/{d:02d}",
        f"{d:02d}.{m:02d}.{y}",
        f"{d}/{m}/{y % 100:02d}",
        f"{m:02d}\u2013{d:02d}\u2013{y}",
        f"{y % 100:02d}-{m:02d}-{d:02d}",
        f"{y}{m:02d}{d:02d}",
        f"{month} {d} {y}",
        f"{month} {d}, {y}",
        f"{month[:3]} {d} {y}",
        f"{month[:3]}. {d}th, {y}",
        f"{d} {month} {y}",
        f"the {d}th of {month}, {y}",
        f"{month.upper()} {d} {y}",
        f"{m:02d}/{d:02d}/{y}".translate(FULLWIDTH),
        f"{y}-{m:02d}-{d:02d}".translate(ARABIC_INDIC),
    ]


def _variants(patient: Patient, ctx: services.ResearchContext) -> list[str]:
    uuid = patient.mrn or ""
    ssn = next(i for i in ctx.identifiers.other_ids if i.startswith("999-"))
    values: list[str] = []
    for phone in (REGISTERED_PHONE, CHART_PHONE, CHAT_PHONE):
        values += _phone_forms(phone)
    values += _date_forms(patient.birth_date)
    values += [
        # Names: the patient's, with typos and case, and the coworker the patient named in the chat.
        "Kermit",
        "KERMIT",
        "kermit's",
        "Kérmit",
        "Trantow",
        "Mr. Trantow",
        "Trantw",
        "Tarntow",
        "Trantowe",
        "Kermti",
        "K. Trantow",
        "Zelda",
        "Quimby",
        "Quimbey",
        "Zelda Q.",
        "Ms Quimbee",
        # Emails: the one typed in the chat and the registered one.
        "kermit.t@example.com",
        "KERMIT.T@EXAMPLE.COM",
        "kermit.t at example dot com",
        "kermit dot t at example dot com",
        "k.trantow@mail.example",
        "k.trantow at mail dot example",
        # Addresses: the chart's street line without its unit, the chat's with abbreviations.
        "362 MacGyver Hollow",
        "362 MacGyver Hollow Unit 32",
        "362 Macgyver Holw",
        "362 MacGyver Hollow #32",
        "362 MacGyver Hollow, Apt 32",
        "MacGyver Hollow",
        "18 Beacon Street",
        "18 Beacon St",
        "18 Beacon St.",
        "18 beacon street unit 4b",
        "18 BEACON ST APT 4B",
        "18 Beacon St, #4B",
        "Beacon Street",
        "lives in Boston",
        "zip 02108",
        # Employer, named in the chat and in the occupation.
        "Harbor Freight Logistics",
        "harbor freight logistics inc",
        "HARBOR FREIGHT LOGISTICS, LLC",
        # Record numbers: the MRN (a UUID here) with a prefix, and the SSN from the chart.
        uuid,
        uuid.upper(),
        f"MRN: {uuid}",
        f"mrn#{uuid}",
        uuid.replace("-", ""),
        ssn,
        ssn.replace("-", ""),
        ssn.replace("-", " "),
        ssn.replace("-", "\u2013"),
        f"SSN {ssn}",
        # The insurance member id from the confirmed record.
        MEMBER_ID,
        MEMBER_ID.lower(),
        "W-123-456-789",
        "W 123 456 789",
        "123456789",
        "member id w123456789",
    ]
    templates = ["Guidance for {} with a headache?", "{}: interactions between the listed medications"]
    return [t.format(v) for v in values for t in templates]


def _prompt(ctx: services.ResearchContext, question: str) -> str:
    return research_prompt_build(
        age_band=ctx.age_band, sex=ctx.sex, problems=ctx.problems, medications=ctx.medications, question=question
    )


def test_at_least_200_variants_of_the_patients_identifiers_none_gets_through(context) -> None:
    patient, _staff, ctx = context
    questions = _variants(patient, ctx)
    assert len(questions) >= 200
    vetted = [*ctx.problems, *ctx.medications]
    passed = [q for q in questions if not phi_check(_prompt(ctx, q), ctx.identifiers, vetted=vetted)]
    assert passed == [], f"{len(passed)} of {len(questions)} variants passed the check: {passed}"


@pytest.mark.parametrize(
    "question",
    [
        "What is the current guidance for evaluating a new daily headache in adults?",
        "Interactions between hydrochlorothiazide and ibuprofen?",
        "Migraine prophylaxis options in hypertension: what does the 2024 AHS statement say?",
        "Is a dose of 400 mg of ibuprofen twice daily safe for six weeks?",
        "Review PMID 38213004 and the June 2023 update on NSAIDs.",
        "Red flags for secondary headache (SNOMED CT 25064002)",
        "Permit-required confined space work and headache: occupational causes?",
        "Evidence on quitting smoking and blood pressure in men aged 30-39.",
    ],
)
def test_clinical_questions_with_the_patients_coded_chart_pass(context, question: str) -> None:
    _patient, _staff, ctx = context
    prompt = _prompt(ctx, question)
    assert phi_check(prompt, ctx.identifiers, vetted=[*ctx.problems, *ctx.medications]) == [], prompt


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Guidance for headaches; the coworker Zelda Quimby can be reached on 508\u2013555\u20137781", "phone number"),
        ("Headache guidance. Email results to kermit.t at example dot com", "email address"),
        ("Headache in a patient living at 362 MacGyver Hollow", "address"),
        ("Headache work-up for Mr Trantw, born 6/21/93", "name"),
        ("Headache in an electrician at Harbor Freight Logistics", "employer"),
    ],
)
def test_the_research_form_refuses_identifiers_and_sends_nothing(context, client, monkeypatch, question, kind):
    from agents import tasks

    monkeypatch.setattr(tasks.research_job_start, "delay_on_commit", lambda job_id: None)
    patient, staff, _ctx = context
    client.force_login(staff)
    url = reverse("research:request-patient", args=[patient.pk])
    form = client.get(url).content.decode()
    assert "headache" not in form.lower(), "the form is never prefilled with the patient's words"
    response = client.post(url, {"question": question})
    assert response.status_code == 400
    assert kind in response.content.decode() and "Nothing was sent" in response.content.decode()
    assert not ResearchJob.objects.exists()
    ok = client.post(url, {"question": "Current guidance on medication-overuse headache?"})
    assert ok.status_code == 302
    job = ResearchJob.objects.get()
    for value in ("Kermit", "Trantow", "Zelda", "headache.", "555", "Beacon", "Harbor"):
        assert value not in job.prompt.replace("medication-overuse headache", "")
