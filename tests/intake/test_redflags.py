"""Deterministic red-flag rules: every rule fires on plain phrasings and not on near-misses."""

from __future__ import annotations

import re

import pytest

from intake import redflags

POSITIVE: dict[str, list[str]] = {
    "chest_pain": [
        "chest pain since this morning",
        "I have a crushing pressure in my chest",
        "my chest feels tight",
        "My chest hurts when I sit still",
        "tightness across my chest",
        "I think I'm having a heart attack",
        "No fever, chest pain since noon",
    ],
    "stroke": [
        "my face is drooping on one side",
        "my husband says my speech is slurred",
        "I keep slurring my words",
        "sudden weakness on the left side",
        "I can't move my right arm",
        "I suddenly feel confused",
        "worst headache of my life",
        "this is the worst headache I've ever had",
    ],
    "breathing": [
        "I can't breathe",
        "cant catch my breath",
        "short of breath even at rest",
        "I'm choking",
        "my lips are turning blue",
        "I'm having trouble breathing",
    ],
    "bleeding": [
        "my cut won't stop bleeding",
        "the bleeding won't stop",
        "I've been coughing up blood",
        "I was vomiting blood this morning",
        "I can't stop the bleeding",
        "bleeding heavily from my leg",
    ],
    "anaphylaxis": [
        "my throat is closing",
        "my throat feels like it's swelling",
        "my tongue is swelling after a bee sting",
        "I got hives after peanuts and now I'm wheezing",
        "I think it's anaphylaxis",
    ],
    "self_harm": [
        "I want to die",
        "I've been thinking about killing myself",
        "I want to end my life",
        "sometimes I hurt myself",
        "I don't want to live anymore",
        "I feel suicidal",
        "I\u2019m going to kill myself",
    ],
    "overdose": [
        "I took too many pills",
        "I overdosed on my sleeping tablets",
        "my son swallowed bleach",
        "I think I've been poisoned",
        "took a whole bottle of tylenol",
    ],
    "unconscious_seizure": [
        "I passed out at work",
        "I fainted this morning",
        "she lost consciousness",
        "I had a seizure an hour ago",
        "he is unresponsive",
    ],
    "abdominal_rigid": [
        "my stomach is hard as a board",
        "severe abdominal pain and my belly is rigid",
        "excruciating stomach pain",
    ],
    "pregnancy_bleeding": [
        "I'm 10 weeks pregnant and bleeding",
        "bleeding during my pregnancy",
        "I am pregnant and have heavy bleeding",
    ],
    "infant_fever": [
        "my 6 week old baby has a fever of 101",
        "newborn with a high temperature",
        "my infant has a fever",
        "fever in my 2-month-old",
    ],
}

NEAR_MISSES: dict[str, list[str]] = {
    "chest_pain": [
        "no chest pain",
        "I don't have chest pain",
        "denies chest pain or pressure",
        "denies fever, chills, chest pain",
        "my chest of drawers fell on my foot",
        "heartburn after pizza",  # decided: heartburn alone is not chest pain
        "my dad had chest pain before his bypass",
        "I had chest pain 5 years ago",
    ],
    "stroke": [
        "no slurred speech",
        "my mother had a stroke",  # family history, and not a sign
        "a mild headache since Tuesday",
        "my eyelid droops a little",
    ],
    "breathing": [
        "denies shortness of breath",
        "a bit short of breath on the stairs",
        "no trouble breathing",
        "I breathe fine",
    ],
    "bleeding": [
        "my gums bleed a little when I brush",
        "a nosebleed that stopped on its own",
        "no blood in my vomit",
    ],
    "anaphylaxis": [
        "sore throat for two days",
        "I had hives last year",
        "no swelling of my tongue or throat",
        "my ankle is swollen",
    ],
    "self_harm": [
        "this headache is killing me",
        "I don't want to die",
        "I'm not suicidal",
        "no thoughts of hurting myself",
        "I'm dying to get this sorted",
    ],
    "overdose": [
        "food poisoning last year",
        "no overdose",
        "I took two tylenol",
    ],
    "unconscious_seizure": [
        "I have never fainted",
        "history of seizures, none in years",
        "I take medicine for my blood pressure",
    ],
    "abdominal_rigid": [
        "mild stomach ache after eating",
        "my stomach hurts a little",
        "no severe abdominal pain",
    ],
    "pregnancy_bleeding": [
        "I'm pregnant, no bleeding",
        "I'm not pregnant",
        "bleeding gums",
    ],
    "infant_fever": [
        "my 10 year old has a fever",
        "my baby has no fever",
        "I take baby aspirin",
    ],
}


def _rule(key: str) -> redflags.Rule:
    return next(rule for rule in redflags.RULES if rule.key == key)


def test_table_is_single_source_and_covers_required_rules() -> None:
    keys = [rule.key for rule in redflags.RULES]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(POSITIVE) == set(NEAR_MISSES)
    for rule in redflags.RULES:
        assert rule.label and rule.instruction and rule.patterns
        assert all(isinstance(p, re.Pattern) for p in rule.patterns)


@pytest.mark.parametrize(("key", "text"), [(k, t) for k, texts in POSITIVE.items() for t in texts])
def test_rule_fires(key: str, text: str) -> None:
    result = redflags.evaluate(text)
    assert key in result.keys
    assert result.is_emergency and result.urgency == "emergent"
    assert "911" in result.emergency_message


@pytest.mark.parametrize(("key", "text"), [(k, t) for k, texts in NEAR_MISSES.items() for t in texts])
def test_rule_does_not_fire_on_near_miss(key: str, text: str) -> None:
    assert not redflags.rule_matches(_rule(key), text)


@pytest.mark.parametrize(
    "text", ["I don't smoke", "no allergies", "Blair Conroy, 1990-04-02", "a sore knee for two weeks"]
)
def test_ordinary_answers_are_not_emergencies(text: str) -> None:
    result = redflags.evaluate(text)
    assert result.matched == ()
    assert result.emergency_message == ""
    assert result.urgency == "routine"


def test_self_harm_message_gives_988_and_others_do_not() -> None:
    assert "988" in redflags.evaluate("I want to end my life").emergency_message
    assert "988" not in redflags.evaluate("chest pain since this morning").emergency_message


def test_emergency_message_names_emergency_department() -> None:
    message = redflags.evaluate("I can't breathe").emergency_message
    assert "emergency department" in message and "now" in message


def test_several_rules_can_match_at_once() -> None:
    result = redflags.evaluate("chest pain and I can't breathe")
    assert {"chest_pain", "breathing"} <= set(result.keys)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("routine", "routine", "routine"),
        ("routine", "urgent", "urgent"),
        ("emergent", "routine", "emergent"),
        ("urgent", "emergent", "emergent"),
        ("emergent", "bogus", "emergent"),
        ("bogus", "routine", "routine"),
    ],
)
def test_max_urgency_never_lowers(a: str, b: str, expected: str) -> None:
    assert redflags.max_urgency(a, b) == expected
    assert redflags.max_urgency(b, a) == expected


def test_urgency_order() -> None:
    assert redflags.URGENCY_ORDER == ("routine", "urgent", "emergent")
