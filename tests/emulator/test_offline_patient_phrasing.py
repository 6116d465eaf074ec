"""A second batch of patient messages, written after the rules and never used to write them: the
offline model's form-filling must hold on phrasing it was not tuned to (through the SDK)."""

from __future__ import annotations

import pytest

from tests.emulator.test_offline_function_fill import Intake, med_names, recorded


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("I'm on Lipitor 40 at night and a baby aspirin every morning", {"lipitor": None, "aspirin": None}),
        ("I use my albuterol inhaler maybe twice a week", {"albuterol": None}),
        ("levothyroxine 50 mcg, every morning on an empty stomach", {"levothyroxine": "50 mcg"}),
        ("Ozempic 0.5mg once a week", {"ozempic": "0.5 mg"}),
        ("Tylenol PM sometimes when I can't sleep", {"tylenol": None}),
        ("I get a B12 shot once a month", {"vitamin b12": None}),
    ],
)
def test_medicines_in_everyday_words(emulator_client, message, expected):
    intake = Intake(emulator_client)
    intake.start("medications")
    args = recorded(intake, message)
    got = {m["name"].lower(): m for m in args["medications"]}
    assert set(got) == set(expected)
    for name, dose in expected.items():
        if dose:
            assert got[name]["dose"] == dose
        assert got[name].get("taking", True) is True


def test_a_medicine_quit_in_the_same_breath_is_not_taken(emulator_client):
    intake = Intake(emulator_client)
    intake.start("medications")
    args = recorded(intake, "I was taking ibuprophen 800 for my knee but I quit it 2 weeks ago")
    assert [(m["name"].lower(), m["taking"]) for m in args["medications"]] == [("ibuprofen", False)]


def test_no_medicines_at_all(emulator_client):
    intake = Intake(emulator_client)
    intake.start("medications")
    args = recorded(intake, "nothing, I don't take any meds")
    assert args.get("none") == ["medications"] and "medications" not in args


@pytest.mark.parametrize(
    ("message", "substance", "reaction_word"),
    [
        ("Sulfa drugs make me break out in a rash", "sulfa", "rash"),
        ("shellfish - my throat closes up", "shellfish", ""),
        ("I'm allergic to amoxicilin", "amoxicillin", ""),
        ("Peanuts.", "peanuts", ""),
    ],
)
def test_allergies_in_everyday_words(emulator_client, message, substance, reaction_word):
    intake = Intake(emulator_client)
    intake.start("allergies")
    args = recorded(intake, message)
    subs = [a["substance"].lower() for a in args["allergies"]]
    assert any(substance in s for s in subs), subs
    if reaction_word:
        assert reaction_word in (args["allergies"][0].get("reaction") or "")
    assert "medications" not in args


@pytest.mark.parametrize(
    "message", ["can we skip this one?", "next question please", "I don't really want to get into that"]
)
def test_more_ways_to_decline(emulator_client, message):
    intake = Intake(emulator_client)
    intake.start("insurance")
    args = recorded(intake, message)
    assert args.get("declined") == ["insurance"]


@pytest.mark.parametrize("message", ["Yep, looks good to me", "that's right", "yes, everything is correct"])
def test_more_ways_to_confirm_the_review(emulator_client, message):
    intake = Intake(emulator_client)
    intake.start("review")
    assert recorded(intake, message) == {"review_confirmed": True}


@pytest.mark.parametrize(
    "message",
    [
        "worst headache of my life, came on all of a sudden an hour ago",
        "I've been having thoughts of hurting myself",
        "I can't catch my breath even sitting still",
    ],
)
def test_emergencies_in_patients_words(emulator_client, message):
    intake = Intake(emulator_client)
    intake.start("complaint")
    args = recorded(intake, message)
    assert args.get("urgency") == "emergent"
    assert args.get("warning_signs")


def test_identity_and_contact_in_other_words(emulator_client):
    intake = Intake(emulator_client)
    intake.start("identity")
    args = recorded(intake, "name's Priya Raman and I was born on the 9th of October 1990", "contact")
    assert (args.get("name"), args.get("date_of_birth")) == ("Priya Raman", "1990-10-09")
    args = recorded(intake, "cell is (617) 555-0199, email priya.r@gmail.com")
    assert (args.get("phone"), args.get("email")) == ("(617) 555-0199", "priya.r@gmail.com")
    assert med_names(args) == []
