"""Staff forms about patients. Every error names what to fix."""

from __future__ import annotations

from typing import Any, get_args

from django import forms

from agents.schemas import AllergyStatus, MedicationStatus
from patients.fact_states import NOT_OBTAINED_TEXT, section_state
from patients.models import Patient, PatientSummary
from patients.review import STATUS_LABELS, summary_validate
from patients.selectors import summary_topics
from patients.services import PatientDuplicateError, PatientInvalidError, patient_create


class PatientRegisterForm(forms.Form):
    given_name = forms.CharField(
        label="First name",
        max_length=100,
        error_messages={"required": "Enter the patient's first name."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    family_name = forms.CharField(
        label="Last name",
        max_length=100,
        error_messages={"required": "Enter the patient's last name."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    birth_date = forms.DateField(
        label="Birth date",
        help_text="As YYYY-MM-DD, for example 1984-03-27.",
        error_messages={
            "required": "Enter the birth date, for example 1984-03-27.",
            "invalid": "Enter the birth date as YYYY-MM-DD, for example 1984-03-27.",
        },
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    sex = forms.ChoiceField(
        label="Sex",
        choices=Patient.Sex.choices,
        initial=Patient.Sex.UNKNOWN,
        error_messages={"invalid_choice": "Choose one of the listed options for sex."},
    )
    phone = forms.CharField(
        label="Phone",
        max_length=32,
        required=False,
        help_text="Optional. 7 to 15 digits, for example 555-123-4567 or +1 555 123 4567.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}),
        error_messages={"max_length": "Shorten the phone number to at most 32 characters."},
    )
    email = forms.CharField(
        label="Email",
        max_length=254,
        required=False,
        help_text="Optional.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    mrn = forms.CharField(
        label="MRN",
        max_length=64,
        required=False,
        help_text="Optional. The medical record number; it is used to find the patient's chart.",
        error_messages={"max_length": "Shorten the MRN to at most 64 characters."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicate_id: int | None = None
        for name, field in self.fields.items():
            # Help and error texts are read out with the field (ids match the template).
            field.widget.attrs["aria-describedby"] = f"id_{name}-help id_{name}-error"

    def full_clean(self) -> None:
        super().full_clean()
        self._mark_invalid()

    def _mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"

    def save(self, *, actor: Any) -> Patient | None:
        """Register the patient. On a validation or duplicate error, attach it to the form and return None."""
        data = self.cleaned_data
        try:
            return patient_create(
                given_name=data["given_name"],
                family_name=data["family_name"],
                birth_date=data["birth_date"],
                sex=data["sex"],
                phone=data["phone"],
                email=data["email"],
                mrn=data["mrn"] or None,
                actor=actor,
            )
        except PatientInvalidError as exc:
            for field, message in exc.errors.items():
                self.add_error(field if field in self.fields else None, message)
        except PatientDuplicateError as exc:
            self.duplicate_id = exc.existing_id
            advice = (
                " Check the MRN, or open the existing patient instead of registering again."
                if exc.field == "mrn"
                else " Check the name and birth date, or open the existing patient instead of registering again."
            )
            self.add_error(exc.field if exc.field in self.fields else None, str(exc) + advice)
        self._mark_invalid()
        return None


# --- The reviewer's summary form: one field per scalar, one formset per list --------------------------

# Buttons of the review form that need a note saying what is wrong (see PatientSummaryAdmin.DECISIONS).
NOTE_REQUIRED_BUTTONS = ("_request_changes", "_reject")
_TEXT = {"rows": 2, "cols": 60}
# Status labels are shared with the reconciliation table.
# A blank first choice, so the blank row for adding one stays unchanged (and is skipped) until filled in.
MEDICATION_STATUSES = [("", "— status —"), *((s, STATUS_LABELS[s]) for s in get_args(MedicationStatus))]
ALLERGY_STATUSES = [("", "— status —"), *((s, STATUS_LABELS[s]) for s in get_args(AllergyStatus))]


def _req(label: str) -> dict[str, str]:
    return {"required": f"Enter the {label}, or tick Delete to remove the row."}


class MedicationForm(forms.Form):
    name = forms.CharField(max_length=200, error_messages=_req("medicine's name"))
    dose = forms.CharField(max_length=100, required=False)
    frequency = forms.CharField(max_length=100, required=False)
    status = forms.ChoiceField(
        choices=MEDICATION_STATUSES,
        error_messages={
            "invalid_choice": "Choose the status against the chart from the list.",
            "required": "Choose the status against the chart.",
        },
    )


class AllergyForm(forms.Form):
    substance = forms.CharField(max_length=200, error_messages=_req("substance"))
    reaction = forms.CharField(max_length=200, required=False)
    status = forms.ChoiceField(
        choices=ALLERGY_STATUSES,
        error_messages={
            "invalid_choice": "Choose the status against the chart from the list.",
            "required": "Choose the status against the chart.",
        },
    )


class ItemForm(forms.Form):
    text = forms.CharField(label="Item", max_length=500, error_messages=_req("text"))


def _formset(form: type[forms.Form]) -> type[forms.BaseFormSet]:
    return forms.formset_factory(form, extra=1, can_delete=True, max_num=50, validate_max=True)


# Summary list key -> (formset class, heading, what one row is)
SUMMARY_FORMSETS: dict[str, tuple[type[forms.BaseFormSet], str, str]] = {
    "medications": (_formset(MedicationForm), "Medications", "medication"),
    "allergies": (_formset(AllergyForm), "Allergies", "allergy"),
    "past_history": (_formset(ItemForm), "Past history (conditions and surgeries)", "condition"),
    "family_history": (_formset(ItemForm), "Family history", "item, e.g. “Mother: type 2 diabetes”"),
    "red_flags": (_formset(ItemForm), "Red flags", "emergency sign"),
    "recommended_follow_up": (_formset(ItemForm), "Recommended follow-up", "follow-up"),
}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


SECTION_STATE_LABELS = {
    "declined": "The patient declined to answer.",
    "none": "The patient said they have none.",
    "not_obtained": f"{NOT_OBTAINED_TEXT} in the intake.",
}


class PatientSummaryReviewForm(forms.ModelForm):
    """Every field of the summary as a form field or an inline formset; saved only if PatientSummarySchema
    accepts the result. `summary_data` in cleaned_data is the validated summary."""

    patient_name = forms.CharField(label="Name as given", max_length=200, required=False)
    urgency_level = forms.ChoiceField(label="Urgency", choices=PatientSummary.Urgency.choices)
    chief_complaint = forms.CharField(label="Chief complaint", required=False, widget=forms.Textarea(attrs=_TEXT))
    history_of_present_illness = forms.CharField(
        label="History of present illness", required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 60})
    )
    contact_phone = forms.CharField(label="Phone (as given)", max_length=32, required=False)
    contact_email = forms.EmailField(
        label="Email (as given)", required=False, error_messages={"invalid": "Enter an email like name@example.org."}
    )
    insurance_payer = forms.CharField(label="Insurance payer", max_length=200, required=False)
    insurance_member_id = forms.CharField(label="Member ID", max_length=100, required=False)
    tobacco = forms.CharField(label="Tobacco", max_length=300, required=False)
    alcohol = forms.CharField(label="Alcohol", max_length=300, required=False)
    occupation = forms.CharField(label="Occupation", max_length=300, required=False)

    SCALARS = ("patient_name", "urgency_level", "chief_complaint", "history_of_present_illness")
    PAIRS = {  # form field -> (summary key, sub-key)
        "contact_phone": ("contact", "phone"),
        "contact_email": ("contact", "email"),
        "insurance_payer": ("insurance", "payer"),
        "insurance_member_id": ("insurance", "member_id"),
        "tobacco": ("social_history", "tobacco"),
        "alcohol": ("social_history", "alcohol"),
        "occupation": ("social_history", "occupation"),
    }
    STATE_OF = {  # form field -> section whose declined/none/not-obtained state it shows
        "contact_phone": "contact",
        "contact_email": "contact",
        "insurance_payer": "insurance",
        "insurance_member_id": "insurance",
        "tobacco": "tobacco",
        "alcohol": "alcohol",
        "occupation": "occupation",
    }

    class Meta:
        model = PatientSummary
        fields = ["review_note"]
        widgets = {"review_note": forms.Textarea(attrs={"rows": 3, "cols": 60})}
        help_texts = {"review_note": "Required when rejecting or requesting changes; saved in the history."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        data = self.instance.data if self.instance.pk and isinstance(self.instance.data, dict) else {}
        self.summary = data
        self.said = summary_topics(self.instance) if self.instance.pk else {}
        self.fields["urgency_level"].initial = data.get("urgency_level", self.instance.urgency)
        for name in self.SCALARS[:1] + self.SCALARS[2:]:
            self.fields[name].initial = _str(data.get(name))
            self._show_state(name, section_state(self.said, name, data.get(name)))
        for name, (key, sub) in self.PAIRS.items():
            group = data.get(key) if isinstance(data.get(key), dict) else {}
            self.fields[name].initial = _str(group.get(sub))
            state = section_state(self.said, self.STATE_OF[name], group.get(sub) if key == "social_history" else group)
            self._show_state(name, state)
        self.formsets: dict[str, forms.BaseFormSet] = {}
        for key, (formset, _heading, _row) in SUMMARY_FORMSETS.items():
            items = data.get(key) if isinstance(data.get(key), list) else []
            initial = [i if isinstance(i, dict) else {"text": str(i)} for i in items]
            # A post without this formset (the history page's revert form) keeps the list as it is.
            posted = self.is_bound and f"{key}-TOTAL_FORMS" in self.data
            self.formsets[key] = formset(self.data if posted else None, prefix=key, initial=initial)

    def _show_state(self, name: str, state: str) -> None:
        if state:
            self.fields[name].help_text = SECTION_STATE_LABELS[state]
            self.fields[name].widget.attrs["data-state"] = state

    def formset_sections(self) -> list[dict[str, Any]]:
        """For the template: each list section with its formset, heading and declined/none state."""
        return [
            {
                "key": key,
                "formset": self.formsets[key],
                "heading": heading,
                "row": row,
                "state": SECTION_STATE_LABELS.get(section_state(self.said, key, self.summary.get(key)), ""),
            }
            for key, (_f, heading, row) in SUMMARY_FORMSETS.items()
        ]

    def _rows(self, key: str) -> list[Any]:
        rows = []
        for form in self.formsets[key].forms:
            if (not form.has_changed() and not form.initial) or form.cleaned_data.get("DELETE"):
                continue  # the blank extra row, or a row ticked for deletion
            cleaned = {k: v.strip() if isinstance(v, str) else v for k, v in form.cleaned_data.items() if k != "DELETE"}
            rows.append(cleaned["text"] if set(cleaned) == {"text"} else cleaned)
        return rows

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        posted = {k: fs for k, fs in self.formsets.items() if fs.is_bound}
        if not all(fs.is_valid() for fs in posted.values()):
            raise forms.ValidationError("Some rows below need fixing; each says what is wrong.")
        merged = dict(self.summary)
        for name in self.SCALARS:
            if name in cleaned:
                merged[name] = cleaned[name].strip()
        for name, (key, sub) in self.PAIRS.items():
            group = dict(merged.get(key) if isinstance(merged.get(key), dict) else {})
            group[sub] = cleaned.get(name, "").strip()
            merged[key] = group
        for key in posted:
            merged[key] = self._rows(key)
        if any(b in self.data for b in NOTE_REQUIRED_BUTTONS) and not cleaned.get("review_note", "").strip():
            self.add_error("review_note", "Please write a note saying what is wrong or what needs to change.")
        if self.errors:
            return cleaned
        clean_data, errors = summary_validate(merged)
        for field, message in errors:
            self.add_error(field if field in self.fields else None, message)
        cleaned["summary_data"] = clean_data
        return cleaned


class PatientSearchForm(forms.Form):
    """Staff patient search. Posted, never in a query string, so names stay out of URLs and logs."""

    q = forms.CharField(
        label="Name, MRN or birth date",
        max_length=100,
        required=False,
        help_text="For example “Garcia”, “Maria Garcia”, an MRN, or a birth date as 1980-05-04.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "aria-describedby": "id_q-help"}),
        error_messages={"max_length": "Shorten the search to at most 100 characters."},
    )
