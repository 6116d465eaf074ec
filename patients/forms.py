"""Staff forms about patients. Every error names what to fix."""

from __future__ import annotations

from typing import Any

from django import forms

from patients.models import Patient
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
