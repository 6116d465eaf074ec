"""Red flags: the whole suite through evaluate(), context handling, the data files, and urgency that never lowers.

DB-free: redflags.py and redflag_eval.py are pure. The spaCy pipeline is built once per test process.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from intake import redflag_eval, redflags

# --- the suite (evals/redflags/) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> redflag_eval.Report:
    return redflag_eval.score(redflag_eval.run(redflag_eval.load_suite()))


def test_suite_is_as_large_as_promised() -> None:
    cases = redflag_eval.load_suite()
    emergent = [c for c in cases if c.expect == "emergent" and not c.vignette]
    lookalikes = [c for c in cases if c.expect == "routine"]
    vignettes = [c for c in cases if c.vignette]
    assert len(emergent) >= 300 and len({c.category for c in emergent}) >= 12
    assert len(lookalikes) >= 150
    assert sorted(c.expect for c in vignettes).count("emergent") == 15 and len(vignettes) == 45
    assert any(c.history for c in emergent), "some signs are spread over two messages"
    assert {c.batch for c in cases if c.held_out} == set(redflag_eval.HELD_OUT)
    assert len({c.id for c in cases}) == len(cases)


def test_every_emergency_of_the_tuning_batches_is_raised(report: redflag_eval.Report) -> None:
    missed = [f"{o.case.id}: {o.case.text}" for o in report.failures if o.case.expect == "emergent"]
    assert report.recall["tuning"].total >= 200
    assert report.recall["tuning"].pct == 100.0, missed


def test_false_alarms_on_look_alikes_stay_under_3_percent(report: redflag_eval.Report) -> None:
    assert report.false_alarms["tuning"].total >= 30
    assert report.false_alarms["tuning"].pct <= 3.0
    # Held out: 7/170 (4.1%) as measured once Z1 and Z2 (an outside writer's, 2026-12-01) were added,
    # above the 3% target (docs/benchmarks/redflags.md). Never tuned on, so the bound is "no worse than
    # measured".
    assert report.false_alarms["held-out"].total >= 170
    assert report.false_alarms["held-out"].hit <= 7


def test_held_out_batches_do_not_regress(report: redflag_eval.Report) -> None:
    # Never tuned against; their failures are not inspected. The floors are what they measured
    # (docs/benchmarks/redflags.md: A 75/78, N 36/40, Q 34/40, W 33/40, R 32/40, S 32/40, Z1 24/30,
    # Z2 22/30), so a change that loses held-out emergencies shows here.
    assert report.recall_by_batch["A"].hit >= 75
    assert report.recall_by_batch["N"].hit >= 36
    assert report.recall_by_batch["Q"].hit >= 34
    assert report.recall_by_batch["W"].hit >= 33
    assert report.recall_by_batch["R"].hit >= 32  # the outside writer's batches, scored once
    assert report.recall_by_batch["S"].hit >= 32
    assert report.recall_by_batch["Z1"].hit >= 24  # the outside writer's second round, scored once
    assert report.recall_by_batch["Z2"].hit >= 22
    assert report.recall["held-out"].total == 338  # A 78, N 40, Q 40, R 40, S 40, W 40, Z1 30, Z2 30


def test_every_batch_is_scored_on_its_own(report: redflag_eval.Report) -> None:
    # Each fresh batch's first run is recorded per batch, so the per-batch figures must exist.
    batches = {c.batch for c in redflag_eval.load_suite() if not c.vignette}
    assert set(report.recall_by_batch) == batches
    assert set(report.false_alarms_by_batch) == batches
    assert sum(r.total for r in report.recall_by_batch.values()) == sum(r.total for r in report.recall.values())


def test_semigran_vignettes_never_wave_off_an_emergency(report: redflag_eval.Report) -> None:
    assert report.vignettes["emergent raised to urgent or emergent"].pct == 100.0
    assert report.vignettes["emergent raised to emergent"].hit >= 11
    assert report.vignettes["non_emergent raised to emergent (over-triage)"].hit <= 1
    assert report.vignettes["self_care raised to emergent (over-triage)"].hit == 0


# --- the issue's own examples -----------------------------------------------------------------------

ISSUE_EMERGENCIES = [
    ("crushing pain in the middle of my chest that's spreading down my left arm and into my jaw", "chest_pain"),
    ("it feels like an elephant is sitting on me ... an ache down my left arm", "chest_pain"),
    ("the right side of my mouth is hanging down and I can't hold my coffee cup", "stroke"),
    ("everyone would be better off without me ... taking all my pills at once", "self_harm"),
    ("my lips are puffing up and my throat feels thick", "anaphylaxis"),
    ("I can barely get a sentence out and my lips look kind of blue", "breathing"),
]


@pytest.mark.parametrize(("text", "key"), ISSUE_EMERGENCIES)
def test_issue_emergencies_are_raised(text: str, key: str) -> None:
    result = redflags.evaluate(text)
    assert key in result.keys
    assert result.urgency == "emergent" and result.is_emergency
    assert "911" in result.emergency_message


# --- context: negation, history, time, family, hypotheticals, figures of speech ---------------------


@pytest.mark.parametrize(
    "text",
    [
        # time and history
        "I passed out once at a concert when I was 19",
        "I had a heart attack ten years ago",
        "had a stroke back in 2012, no problems since",
        "I had a seizure last year",
        "as a kid I had really bad asthma attacks and couldn't breathe",
        "history of seizures, none in years",
        # family
        "my dad had a stroke",
        "my dad died of a stroke",
        "my grandfather had crushing chest pain before his bypass",
        "heart attacks run in my family",
        # negation
        "no chest pain",
        "I don't have any chest pain or trouble breathing",
        "no fever, no stiff neck",
        "I haven't passed out",
        "I'm not suicidal",
        # hypotheticals
        "what if I get chest pain during the stress test?",
        "what are the warning signs of a stroke?",
        "if my throat ever swells up should I use my epipen?",
        # figures of speech
        "this traffic is killing me",
        "I'm dying to know my cholesterol results",
        "that meeting nearly gave me a heart attack",
        "my phone is dying",
        # look-alikes
        "I've had a chest cold for a week",
        "heartburn after pizza",
        "a bit short of breath on the stairs",
        "my 10 year old has a fever",
        "I take baby aspirin",
        "my chest of drawers fell on my foot",
        "Blair Conroy, 1990-04-02",
        # an organ's state, a time of life, the weather
        "I had a collapsed lung once, it has never come back",
        "back in my twenties I passed out at a festival",
        "this heat is suffocating",
        # an accident, a smoker, cleaning, a cold's glands
        "I cut myself shaving this morning, tiny nick",
        "I smoke 10 a day and get short of breath on the stairs",
        "I used bleach to clean the bathroom and then ate lunch",
        "I've had a sore throat and swollen glands for two days",
    ],
)
def test_not_a_current_emergency(text: str) -> None:
    result = redflags.evaluate(text)
    assert result.matched == (), [(f.category, f.evidence) for f in result.findings]
    assert result.emergency_message == ""
    assert result.urgency != "emergent"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # the sign stays when the context around it is about something else
        ("no fever, but crushing chest pain since noon", "chest_pain"),
        # "but" ends a negation's scope (medspaCy's overlap test alone kept it going to its max_scope)
        ("not one to complain but there's a weight on my chest that won't shift", "chest_pain"),
        ("I'm not sure but I think my face is drooping on one side", "stroke"),
        ("I had a heart attack ten years ago and now I have crushing chest pain again", "chest_pain"),
        ("my mom says I was shaking all over and not responding", "unconscious_seizure"),
        ("my husband says my speech is slurred", "stroke"),
        ("my dad noticed my face is drooping", "stroke"),
        ("I think I'm having a heart attack", "chest_pain"),
        ("it hurts in my chest if I breathe in", "chest_pain"),
        ("I don't want to live anymore", "self_harm"),
        ("my 6 week old son has a fever", "infant_fever"),
        ("my toddler swallowed a button battery", "overdose"),
        ("i cant breath", "breathing"),
        ("my tounge is swolen", "anaphylaxis"),
    ],
)
def test_still_an_emergency(text: str, key: str) -> None:
    assert key in redflags.evaluate(text).keys


def test_misspellings_read_as_the_word_and_the_evidence_keeps_what_was_typed() -> None:
    result = redflags.evaluate("chst pain bad")
    assert result.keys == ("chest_pain",)
    assert result.findings[0].evidence == ("chst pain",)


# --- unseen wording: general readings, not sentences ----------------------------------------------------


def _words() -> redflags._Vocabulary:
    return redflags._nlp().get_pipe("redflag_norms").vocabulary


def test_an_unseen_inflection_reads_as_the_vocabulary_form() -> None:
    words = _words()
    for word in ("collapsing", "bleding", "chestt", "brething", "unconscous", "hedache", "dizzzy"):
        reading = words.read(word)
        assert reading is not None and words.known(reading), word
        assert not words.known(word), f"{word} is in the vocabulary already: the test proves nothing"


def test_english_words_are_never_corrected_and_plurals_speak_of_a_kind() -> None:
    words = _words()
    for word in ("paint", "chess", "breast", "overdoses", "strokes"):
        assert words.read(word) is None, word
    assert redflags.evaluate("I'm a nurse and I see a lot of overdoses at work").keys == ()


def test_two_equally_close_guesses_are_no_guess() -> None:
    assert redflags._slips("brethe", "breathe") == 1 and redflags._slips("ab", "ba") == 1
    assert _words().read("brethe") == "breathe"  # likeness breaks the tie with "breath"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # a caregiver: a relative's sign told as happening now is the relative's emergency
        ("my mum is confused and has a high fever today", "sepsis_meningitis"),
        ("my grandad hit his head and he is very drowsy now", "head_injury"),
        ("my father banged his head, he takes warfarin", "head_injury"),
        # the third person reads like the first
        ("my son says he wants to kill himself", "self_harm"),
        ("her lips are swelling and she is wheezing", "anaphylaxis"),
        # softening and stressing words anywhere in a sign
        ("my face is kind of drooping on one side", "stroke"),
        ("my throat is kinda closing up", "anaphylaxis"),
        # a typing slip in a word of five letters or more
        ("i cant brethe", "breathing"),
    ],
)
def test_general_readings_raise(text: str, key: str) -> None:
    assert key in redflags.evaluate(text).keys


@pytest.mark.parametrize(
    "text",
    [
        "my dad had a stroke and he takes aspirin",
        "my sister has epilepsy",
        "my brother had a seizure when he was young",
        "my grandad hit his head years ago",
        "my cousin tried to kill herself",
    ],
)
def test_family_history_stays_history(text: str) -> None:
    assert redflags.evaluate(text).keys == ()


def test_severe_and_sudden_without_a_listed_sign_is_urgent_never_emergent() -> None:
    result = redflags.evaluate("sudden unbearable pain in my knee")
    assert result.urgency == "urgent" and not result.is_emergency
    assert [f.category for f in result.findings] == ["severe_sudden"]
    assert redflags.evaluate("unbearable pain in my knee since I fell last week").urgency != "emergent"


def test_word_classes_expand_once_per_entry() -> None:
    redflags.WORD_CLASSES["_t_words"] = ["a", "b"]
    redflags.WORD_CLASSES["_t_phrases"] = ["x (y|z)", "w"]
    try:
        assert redflags._expand("go @_t_words") == ["go a|b"]
        assert redflags._expand("@_t_phrases now") == ["x y|z now", "w now"]
    finally:
        del redflags.WORD_CLASSES["_t_words"], redflags.WORD_CLASSES["_t_phrases"]


def test_two_signs_across_two_messages_raise_together() -> None:
    history = ["my left arm has been aching since lunch"]
    assert redflags.evaluate("my left arm has been aching since lunch").keys == ()
    assert redflags.evaluate("now I'm sweating a lot").keys == ()
    result = redflags.evaluate("now I'm sweating a lot", history=history)
    assert result.keys == ("chest_pain",)
    finding = result.findings[0]
    assert set(finding.evidence) == {"sweating", "left arm has been aching"}
    assert "pain spreading to the arm, jaw, neck or back" in finding.signs


def test_a_sign_only_in_earlier_messages_does_not_raise_again() -> None:
    result = redflags.evaluate("my name is Ann Lee", history=["I have crushing chest pain"])
    assert result.matched == ()


def test_earlier_message_context_still_applies() -> None:
    # "when I was 19" set the faint aside then; it cannot complete a sign now.
    history = ["I passed out once at a concert when I was 19"]
    assert redflags.evaluate("I bumped my head on a shelf today", history=history).matched == ()


# --- what the result carries ------------------------------------------------------------------------


def test_finding_carries_category_sign_words_and_message() -> None:
    result = redflags.evaluate("the right side of my mouth is hanging down")
    (finding,) = result.findings
    assert finding.category == "stroke" and result.category == "stroke"
    assert finding.urgency == "emergent"
    assert finding.signs == ("face drooping or numb on one side",)
    assert finding.evidence == ("mouth is hanging",)
    assert "911" in finding.message and "time the symptoms started" in finding.message


def test_suicidal_thoughts_get_988_and_stop_the_intake() -> None:
    result = redflags.evaluate("everyone would be better off without me")
    assert result.keys == ("self_harm",)
    assert result.stop_intake
    assert "988" in result.emergency_message
    assert result.emergency_message.index("988") < result.emergency_message.index("Do not wait") + 200
    other = redflags.evaluate("crushing chest pain")
    assert not other.stop_intake and "988" not in other.emergency_message


def test_self_harm_first_when_several_categories() -> None:
    result = redflags.evaluate("I took too many pills because I want to die")
    assert result.keys[0] == "self_harm" and "overdose" in result.keys
    assert result.stop_intake


def test_anaphylaxis_message_says_use_the_auto_injector() -> None:
    message = redflags.evaluate("my throat is closing up").emergency_message
    assert "epinephrine auto-injector" in message and "911" in message


def test_past_self_harm_is_urgent_not_emergent() -> None:
    result = redflags.evaluate("I used to cut myself when I was a teenager")
    assert result.matched == ()
    assert result.urgency == "urgent"
    assert result.findings[0].category == "self_harm" and not result.stop_intake


def test_urgent_signs_do_not_take_the_emergency_path() -> None:
    result = redflags.evaluate("my right calf is swollen and painful")
    assert result.urgency == "urgent" and result.findings[0].category == "blood_clot"
    assert not result.is_emergency and result.emergency_message == ""


@pytest.mark.parametrize(
    "text", ["I don't smoke", "no allergies", "a sore knee for two weeks", "metformin 500 mg twice a day"]
)
def test_ordinary_answers_are_routine(text: str) -> None:
    result = redflags.evaluate(text)
    assert result.findings == () and result.urgency == "routine" and result.emergency_message == ""


# --- the data files ---------------------------------------------------------------------------------


def _toml(name: str) -> dict:
    with (redflags.DATA_DIR / name).open("rb") as fh:
        return tomllib.load(fh)


def test_categories_reference_only_known_concepts_and_each_has_its_instruction() -> None:
    concepts = set(_toml("concepts.toml")["concept"])
    keys = [c.key for c in redflags.CATEGORIES]
    assert len(keys) == len(set(keys)) and len(keys) >= 12
    for cat in redflags.CATEGORIES:
        assert cat.label and cat.instruction and cat.signs
        for sign in cat.signs:
            assert sign.urgency in redflags.URGENCY_ORDER
            for group in sign.groups:
                assert set(group) <= concepts, (cat.key, group)
    used = {c for cat in redflags.CATEGORIES for s in cat.signs for g in s.groups for c in g}
    assert concepts == used, f"concepts no category uses: {concepts - used}"


def test_every_compiled_pattern_is_a_valid_spacy_pattern() -> None:
    # The pipeline skips spaCy's slow per-pattern validation at run time; this is where it happens.
    from spacy.schemas import validate_token_pattern

    tokenizer = redflags._nlp().tokenizer
    lines = [p for c in _toml("concepts.toml")["concept"].values() for p in c["patterns"]]
    lines += [p for r in _toml("context.toml")["rule"] for p in r["patterns"]]
    for line in lines:
        compiled = redflags.compile_pattern(line, tokenizer)
        assert compiled, line
        for pattern in compiled:
            assert validate_token_pattern(pattern) == [], line


def test_pattern_syntax() -> None:
    tokenizer = redflags._nlp().tokenizer
    assert redflags.compile_pattern("(can not|unable to) breathe", tokenizer) == [
        [{"NORM": "can"}, {"NORM": "not"}, {"NORM": "breathe"}],
        [{"NORM": "unable"}, {"NORM": "to"}, {"NORM": "breathe"}],
    ]
    # An optional or one-of-several first word is split into plain first words (cheaper to match).
    patterns = redflags.compile_pattern("(left|right|) arm ~ weak*", tokenizer)
    assert [p[0] for p in patterns] == [{"NORM": "arm"}, {"NORM": "left"}, {"NORM": "right"}]
    pattern = patterns[1]
    assert pattern[1] == {"NORM": "arm"}
    assert pattern[2]["OP"] == "?" and "not" in pattern[2]["NORM"]["NOT_IN"]
    assert pattern[3] == {"NORM": {"REGEX": r"^(?:weak\S*)$"}}


# --- the fast path reads exactly what the slow one reads --------------------------------------------


def test_fast_path_gives_the_reference_result_for_every_tuning_message() -> None:
    # The indexed matchers and skipping ConText on a message without signs are speed only: urgency,
    # categories, signs, the patient's words and the message must be those of spaCy's own Matchers
    # with every component run. `manage.py eval_redflags --compare` checks the held-out batches too.
    cases = [c for c in redflag_eval.load_suite() if not c.held_out]
    different = redflag_eval.differences_from_reference(cases)
    assert [c.id for c in different] == []


# Written for this test, not taken from the suite: several signs in one message, signs that overlap or
# end on neighbouring words, hedges and fillers between words, words that start with a vocabulary stem.
FRESH_MESSAGES = [
    "crushing chest pain going down my left arm and my jaw and I'm sweating buckets",
    "she is not breathing properly, lips are going blue and she's really really drowsy",
    "my face is sort of drooping on one side and my words come out slurred",
    "bleeding heavily since the birth, soaking a pad every hour, feel faint",
    "took the whole bottle of my sleeping pills about an hour ago, want to die",
    "no chest pain, no shortness of breath, just a cough for a week",
    "my dad had a stroke in 2019 and my mum has asthma",
    "baby is 6 weeks old with a temp of 38.5 and wont feed",
    "hit my head on the cupboard, threw up twice and now I'm confused",
    "throat closing up after eating peanuts, tongue swelling, epipen didn't help",
    "worst headache of my life, stiff neck and a rash that doesn't fade under a glass",
    "",
    "ok",
    "I take lisinopril 10 mg and metformin 500 mg twice a day",
]


def test_indexed_matcher_returns_spacys_matches_in_spacys_order(monkeypatch: pytest.MonkeyPatch) -> None:
    nlp = redflags._nlp()
    paths = {"merged": 0, "run again": 0}
    merge = redflags._merge_by_end

    def spy(runs, plain):  # type: ignore[no-untyped-def]
        merged = merge(runs, plain)
        paths["merged" if merged is not None else "run again"] += 1
        return merged

    monkeypatch.setattr(redflags, "_merge_by_end", spy)
    indexed = redflags._indexed_matchers(nlp)
    full = [m._matcher(range(len(m._patterns))) for m in indexed]  # one spaCy Matcher of every pattern
    for text in FRESH_MESSAGES:
        doc = nlp(redflags._normalise(text))  # the matchers read each token's NORM, LOWER and tag
        for m, spacy_matcher in zip(indexed, full, strict=True):
            assert m(doc) == spacy_matcher(doc), text
    assert paths["merged"] and paths["run again"], paths  # both ways of merging groups were exercised


def test_index_reads_words_only_where_a_token_must_be_one_of_them() -> None:
    assert redflags._regex_prefixes(r"^(?:bleed\S*|blood|c\-section)$") == ["bleed", "blood", "c-section"]
    assert redflags._regex_prefixes(r"^(?:[0-9]+(?:\.[0-9]+)?)$") is None  # a number: not indexed
    assert redflags._regex_prefixes(r"^(?:a\S*b)$") is None
    assert redflags._regex_prefixes(r"^(?:\S*)$") is None  # any word
    strings = redflags._nlp().vocab.strings
    assert redflags._spec_words({"NORM": "chest"}, strings) == {("norm", strings["chest"])}
    assert redflags._spec_words({"LOWER": {"IN": ["hx", "pmh"]}}, strings) == {
        ("lower", strings["hx"]),
        ("lower", strings["pmh"]),
    }
    assert redflags._spec_words({"NORM": {"REGEX": r"^(?:weak\S*)$"}}, strings) == {("norm", "weak")}
    assert redflags._spec_words({"NORM": "chest", "OP": "?"}, strings) is None  # may be absent
    assert redflags._spec_words({"NORM": {"NOT_IN": ["not"]}}, strings) is None  # anything else
    assert redflags._spec_words({"TAG": "HEDGE", "OP": "*"}, strings) is None
    assert redflags._spec_words({"LIKE_NUM": True}, strings) is None


# --- urgency only goes up ---------------------------------------------------------------------------


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


# --- manage.py eval_redflags ------------------------------------------------------------------------


def test_eval_command_prints_cpu_per_message() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("eval_redflags", "--bench", "--repeats", "1", stdout=out)
    text = out.getvalue()
    assert "CPU per message: p50" in text and "p95" in text and "Pipeline build" in text
    assert "process CPU time; load average" in text  # CPU, not wall time, and how loaded the machine was


def test_eval_command_compares_with_the_reference_on_another_suite(tmp_path: Path) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command

    rows = [
        {"id": "T1-001", "text": "my chest is crushing and my left arm is numb", "expect": "emergent"},
        {"id": "T1-002", "text": "had a stroke in 2015, fine now", "expect": "routine", "kind": "history"},
        {"id": "T1-003", "text": "and now I'm sweating", "expect": "emergent", "history": ["pain down my left arm"]},
    ]
    (tmp_path / "batch_t1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = StringIO()
    call_command("eval_redflags", "--compare", "--suite", str(tmp_path), stdout=out)
    assert "0 of 3 messages differ" in out.getvalue()


def test_eval_command_refuses_zero_repeats() -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("eval_redflags", "--repeats", "0")


# --- both layers: the rules and the offline model's per-turn judgement ------------------------------


def test_both_layers_together_and_nothing_waits_on_the_model() -> None:
    """The offline model's urgency (its record_answers call, as the app reads it) added to the rules:
    every tuning emergency raised, false alarms still <= 3%, and every tuning emergency either layer
    raises is raised by the rules, which run before any model call (the emergency message never waits).
    On the held-out batches the model alone raised one emergency the rules missed (batch W, first run):
    caught, but only after the model call, so the floor is what was measured."""
    from intake import redflag_model_eval

    rep = redflag_model_eval.run(redflag_eval.load_suite())
    assert rep.both["tuning"].pct == 100.0
    assert rep.fa_both["tuning"].pct <= 3.0
    # Held out, with the outside writer's R, S, Z1 and Z2: 9/170 (5.3%) false alarms and 4 emergencies
    # only the model raised, as measured (above the 3% target; docs/benchmarks/redflags.md). No worse.
    assert rep.fa_both["held-out"].hit <= 9
    assert rep.waits["tuning"].hit == 0, rep.model_only
    assert rep.waits["held-out"].hit <= 4
    # The model's own judgement, measured (docs/benchmarks/redflags.md); it may grow, not shrink.
    # The model's false alarms rose from 3/422 to 8/532 once the fresh look-alikes of H10A-D, Z3 and Z4 joined
    # the tuning set (measured, eval_redflags --with-model); the rules + model target (<= 3%) holds above.
    assert rep.model["tuning"].hit >= 185 and rep.fa_model["tuning"].pct <= 1.6
