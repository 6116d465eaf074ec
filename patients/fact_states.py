"""How a fact the intake did not get as a value reads, wherever a field renders (one definition).

The states come from the intake record (`intake.record`): the patient has none, declined to answer,
or two answers left the step empty ("not obtained"). The patient's review screen, the clinicians'
record and summary views, the review form and the summary's own text fields all read these words, so
a step left empty is never shown as a blank (which reads as "nothing to report").
"""

from __future__ import annotations

from typing import Any

NONE_TEXT = "None"
DECLINED_TEXT = "Declined to answer"
NOT_OBTAINED_TEXT = "Not obtained"
NOT_ASKED_TEXT = "Not asked yet"

# For clinicians (staff pages, admin, the summary).
STATE_TEXT: dict[str, str] = {"none": NONE_TEXT, "declined": DECLINED_TEXT, "not_obtained": NOT_OBTAINED_TEXT}
# For the patient's review screen: a decline in the second person; the rest as clinicians read it.
PATIENT_STATE_TEXT: dict[str, str] = {**STATE_TEXT, "declined": "You chose not to answer"}


def state_text(state: str, *, default: str = "") -> str:
    """The words for a fact's state ("" for a value: show the value)."""
    return STATE_TEXT.get(state, default)


# Topic keys the intake record (and the summary's `declined` / `none` lists) use, per summary section.
SECTION_TOPICS: dict[str, tuple[str, ...]] = {
    "patient_name": ("identity", "patient_name", "name"),
    "chief_complaint": ("reason", "chief_complaint"),
    "history_of_present_illness": ("hpi", "history_of_present_illness"),
    "contact": ("contact", "phone", "email"),
    "insurance": ("insurance",),
    "medications": ("medications",),
    "allergies": ("allergies",),
    "past_history": ("past_history",),
    "family_history": ("family_history",),
    "tobacco": ("tobacco", "social_history"),
    "alcohol": ("alcohol", "social_history"),
    "occupation": ("occupation", "social_history"),
}


def section_state(said: dict[str, list[str]], section: str, value: Any) -> str:
    """What the intake says about an empty or refused section: declined, none, or not obtained.
    `said` is `patients.selectors.summary_topics`: the topics declined, had none of, or not obtained."""
    topics = SECTION_TOPICS.get(section, (section,))
    if any(t in said.get("declined", []) for t in topics):
        return "declined"
    if any(t in said.get("none", []) for t in topics):
        return "none"
    empty = not value or (isinstance(value, dict) and not any(value.values()))
    return "not_obtained" if empty else ""
