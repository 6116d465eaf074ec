"""The reviewers' PatientSummary admin: queue, change page, edits with history, decisions, permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from patients.models import AuditEvent, PatientSummary
from patients.review import NOT_MENTIONED, reconciliation_rows
from tests.patients.summary_factory import (
    CHART_SNAPSHOT,
    add_transcript,
    make_patient,
    make_summary,
    make_user,
    reviewer,
    staff,
    summary_data,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:patients_patientsummary_changelist")


def change_url(summary: PatientSummary) -> str:
    return reverse("admin:patients_patientsummary_change", args=[summary.pk])


LISTS = ("medications", "allergies", "past_history", "family_history", "red_flags", "recommended_follow_up")


def formset_payload(key: str, rows: list[Any], before: list[Any]) -> dict[str, Any]:
    """A formset's POST as the browser sends it: one form per row shown (the `before` rows, edited into
    `rows`; rows of `before` beyond `rows` ticked Delete), then a blank extra row."""
    shown = [*rows, *({"DELETE": "on", **(r if isinstance(r, dict) else {"text": r})} for r in before[len(rows) :])]
    payload: dict[str, Any] = {
        f"{key}-TOTAL_FORMS": str(len(shown) + 1),
        f"{key}-INITIAL_FORMS": str(len(before)),
        f"{key}-MIN_NUM_FORMS": "0",
        f"{key}-MAX_NUM_FORMS": "50",
    }
    for i, row in enumerate(shown):
        for field, value in (row if isinstance(row, dict) else {"text": row}).items():
            payload[f"{key}-{i}-{field}"] = value
    return payload


def form_payload(summary: PatientSummary, **overrides: Any) -> dict[str, Any]:
    """What the change form posts, built from the summary's current data; lists may be overridden too."""
    data = summary.data
    payload = {
        "urgency_level": data["urgency_level"],
        "patient_name": data["patient_name"],
        "chief_complaint": data["chief_complaint"],
        "history_of_present_illness": data["history_of_present_illness"],
        "insurance_payer": data["insurance"]["payer"],
        "insurance_member_id": data["insurance"]["member_id"],
        **{k: data["social_history"][k] for k in ("tobacco", "alcohol", "occupation")},
        "review_note": summary.review_note,
    }
    for key in LISTS:
        payload |= formset_payload(key, overrides.pop(key, data[key]), data[key])
    return payload | overrides


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- List -----------------------------------------------------------------------------------------


def test_list_puts_emergent_first_then_oldest(client):
    old_routine = make_summary(urgency="routine", created_minutes_ago=90)
    urgent = make_summary(urgency="urgent", created_minutes_ago=30)
    new_routine = make_summary(urgency="routine", created_minutes_ago=5)
    emergent = make_summary(urgency="emergent", created_minutes_ago=1)
    client.force_login(reviewer())

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    order = [s.pk for s in response.context["cl"].result_list]
    assert order == [emergent.pk, urgent.pk, old_routine.pk, new_routine.pk]
    html = response.content.decode()
    assert '<span class="urgency-badge urgency-emergent">Emergent</span>' in html
    assert '<span class="urgency-badge urgency-routine">Routine</span>' in html


def test_list_filters_by_urgency_and_review_status(client):
    emergent = make_summary(urgency="emergent")
    routine = make_summary(urgency="routine")
    PatientSummary.objects.filter(pk=routine.pk).update(review_status="approved")
    client.force_login(reviewer())

    by_urgency = client.get(CHANGELIST, {"urgency__exact": "emergent"})
    by_status = client.get(CHANGELIST, {"review_status__exact": "approved"})

    assert [s.pk for s in by_urgency.context["cl"].result_list] == [emergent.pk]
    assert [s.pk for s in by_status.context["cl"].result_list] == [routine.pk]


@pytest.mark.parametrize("query", ["Zebediah", "MRN-ZZ-77", "wrist"])
def test_list_searches_name_mrn_and_chief_complaint(client, query):
    wanted = make_summary(
        patient=make_patient(given_name="Zebediah", mrn="MRN-ZZ-77"), chief_complaint="Swollen wrist after a fall"
    )
    make_summary(chief_complaint="Headache")
    client.force_login(reviewer())

    # The search form posts the term; the list's URL carries only an opaque reference.
    response = client.post(CHANGELIST, {"q": query, "_search": "1"}, follow=True)

    assert [s.pk for s in response.context["cl"].result_list] == [wanted.pk]
    assert all(query not in url for url, _ in response.redirect_chain)


def test_badge_escapes_unknown_values(client):
    summary = make_summary(urgency="routine")
    PatientSummary.objects.filter(pk=summary.pk).update(urgency="<b>x</b>")  # fits max_length=10
    client.force_login(reviewer())

    html = client.get(CHANGELIST).content.decode()

    assert "<b>x</b>" not in html
    assert '<span class="urgency-badge urgency-routine">&lt;b&gt;x&lt;/b&gt;</span>' in html


# --- Change page ----------------------------------------------------------------------------------


def test_change_page_shows_transcript_escaped(client):
    summary = make_summary()
    add_transcript(
        summary,
        [
            ("model", "Hello, what brings you in today?"),
            ("patient", '<script>alert("pwned")</script> my chest hurts'),
            ("tool", "SECRET-TOOL-OUTPUT"),
            ("model", "I am sorry to hear that. <b>When</b> did it start?"),
        ],
    )
    client.force_login(reviewer())

    response = client.get(change_url(summary))

    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; my chest hurts" in html
    assert '<script>alert("pwned")' not in html
    assert "I am sorry to hear that. &lt;b&gt;When&lt;/b&gt; did it start?" in html
    assert "Hello, what brings you in today?" in html
    assert "SECRET-TOOL-OUTPUT" not in html  # only the patient and the assistant
    assert html.index("Hello, what brings") < html.index("my chest hurts")


def test_change_page_without_intake_says_so(client):
    summary = make_summary()
    client.force_login(reviewer())

    assert "No intake conversation is linked" in client.get(change_url(summary)).content.decode()


def test_reconciliation_rows_pair_chart_and_patient():
    rows = reconciliation_rows(data=summary_data(), chart_snapshot=CHART_SNAPSHOT)

    table = [(r.kind, r.chart_entry, r.patient_said, r.status) for r in rows]
    assert table == [
        (
            "medication",
            "lisinopril 10 MG Oral Tablet (1 time(s) per 1 d)",
            "lisinopril 10 mg (once daily)",
            "confirmed",
        ),
        ("medication", "", "ibuprofen 200 mg (as needed)", "new"),
        ("medication", "metformin hydrochloride 500 MG Oral Tablet", "", NOT_MENTIONED),
        ("allergy", "Bee venom (Hives)", "bee venom (hives)", "confirmed"),
        ("allergy", "", "penicillin (rash)", "new"),
    ]


def test_reconciliation_flags_a_status_the_rules_disagree_with():
    data = summary_data(
        medications=[{"name": "lisinopril", "dose": "40 mg", "frequency": "once daily", "status": "confirmed"}]
    )

    (row, _chart_only) = reconciliation_rows(data=data, chart_snapshot=CHART_SNAPSHOT)[:2]

    assert (row.status, row.rule_status) == ("confirmed", "changed")


def test_change_page_shows_reconciliation_table(client):
    summary = make_summary()
    client.force_login(reviewer())

    html = client.get(change_url(summary)).content.decode()

    assert '<table class="reconciliation">' in html
    assert "<td>metformin hydrochloride 500 MG Oral Tablet</td><td>— not mentioned</td>" in html
    assert "<td>— not in chart</td><td>penicillin (rash)</td>" in html
    assert html.count('class="recon-row') == 5


def test_viewing_is_audited_without_phi(client):
    summary = make_summary(chief_complaint="Very private complaint")
    user = reviewer()
    client.force_login(user)

    client.get(change_url(summary))

    event = AuditEvent.objects.get(action="summary.view")
    assert (event.actor, event.patient_id, event.object_id) == (user, summary.patient_id, str(summary.pk))
    detail = json.dumps(event.detail)
    assert "private" not in detail and summary.patient.given_name not in detail


# --- Edits ----------------------------------------------------------------------------------------


def test_invalid_edit_shows_what_to_fix_and_saves_nothing(client):
    summary = make_summary()
    before = summary.data
    bad_meds = [{"name": "aspirin", "dose": "81 mg", "frequency": "daily", "status": "maybe"}]
    client.force_login(reviewer())

    response = client.post(change_url(summary), form_payload(summary, medications=bad_meds, chief_complaint="X"))

    assert response.status_code == 200  # the form again, with errors
    form = response.context["adminform"].form
    assert form.formsets["medications"].errors[0]["status"] == ["Choose the status against the chart from the list."]
    assert "Some rows below need fixing" in form.non_field_errors()[0]
    html = response.content.decode()
    assert "Please correct the error" in html and "Choose the status against the chart" in html
    summary.refresh_from_db()
    assert summary.data == before
    assert summary.history.count() == 1  # only the creation
    assert not AuditEvent.objects.filter(action="summary.change").exists()


def test_a_row_without_its_name_says_so(client):
    summary = make_summary()
    client.force_login(reviewer())
    rows = [{"name": "", "dose": "5 mg", "frequency": "", "status": "new"}]

    response = client.post(change_url(summary), form_payload(summary, medications=rows, allergies=[]))

    errors = response.context["adminform"].form.formsets["medications"].errors
    assert errors[0]["name"] == ["Enter the medicine's name, or tick Delete to remove the row."]


def test_every_section_is_edited_through_its_form_or_formset(client):
    summary = make_summary()
    user = reviewer()
    client.force_login(user)
    meds = [dict(m) for m in summary.data["medications"]]
    meds[0]["DELETE"] = "on"  # lisinopril removed
    meds.append({"name": "metformin", "dose": "500 mg", "frequency": "twice daily", "status": "stopped"})
    payload = form_payload(
        summary,
        medications=meds,
        allergies=[{"substance": "latex", "reaction": "rash", "status": "new"}],
        past_history=["Asthma", "Appendectomy"],
        family_history=["Brother: asthma"],
        red_flags=["fainting"],
        recommended_follow_up=["Spirometry"],
        insurance_payer="Blue Shield",
        insurance_member_id="BS-1",
        tobacco="quit 2015",
        alcohol="none",
        occupation="welder",
    )
    payload |= {"family_history-2-text": "  Sister: lupus  "}  # the blank extra row, filled in

    response = client.post(change_url(summary), payload)

    assert response.status_code == 302
    summary.refresh_from_db()
    data = summary.data
    assert [m["name"] for m in data["medications"]] == ["ibuprofen", "metformin"]
    assert data["medications"][1]["status"] == "stopped"
    assert data["allergies"] == [{"substance": "latex", "reaction": "rash", "status": "new"}]
    assert data["past_history"] == ["Asthma", "Appendectomy"]
    assert data["family_history"] == ["Brother: asthma", "Sister: lupus"]  # the father's row was deleted
    assert (data["red_flags"], data["recommended_follow_up"]) == (["fainting"], ["Spirometry"])
    assert data["insurance"] == {"payer": "Blue Shield", "member_id": "BS-1"}
    assert data["social_history"] == {"tobacco": "quit 2015", "alcohol": "none", "occupation": "welder"}
    history = client.get(reverse("admin:patients_patientsummary_history", args=[summary.pk])).content.decode()
    # Each section's change in words on the history page, not a JSON blob.
    assert "Social history" in history and "occupation: teacher" in history and "occupation: welder" in history
    assert "metformin 500 mg twice daily [Stopped]" in history


def test_declined_and_not_obtained_sections_are_shown_as_such(client):
    summary = make_summary(allergies=[], family_history=[], insurance={"payer": "", "member_id": ""})
    # `declined` / `none`: the topics the intake record says the patient refused or has none of.
    data = {**summary.data, "declined": ["insurance"], "none": ["allergies"]}
    PatientSummary.objects.filter(pk=summary.pk).update(data=data)
    client.force_login(reviewer())

    form = client.get(change_url(summary)).context["adminform"].form

    assert form.fields["insurance_payer"].help_text == "The patient declined to answer."
    states = {s["key"]: s["state"] for s in form.formset_sections()}
    assert states["allergies"] == "The patient said they have none."
    assert states["family_history"] == "Not obtained in the intake."
    assert states["medications"] == ""


def test_valid_edit_is_saved_with_history_of_the_editor(client):
    summary = make_summary()
    user = reviewer()
    client.force_login(user)

    response = client.post(
        change_url(summary),
        form_payload(summary, chief_complaint="Cough and wheeze", urgency_level="urgent", review_note="Wheeze added"),
    )

    assert response.status_code == 302
    summary.refresh_from_db()
    assert summary.data["chief_complaint"] == "Cough and wheeze"
    assert (summary.urgency, summary.data["urgency_level"]) == ("urgent", "urgent")
    assert summary.review_note == "Wheeze added"
    latest = summary.history.first()
    assert latest.history_user == user
    assert latest.history_change_reason == "Edited: chief_complaint, urgency_level"
    event = AuditEvent.objects.get(action="summary.change")
    assert event.actor == user
    assert event.detail["fields"] == ["chief_complaint", "urgency_level"]
    assert "wheeze" not in json.dumps(event.detail).lower()
    history = client.get(reverse("admin:patients_patientsummary_history", args=[summary.pk]))
    assert history.status_code == 200
    assert "Edited: chief_complaint, urgency_level" in history.content.decode()
    assert user.username in history.content.decode()


def test_unchanged_save_writes_nothing(client):
    summary = make_summary()
    client.force_login(reviewer())

    assert client.post(change_url(summary), form_payload(summary)).status_code == 302
    assert summary.history.count() == 1
    assert not AuditEvent.objects.filter(action="summary.change").exists()


def test_editing_an_approved_summary_withdraws_the_approval(client):
    summary = make_summary()
    user = reviewer()
    PatientSummary.objects.filter(pk=summary.pk).update(review_status="approved", reviewer=user)
    client.force_login(user)

    response = client.post(change_url(summary), form_payload(summary, chief_complaint="Something else"), follow=True)

    summary.refresh_from_db()
    assert summary.review_status == PatientSummary.ReviewStatus.PENDING
    assert any("pending review again" in m for m in texts(response))


# --- Decisions ------------------------------------------------------------------------------------


def test_reviewer_approves_from_the_change_page(client):
    summary = make_summary()
    user = reviewer()
    client.force_login(user)

    response = client.post(change_url(summary), form_payload(summary, review_note="Looks right", _approve="Approve"))

    assert response.status_code == 302 and response["Location"] == change_url(summary)
    summary.refresh_from_db()
    assert summary.review_status == PatientSummary.ReviewStatus.APPROVED
    assert (summary.reviewer, summary.review_note) == (user, "Looks right")
    assert summary.reviewed_at is not None
    event = AuditEvent.objects.get(action="summary.approve")
    assert event.actor == user
    assert event.detail == {"from": "pending", "to": "approved", "has_note": True}
    assert summary.history.first().history_user == user
    page = client.get(change_url(summary)).content.decode()
    assert "Download FHIR bundle" in page


def test_approve_saves_edits_made_in_the_same_submit(client):
    summary = make_summary()
    client.force_login(reviewer())

    client.post(change_url(summary), form_payload(summary, chief_complaint="Fixed complaint", _approve="Approve"))

    summary.refresh_from_db()
    assert (summary.data["chief_complaint"], summary.review_status) == ("Fixed complaint", "approved")


@pytest.mark.parametrize(("button", "status"), [("_reject", "rejected"), ("_request_changes", "changes_requested")])
def test_reject_and_request_changes_need_a_note(client, button, status):
    summary = make_summary()
    client.force_login(reviewer())

    refused = client.post(change_url(summary), form_payload(summary, **{button: "x"}))
    assert refused.status_code == 200
    assert "Please write a note" in refused.context["adminform"].form.errors["review_note"][0]
    summary.refresh_from_db()
    assert summary.review_status == "pending"

    client.post(change_url(summary), form_payload(summary, review_note="Meds list incomplete", **{button: "x"}))
    summary.refresh_from_db()
    assert (summary.review_status, summary.review_note) == (status, "Meds list incomplete")
    assert AuditEvent.objects.filter(action=f"summary.{button.strip('_')}").count() == 1


def test_approve_by_editor_without_the_permission_is_refused(client):
    summary = make_summary()
    editor = make_user("eddie", perms=("patients.view_patientsummary", "patients.change_patientsummary"))
    client.force_login(editor)

    page = client.get(change_url(summary)).content.decode()
    assert 'name="_approve"' not in page
    assert "needs a reviewer with the approve permission" in page
    response = client.post(
        change_url(summary), form_payload(summary, chief_complaint="Changed", _approve="Approve"), follow=True
    )

    assert any("You do not have permission to approve" in m for m in texts(response))
    summary.refresh_from_db()
    assert summary.review_status == "pending"
    assert summary.data["chief_complaint"] == "Cough for a week"  # nothing changed, not even the edit
    assert not AuditEvent.objects.filter(action__in=["summary.approve", "summary.change"]).exists()


def test_bulk_approve_action(client):
    first, second = make_summary(), make_summary()
    user = reviewer()
    client.force_login(user)

    response = client.post(
        CHANGELIST, {"action": "approve_selected", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert any("2 summaries approved." in m for m in texts(response))
    assert set(PatientSummary.objects.values_list("review_status", flat=True)) == {"approved"}
    assert AuditEvent.objects.filter(action="summary.approve", actor=user).count() == 2


def test_bulk_approve_refused_without_the_permission(client):
    summary = make_summary()
    editor = make_user("eddie", perms=("patients.view_patientsummary", "patients.change_patientsummary"))
    client.force_login(editor)

    listing = client.get(CHANGELIST)
    assert "approve_selected" not in listing.content.decode()
    response = client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [summary.pk]}, follow=True)

    assert any("You do not have permission to approve" in m for m in texts(response))
    summary.refresh_from_db()
    assert summary.review_status == "pending"


def test_approve_refuses_a_summary_that_does_not_validate(client):
    summary = make_summary()
    broken = dict(summary.data, medications=[{"name": "x"}])
    PatientSummary.objects.filter(pk=summary.pk).update(data=broken)
    client.force_login(reviewer())

    response = client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": [summary.pk]}, follow=True)

    assert any("does not validate" in m for m in texts(response))
    summary.refresh_from_db()
    assert summary.review_status == "pending"


# --- Permissions ----------------------------------------------------------------------------------


def test_staff_without_permission_gets_403(client):
    summary = make_summary()
    client.force_login(make_user("nobody"))

    assert client.get(change_url(summary)).status_code == 403
    assert client.get(CHANGELIST).status_code == 403
    assert client.post(change_url(summary), form_payload(summary, _approve="Approve")).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="summary.").exists()
    summary.refresh_from_db()
    assert summary.review_status == "pending"


def test_front_desk_staff_see_the_summary_read_only(client):
    summary = make_summary()
    add_transcript(summary, [("patient", "my <i>knee</i>")])
    client.force_login(staff())

    response = client.get(change_url(summary))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="chief_complaint"' not in html and 'name="_approve"' not in html
    # The front desk sees the summary, but the conversation (the patient's own words) is for clinicians.
    assert "Cough for a week" in html and "knee" not in html
    assert "member id: W123456789" in html and "occupation: teacher" in html and "Check blood pressure" in html
    assert client.post(change_url(summary), form_payload(summary, chief_complaint="Hacked")).status_code == 403
    summary.refresh_from_db()
    assert summary.data["chief_complaint"] == "Cough for a week"


def test_listing_is_audited_with_counts_only(client):
    make_summary(chief_complaint="Private complaint")
    user = reviewer()
    client.force_login(user)

    client.post(CHANGELIST, {"q": "Private", "_search": "1"}, follow=True)

    event = AuditEvent.objects.get(action="summary.list")
    assert (event.actor, event.detail) == (user, {"shown": 1, "searched": True})


def test_red_flags_are_shown_escaped_at_the_top(client):
    summary = make_summary(urgency="emergent", red_flags=["chest pain <img src=x onerror=alert(1)>"])
    client.force_login(reviewer())

    html = client.get(change_url(summary)).content.decode()

    assert '<ul class="red-flags"><li>chest pain &lt;img src=x onerror=alert(1)&gt;</li></ul>' in html
    assert html.index("red-flags") < html.index('<table class="reconciliation">')


def test_history_revert_goes_through_the_validated_service(client):
    summary = make_summary()
    user = reviewer()
    client.force_login(user)
    client.post(change_url(summary), form_payload(summary, chief_complaint="Edited complaint"))
    original = summary.history.order_by("history_id").first()
    revert_url = reverse("admin:patients_patientsummary_simple_history", args=[summary.pk, original.history_id])

    page = client.get(revert_url)
    assert page.status_code == 200 and "Cough for a week" in page.content.decode()
    assert AuditEvent.objects.filter(action="summary.view", detail={"page": "history_version"}).exists()
    summary.refresh_from_db()
    client.post(revert_url, form_payload(summary, chief_complaint="Cough for a week"))

    summary.refresh_from_db()
    assert summary.data["chief_complaint"] == "Cough for a week"
    assert summary.history.first().history_user == user
    assert AuditEvent.objects.filter(action="summary.change").count() == 2


def test_change_page_lists_the_patients_research_jobs_with_live_status(client):
    from agents.models import ResearchJob

    summary = make_summary()
    job = ResearchJob.objects.create(
        patient=summary.patient, summary=summary, question="Guidance for <b>headache</b>?", status="running"
    )
    client.force_login(reviewer())
    html = client.get(change_url(summary)).content.decode()
    assert f'id="research-job-{job.pk}"' in html
    assert reverse("research:status", args=[job.pk]) in html, "the status block polls its endpoint"
    assert "js/research.js" in html
    assert "<b>headache</b>" not in html and "&lt;b&gt;headache&lt;/b&gt;" in html


def test_list_shows_each_summarys_latest_research_status(client):
    from agents.models import ResearchJob

    with_jobs = make_summary()
    make_summary()  # one without research
    ResearchJob.objects.create(patient=with_jobs.patient, summary=with_jobs, question="q1", status="completed")
    ResearchJob.objects.create(patient=with_jobs.patient, summary=with_jobs, question="q2", status="running")
    client.force_login(reviewer())
    html = client.get(CHANGELIST).content.decode()
    assert '<td class="field-research_status">Running (+1 earlier)</td>' in html
    assert html.count('<td class="field-research_status">—</td>') == 1, "the summary without research"


def test_steps_the_patient_declined_in_the_chat_are_shown_as_declined(client):
    summary = make_summary(history_of_present_illness="")
    session = add_transcript(summary, [("model", "When did it start?"), ("patient", "skip")])
    session.answers = {"declined": ["hpi", "social_history"]}  # the intake's record of declined steps
    session.save()
    client.force_login(reviewer())

    form = client.get(change_url(summary)).context["adminform"].form

    assert form.fields["history_of_present_illness"].help_text == "The patient declined to answer."
    assert form.fields["tobacco"].help_text == "The patient declined to answer."
    assert form.fields["chief_complaint"].help_text == ""  # answered
