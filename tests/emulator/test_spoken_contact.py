"""Contact details said the way people say them: phone numbers read out in words (digit by digit,
in pairs, "oh", "double"), and email addresses spelled out with "at" and "dot". Pure: no server."""

from __future__ import annotations

import pytest

from gemini_emulator.extract import Facts, read_message, topics_of
from gemini_emulator.spoken import spoken_emails, spoken_numbers

CONTACT_Q = "What is the best phone number and email to reach you?"


def read(text: str, question: str = CONTACT_Q) -> Facts:
    return read_message(text, Facts(), 1, topics_of(question), context=question, prior=Facts())


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("it's six one seven, four oh four, two two nine one", "6174042291"),
        ("three one two. eight eight one. oh six five oh", "3128810650"),
        ("my mobile is four one five double two three, seventy one eighteen", "4152237118"),
        ("nine seven three - triple five - twelve forty", "9735551240"),
        ("you can text me on two oh six 555 thirty thirty", "2065553030"),
        ("one eight hundred, four four two, nineteen oh seven", "18004421907"),
    ],
)
def test_a_phone_number_read_out_in_words_is_recorded_in_digits(text: str, digits: str) -> None:
    phone = read(text).phone
    assert "".join(c for c in phone if c.isdigit()) == digits, phone


@pytest.mark.parametrize(
    "text",
    [
        "I take two of the five hundred milligram tablets twice a day",
        "it started two or three days ago, maybe four",
        "one two three, that's how many times I threw up",
        "I'm fifty five and I walk two miles a day",
    ],
)
def test_numbers_in_words_that_are_no_phone_stay_as_they_are(text: str) -> None:
    assert spoken_numbers(text) == text
    assert read(text).phone == ""


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("email is rkhan77 at yahoo dot com", "rkhan77@yahoo.com"),
        ("sara dot lindqvist at proton dot me works best", "sara.lindqvist@proton.me"),
        ("it's d underscore okafor at hotmail dot co dot uk", "d_okafor@hotmail.co.uk"),
        ("Email me at jo-anne at sign outlook dot com", "jo-anne@outlook.com"),
        ("wes.tran at gmail.com", "wes.tran@gmail.com"),
        ("my work one is p dash moreau at riverside-clinic dot org", "p-moreau@riverside-clinic.org"),
    ],
)
def test_an_email_spelled_out_is_recorded_as_an_address(text: str, email: str) -> None:
    facts = read(text)
    assert facts.email == email
    assert not facts.no_email


@pytest.mark.parametrize(
    "text",
    [
        "reach me at gmail dot com I guess, I forget the rest",
        "I work at home and got stung at work. Co-workers helped",
        "I'm at the office dot com company downtown",
    ],
)
def test_at_and_dot_that_spell_no_mailbox_are_not_an_email(text: str) -> None:
    assert "@" not in spoken_emails(text)


def test_a_spelled_email_beside_i_dont_use_email_is_the_email_given() -> None:
    facts = read("my husband doesn't use email, so use mine: ana dot ruiz at gmail dot com")
    assert facts.email == "ana.ruiz@gmail.com"
    assert not facts.no_email
