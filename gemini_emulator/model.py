"""The offline model: deterministic, rule-based, able to carry a clinical intake.

It reads the whole rebuilt history (not just the last message), follows the `Next:` instruction
in `system_instruction`, calls a declared function tool when one fits, answers from function
results, and fills response_format schemas. See docs/emulator.md for the contract.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from gemini_emulator import extract, funcfill, instruct, schema_fill, toolcall
from gemini_emulator.extract import Allergy, Facts, read_message, same_allergen, step_text, user_messages

OFFLINE_SUFFIX = " (offline emulator)"
REPORT_MIN_CHARS = 400  # a model_output this long in the history is treated as a report to summarise


@dataclass
class ModelInput:
    history: list[dict[str, Any]]
    new_steps: list[dict[str, Any]]
    system_instruction: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    response_schema: dict[str, Any] | None = None
    generation_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


@dataclass
class ModelResult:
    steps: list[dict[str, Any]]
    status: str = "completed"


def preamble_text(inp: ModelInput) -> str:
    """The request text that is not history or input: system instruction + tool declarations."""
    tools = json.dumps(inp.tools, sort_keys=True) if inp.tools else ""
    return (inp.system_instruction or "") + tools


def _pick(options: list[str], seed: int, key: str) -> str:
    h = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return options[h[0] % len(options)]


def _text_step(text: str) -> dict[str, Any]:
    return {"type": "model_output", "content": [{"type": "text", "text": text}]}


# --- attachments ------------------------------------------------------------------------------


def _decode(data: str) -> bytes:
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=False)
    except (binascii.Error, ValueError):
        return b""


def read_pdf(raw: bytes) -> tuple[str, int]:
    """Text and page count of a PDF ("" and 0 if it cannot be read)."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(raw))
        text = "\n".join((page.extract_text() or "") for page in reader.pages)
        return text.strip(), len(reader.pages)
    except Exception:  # a broken upload must not break the emulator
        return "", 0


def _human_size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


# "HbA1c: 7.8 %", "Fasting glucose 142 mg/dL": a labelled value, as lab reports and letters print them.
_MEASUREMENT = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9 ()/+-]{1,40}?)\s*[:=]?\s+([<>]?\d+(?:[.,]\d+)?)"
    r"\s*((?:%|[A-Za-z][\w/.^]*)(?:/[\w.^]+)*)?\s*$"
)


def _measurement_note(text: str) -> list[str]:
    """Every labelled value a document lists, read back in one sentence (nothing left out)."""
    found = []
    for line in text.splitlines():
        m = _MEASUREMENT.match(line)
        if m:
            found.append(" ".join(p for p in (m[1].strip(), m[2], (m[3] or "").strip()) if p))
    return [f"It lists: {'; '.join(found)}."] if found else []


def describe_attachments(step: dict[str, Any]) -> tuple[list[str], str]:
    """Sentences acknowledging non-text blocks, and any text read out of documents."""
    notes: list[str] = []
    texts: list[str] = []
    for block in step.get("content") or []:
        kind = block.get("type")
        if kind not in ("image", "audio", "video", "document"):
            continue
        mime = block.get("mime_type") or "unknown type"
        sub = mime.split("/")[-1].upper() if "/" in mime else mime
        if block.get("data"):
            raw = _decode(block["data"])
            size = _human_size(len(raw))
            if kind == "document" and (mime == "application/pdf" or raw.startswith(b"%PDF")):
                text, pages = read_pdf(raw)
                if text:
                    texts.append(text)
                    notes.append(f"I read your PDF ({pages} page{'s' if pages != 1 else ''}, {size}).")
                    notes.extend(_measurement_note(text))
                else:
                    notes.append(f"I received your PDF ({size}) but could not read any text in it.")
            elif kind == "document" and mime.startswith("text/"):
                texts.append(raw.decode("utf-8", "replace"))
                notes.append(f"I read your {sub} document ({size}).")
                notes.extend(_measurement_note(texts[-1]))
            elif kind == "image":
                notes.append(f"I received your {sub} image ({size}); I can't examine images offline.")
            else:
                notes.append(f"I received your {kind} file ({sub}, {size}); I can't play it offline.")
        else:
            notes.append(
                f"I received a link to your {kind} ({mime}) at {block.get('uri')}; I can't open links offline."
            )
    return notes, "\n".join(texts)


def _without_instruction(step: dict[str, Any]) -> dict[str, Any]:
    """A user input with the step instruction that travels in it taken out (it is not the patient's)."""
    blocks = []
    changed = False
    for b in step.get("content") or []:
        if isinstance(b, dict) and b.get("type") == "text":
            found, rest = instruct.split_input(str(b.get("text", "")))
            if found:
                changed = True
                if rest:
                    blocks.append({**b, "text": rest})
                continue
        blocks.append(b)
    return {**step, "content": blocks} if changed else step


def conversation_view(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of the steps where attached documents are replaced by the text read out of them, and
    step instructions are taken out of user inputs."""
    out = []
    for step in steps:
        if step.get("type") == "user_input":
            step = _without_instruction(step)
        if step.get("type") == "user_input" and any(
            isinstance(b, dict) and b.get("type") == "document" for b in step.get("content") or []
        ):
            _, text = describe_attachments(step)
            blocks = [b for b in step.get("content") or [] if b.get("type") == "text"]
            if text:
                blocks.append({"type": "text", "text": text})
            out.append({"type": "user_input", "content": blocks})
        else:
            out.append(step)
    return out


def _payload(step: dict[str, Any]) -> Any:
    payload = step.get("result")
    if isinstance(payload, list) and payload and all(isinstance(x, dict) and "type" in x for x in payload):
        payload = " ".join(str(x.get("text", "")) for x in payload)  # a list of content blocks
    if isinstance(payload, str):
        with contextlib.suppress(ValueError):
            payload = json.loads(payload)
    return payload


def _step_instruction(step: dict[str, Any]) -> str:
    if step.get("type") == "function_result":
        return instruct.result_instruction(_payload(step))
    if step.get("type") == "user_input":
        return next(
            (
                found
                for b in step.get("content") or []
                if isinstance(b, dict) and b.get("type") == "text"
                for found in [instruct.split_input(str(b.get("text", "")))[0]]
                if found
            ),
            "",
        )
    return ""


def current_instruction(inp: ModelInput, facts: Facts) -> str:
    """What to ask next: from this turn's function results or input, else the system instruction's
    `Next:` line, else the latest one of earlier turns, else the persona's own next topic."""
    for step in reversed(inp.new_steps):
        found = _step_instruction(step)
        if found:
            return found
    nexts = instruct.NEXT_RE.findall(inp.system_instruction or "")
    if nexts:
        return nexts[-1].strip()
    forms = {str(t.get("name")) for t in inp.tools if funcfill.is_form(t)}
    names = _call_names(inp.history)
    answered_form = any(
        s.get("type") == "function_result" and (s.get("name") or names.get(str(s.get("call_id")))) in forms
        for s in inp.new_steps
    )
    if not answered_form:
        # What was asked last is still the question (a form's result without `next` ends the step).
        for step in reversed(inp.history):
            found = _step_instruction(step)
            if found:
                return found
    return instruct.find_instruction(inp.system_instruction) or instruct.persona_instruction(
        inp.system_instruction, facts
    )


# --- the model --------------------------------------------------------------------------------


def generate(inp: ModelInput) -> ModelResult:
    conv = conversation_view(inp.history + inp.new_steps)
    before, facts = extract.read_conversation_split(conv)
    instruction = current_instruction(inp, facts)
    latest = inp.new_steps[-1] if inp.new_steps else {}
    results = [s for s in inp.new_steps if s.get("type") == "function_result"]
    user_steps = [s for s in inp.new_steps if s.get("type") == "user_input"]
    latest_user = step_text(conversation_view(user_steps)[-1]) if user_steps else ""

    if inp.response_schema is not None:
        forms = {str(t.get("name")) for t in inp.tools if funcfill.is_form(t)}
        return ModelResult([_text_step(_json_answer(inp.response_schema, conv, facts, forms))])

    if latest.get("type") == "user_input" and inp.tools:
        calls = _choose_calls(inp, conv, facts, before, instruction, latest_user)
        if calls:
            key = json.dumps([inp.seed, calls, len(conv), latest_user], sort_keys=True)
            digest = hashlib.sha256(key.encode()).hexdigest()
            steps: list[dict[str, Any]] = [
                {"type": "thought", "signature": base64.b64encode(digest[:24].encode()).decode()}
            ]
            for i, (name, arguments) in enumerate(calls):
                cid = hashlib.sha256(f"{digest}|{i}|{name}".encode()).hexdigest()[:16]
                steps.append({"type": "function_call", "id": f"call_{cid}", "name": name, "arguments": arguments})
            return ModelResult(steps, status="requires_action")

    follow = _asked_to_check(inp, results, conv) if results else None
    follow = follow or (_same_as_chart_read(inp, results, conv, before) if results else None)
    if follow is not None:
        # A result that asks for a check ("check_chart": ["identity"]) gets the lookup that can do it.
        name, arguments = follow
        digest = hashlib.sha256(json.dumps([inp.seed, name, arguments, len(conv)], sort_keys=True).encode()).hexdigest()
        call = {"type": "function_call", "id": f"call_{digest[:16]}", "name": name, "arguments": arguments}
        return ModelResult([call], status="requires_action")
    if results:
        forms = {t.get("name") for t in inp.tools if funcfill.is_form(t)}
        text = _result_reply(results, conv, facts, instruction, inp.seed, forms, before)
    else:
        text = _reply(inp, conv, facts, instruction, latest_user, user_steps)
    text = _limit(text, inp.generation_config)
    status = "incomplete" if text.endswith("…") else "completed"
    text = text.rstrip()
    # A multi-line answer (bullets) gets the notice on a line of its own, so the list stays intact.
    return ModelResult(
        [_text_step(text + ("\n" + OFFLINE_SUFFIX.strip() if "\n" in text else OFFLINE_SUFFIX))], status=status
    )


def _asked_to_check(
    inp: ModelInput, results: list[dict[str, Any]], conv: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]] | None:
    """A function result that names things to check or verify, and a declared function whose
    parameter lists exactly such things (an enum): that call, unless this turn already made it."""
    wanted: list[str] = []
    for step in results:
        payload = _payload(step)
        if isinstance(payload, dict):
            for key, value in payload.items():
                if re.search(r"check|verif|confirm", key) and isinstance(value, list):
                    wanted.extend(str(v) for v in value)
    if not wanted:
        return None
    made = [s for s in _calls_made(conv, "") if s.get("type") == "function_call"]
    for tool in inp.tools:
        props = (tool.get("parameters") or {}).get("properties") or {}
        for pname, prop in props.items():
            enum = (prop.get("items") or {}).get("enum") if prop.get("type") == "array" else None
            picked = [v for v in wanted if enum and v in enum]
            if not picked:
                continue
            arguments = {pname: picked}
            if not any(c.get("name") == tool.get("name") and c.get("arguments") == arguments for c in made):
                return tool["name"], arguments
    return None


# Chart sections whose read-out a "same as what you have" can confirm, and how each is read out.
_READOUT = {
    "medications": lambda items: _meds_sentence(items, Facts()),
    "allergies": lambda items: _allergies_sentence(items, Facts()),
}


def _same_as_chart_read(
    inp: ModelInput, results: list[dict[str, Any]], conv: list[dict[str, Any]], before: Facts
) -> tuple[str, dict[str, Any]] | None:
    """ "Yep, all the same as what you have" said before the chart was read: this turn's lookup has
    just returned the list, and the patient's words confirm it, so the form gets what the chart lists
    (read as the answer to its own read-out) instead of the patient being asked to confirm it again."""
    forms = [t for t in inp.tools if funcfill.is_form(t)]
    said = funcfill.read_latest(conv, prior=before)
    f = said.facts
    others = bool(OTHERS_RE.search(said.text))  # "mold makes me wheeze. the others are right too"
    if not forms or not SAME_AS_CHART_RE.search(said.text) or f.denied or f.medications:
        return None
    if f.allergies and not others:
        return None
    msgs = user_messages(conv)
    turn, _, asked = msgs[-1]
    made = [s for s in _calls_made(conv, said.text) if s.get("type") == "function_call"]
    for step in results:
        payload = _payload(step)
        if not isinstance(payload, dict) or payload.get("error"):
            continue
        for key, items in payload.items():
            readout = _READOUT.get(str(key).lower())
            if readout is None or not isinstance(items, list) or not items:
                continue
            question = readout(items)
            lf = Facts()
            # "same meds" / "the same ones you have on file" says yes to the read-out it stands for
            told = said.text if extract.AFFIRM.search(said.text) else f"Yes, {said.text}"
            read_message(told, lf, turn, asked, context=question, prior=before)
            if key.lower() == "allergies":
                labels = [_item_label(i, kind="allergies").split(" (")[0].strip() for i in items]
                lf.allergies.extend(
                    Allergy(substance=lb)
                    for lb in labels
                    if lb and not any(same_allergen(lb, a.substance) for a in lf.allergies)
                )
            again = funcfill.Said(said.text, lf, asked, question, [])
            for tool in forms:
                args = funcfill.fill(tool.get("parameters") or {}, again)
                if args and not any(c.get("name") == tool.get("name") and c.get("arguments") == args for c in made):
                    return tool["name"], args
    return None


def _limit(text: str, gen: dict[str, Any]) -> str:
    cap = gen.get("max_output_tokens") if isinstance(gen, dict) else None
    if isinstance(cap, int) and cap > 0 and len(text) > cap * 4:
        return text[: max(1, cap * 4 - 1)].rstrip() + "…"
    return text


def _name_classes_from_chart(facts: Facts, chart: dict[str, Any]) -> None:
    """ "My water pill" is the chart's one diuretic: a medicine named by its class (vocab.DRUG_CLASSES)
    takes the name of the one chart medicine of that class, so the record holds the drug itself."""
    chart_meds = [schema_fill._item_name(c) for c in chart.get("medications", []) or []]
    for med in facts.medications:
        if med.name not in extract.vocab.DRUG_CLASSES:
            continue
        members = [n for n in chart_meds if n and schema_fill._class_match(med.name, n.lower())]
        if len(members) == 1:
            med.name = members[0]


def _choose_calls(
    inp: ModelInput, conv: list[dict[str, Any]], facts: Facts, before: Facts, instruction: str, latest_user: str
) -> list[tuple[str, dict[str, Any]]]:
    """The function calls for this user turn, possibly several at once: every form-like function
    (no required parameters) that the latest message fills, and the one lookup that fits the topic."""
    calls: list[tuple[str, dict[str, Any]]] = []
    forms = [t for t in inp.tools if funcfill.is_form(t)]
    said = funcfill.read_latest(conv, prior=before)
    _name_classes_from_chart(said.facts, _chart_from(conv))
    for label in _chart_allergies_confirmed(conv, {str(t.get("name")) for t in forms}, said):
        said.facts.allergies.append(Allergy(substance=label))
    if forms:
        for tool in forms:
            args = funcfill.fill(tool.get("parameters") or {}, said)
            if args or _called_every_turn(tool, inp.system_instruction or ""):
                # A form the caller wants every turn is called even when the message filled nothing:
                # its result says where things stand now.
                calls.append((tool["name"], args))
    lookups = [t for t in inp.tools if not funcfill.is_form(t)]
    # A patient who names their medicines or allergies is talking about those chart sections (what
    # the message itself names: a "yes" to the chart's read-out is no reason to read it again).
    own = read_message(latest_user, Facts(), 0, []) if latest_user else Facts()
    spoken = " ".join(
        topic
        for topic, present in (
            ("medications", own.medications),
            ("allergies", own.allergies),
            ("conditions", own.conditions),
        )
        if present
    )
    call = toolcall.choose(
        lookups,
        instruction=instruction,
        latest_user=latest_user,
        facts=facts,
        already=_calls_made(conv, latest_user),
        hints=" ".join(x for x in (toolcall.hint_lines(inp.system_instruction or "", lookups), spoken) if x),
    )
    if call is not None:
        tool = next(t for t in lookups if t.get("name") == call.name)
        calls.append((call.name, funcfill.refine(tool.get("parameters") or {}, call.arguments, said)))
        return calls
    # No lookup fits the topic, but the message may name everything a function needs.
    already = _calls_made(conv, latest_user)
    for tool in lookups:
        args = funcfill.fill_required(tool.get("parameters") or {}, said) if tool.get("type") == "function" else {}
        if args and not any(c.get("name") == tool.get("name") and c.get("arguments") == args for c in already):
            calls.append((tool["name"], args))
            break
    return calls


# "Yes those are right", "same as before", "the others are right too": the chart's read-out still holds.
SAME_AS_CHART_RE = re.compile(
    r"\bsame(?:\s+\w+)?\s+as\s+(?:before|last time|you have|what you have|on file|in the (?:chart|record))\b"
    # "the same ones you have on file", "whatever you've got on file", "what's in my chart"
    r"|\b(?:same(?:\s+ones?)?|whatever)(?:'s|\s+is|\s+you(?:'ve|\s+have)?(?:\s+got)?)?"
    r"\s+(?:on file|in (?:my|the|your) (?:chart|record|file|system))\b"
    r"|\b(?:those|they|these|the others?|the rest|all of them|them all)(?:\s+\w+){0,2}\s+(?:are|is)\s+"
    r"(?:all\s+)?(?:still\s+)?(?:right|correct|accurate|the same|good)\b|\bstill the same\b"
    # "same meds", "same pills as always", "nothing's changed", "no changes"
    r"|^\W*(?:the\s+)?same\s+(?:meds|medications?|medicines?|pills|ones|stuff|allergies|as always|as usual)\b"
    r"|^\W*(?:nothing(?:'s|\s+has)?\s+changed|no\s+changes?)\W*$",
    re.I,
)


# "the others are right", "everything else is the same": the items the patient did not name.
OTHERS_RE = re.compile(r"\b(?:the others?|the rest|everything else|all the others|the other ones)\b", re.I)


def _chart_allergies_confirmed(conv: list[dict[str, Any]], forms: set[str], said: funcfill.Said) -> list[str]:
    """The chart's allergies the patient confirmed ("yes, those are right" to the read-out, "same
    allergies as you have", "the others are right too"): the patient stated them, so they are facts
    to record. A patient who names allergies and says "same as before" confirms what they named."""
    f = said.facts
    chart = _chart_from(conv, forms).get("allergies") or []
    msgs = user_messages(conv)
    read_at = _chart_turns(conv, forms).get("allergies", 0)
    # The patient's own messages (a note addressed to the model, "[...]", is not one of them).
    own = [(n, instruct.split_input(t)[1]) for n, t, _ in msgs[:-1]]
    own = [(n, t) for n, t in own if t.strip() and not t.lstrip().startswith("[")]
    if chart and own and msgs[-1][0] >= read_at > own[-1][0]:
        # "Those allergies are all still right" said before the chart was read: once it has been
        # read out, that answer covers what it lists (unless the patient now says otherwise).
        prev_text = own[-1][1]
        prev = read_message(prev_text, Facts(), 0, [])
        if (
            not f.denied
            and not prev.denied
            and re.search(r"\ballerg", prev_text, re.I)
            and (prev.affirmed or SAME_AS_CHART_RE.search(prev_text))
        ):
            labels = [_item_label(item, kind="allergies").split(" (")[0].strip() for item in chart]
            return [lb for lb in labels if lb and not any(same_allergen(lb, a.substance) for a in f.allergies)]
    if f.denied or not (f.affirmed or SAME_AS_CHART_RE.search(said.text)):
        return []
    question = said.question.lower()
    about_allergies = bool(re.search(r"\ballerg", said.text, re.I))  # "those allergies are all still right"
    if not about_allergies and "allerg" not in question:
        return []
    labels = [
        _item_label(item, kind="allergies").split(" (")[0].strip()
        for item in _chart_from(conv, forms).get("allergies") or []
    ]
    named_chart = any(same_allergen(lb, a.substance) for lb in labels for a in f.allergies)
    if named_chart and not OTHERS_RE.search(said.text):
        return []  # "Bees, fish, nuts. Same as before.": the same as what they just named
    out = []
    for label in labels:
        if not label or (not about_allergies and label.lower() not in question):
            continue
        if any(same_allergen(label, a.substance) for a in f.allergies):
            continue  # the patient named it themself
        out.append(label)
    return out


EVERY_TURN_RE = re.compile(r"\b(?:every|each)\s+(?:turn|time|message|reply)\b|\balways\b", re.I)


def _called_every_turn(tool: dict[str, Any], system_instruction: str) -> bool:
    """The tool's description, or a sentence of the system instruction naming it, says to call it every turn."""
    if EVERY_TURN_RE.search(str(tool.get("description") or "")):
        return True
    name = str(tool.get("name") or "")
    return bool(name) and any(
        name in sentence and EVERY_TURN_RE.search(sentence) for sentence in extract.split_sentences(system_instruction)
    )


RECHECK_RE = re.compile(r"\b(?:check|look up|lookup|recheck|record|chart|file|again)\b", re.I)


def _calls_made(conv: list[dict[str, Any]], latest_user: str) -> list[dict[str, Any]]:
    """Calls that rule out calling again: those of this user turn, and (so an intake step does not
    look the chart up on every turn) earlier ones too unless the patient asks to check again."""
    calls: list[dict[str, Any]] = []
    this_turn = True
    for step in reversed(conv):
        if step.get("type") == "user_input":
            if RECHECK_RE.search(latest_user):
                break
            this_turn = False
        if step.get("type") == "function_call" and (this_turn or not RECHECK_RE.search(latest_user)):
            calls.append(step)
    return calls


# --- text replies -----------------------------------------------------------------------------

QUESTION_RE = re.compile(
    r"\?\s*$|^\s*(?:what|which|who|when|where|why|how|do|does|did|can|could|would|is|are|am|tell me|remind me)\b", re.I
)
SUMMARY_RE = re.compile(r"\b(?:summar\w+|brief|bullet\w*|recap|overview|key points|tl;?dr)\b", re.I)


def _first(name: str) -> str:
    return name.split()[0] if name else ""


def _reply(
    inp: ModelInput,
    conv: list[dict[str, Any]],
    facts: Facts,
    instruction: str,
    latest_user: str,
    user_steps: list[dict[str, Any]],
) -> str:
    first_turn = not any(s.get("type") == "model_output" for s in inp.history)
    question = instruct.to_question(instruction) if instruction else ""
    # What was asked just before the latest message decides how a bare answer is read.
    msgs = extract.user_messages(conv)
    asked = msgs[-1][2] if msgs else []
    latest = Facts()
    if latest_user:
        read_message(latest_user, latest, facts.user_turns, asked)
    parts: list[str] = []

    if SUMMARY_RE.search(latest_user) or (SUMMARY_RE.search(instruction) and not latest_user):
        return _summary_reply(conv, facts, latest_user + " " + instruction)

    notes: list[str] = []
    for s in user_steps:
        notes.extend(describe_attachments(s)[0])

    recall = _recall_answer(latest_user, facts)
    ack = _acknowledge(latest, facts, inp.seed)
    if recall:
        return " ".join([recall, *ack, question]).strip()

    if first_turn and not latest.name:
        parts.append(f"Hello, {_first(facts.name)}!" if facts.name else "Hello!")
    elif latest.name:
        parts.append(f"Nice to meet you, {_first(latest.name)}.")
    elif facts.name and not latest.declined:
        parts.append(_pick(["Thank you, {n}.", "Thanks, {n}."], inp.seed, latest_user).format(n=_first(facts.name)))
    elif not ack and not notes:
        parts.append(_pick(["Thank you.", "Thanks for letting me know."], inp.seed, latest_user))
    parts.extend(notes)
    parts.extend(ack)
    if question:
        parts.append(question)
    elif latest_user and QUESTION_RE.search(latest_user.strip()):
        parts.append("I'm an offline emulator, so I can't answer that; a clinician will review your answers.")
    elif not ack and not notes:
        parts.append("How can I help you today?" if first_turn else "Is there anything else you would like to tell me?")
    return " ".join(p for p in parts if p)


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _med_text(m: extract.Med) -> str:
    return " ".join(p for p in (m.name, m.dose, m.frequency) if p)


def _onset_clause(onset: str) -> str:
    """ "for three days" -> "has been going on for three days"; "two weeks ago" -> "started two weeks ago"."""
    if re.match(r"(?:for|over|in|since)\b", onset, re.I):
        return f"has been going on {onset}"
    return f"started {onset}"


def _acknowledge(lf: Facts, facts: Facts, seed: int) -> list[str]:
    """Short sentences saying what the latest message told us."""
    if lf.declined:
        return ["That's fine, we can skip that."]
    out: list[str] = []
    noted: list[str] = []
    if lf.dob:
        noted.append(f"your date of birth as {lf.dob}")
    contact = [x for x in (lf.phone and f"phone {lf.phone}", lf.email and f"email {lf.email}") if x]
    if contact:
        noted.append("your " + _join(contact))
    if lf.insurer or lf.member_id:
        noted.append(
            "your insurance ("
            + ", ".join(x for x in (lf.insurer, lf.member_id and f"member ID {lf.member_id}") if x)
            + ")"
        )
    if lf.symptoms:
        extra = ", ".join(x for x in (lf.onset, lf.severity and f"rated {lf.severity}") if x)
        out.append(f"I'm sorry to hear about the {_join(lf.symptoms)}" + (f" ({extra})" if extra else "") + ".")
    elif lf.onset or lf.severity or lf.course:
        bits = [lf.onset and _onset_clause(lf.onset), lf.severity and f"is {lf.severity}"]
        bits.append(lf.course and f"is {lf.course}")
        noted.append("that it " + _join([b for b in bits if b]))
    taking = [m for m in lf.medications if not m.stopped]
    stopped = [m for m in lf.medications if m.stopped]
    if taking:
        noted.append(_join([_med_text(m) for m in taking]))
    if stopped:
        noted.append("that you stopped " + _join([m.name for m in stopped]))
    if lf.no_medications:
        noted.append("that you take no regular medications")
    if lf.allergies:
        noted.append(
            "your allergy to " + _join([a.substance + (f" ({a.reaction})" if a.reaction else "") for a in lf.allergies])
        )
    if lf.no_allergies:
        noted.append("no known allergies")
    if lf.conditions or lf.surgeries:
        noted.append("a history of " + _join(lf.conditions + lf.surgeries))
    if lf.no_history:
        noted.append("no significant past medical history")
    if lf.family:
        noted.append("family history of " + _join([f"{x.condition} ({x.relation})" for x in lf.family]))
    if lf.no_family_history:
        noted.append("no known family history")
    social = [x for x in (lf.tobacco, lf.alcohol, lf.occupation and f"work: {lf.occupation}") if x]
    if social:
        noted.append(_join(social))
    if noted:
        out.append(_pick(["I've noted {x}.", "Got it: I've noted {x}."], seed, "|".join(noted)).format(x=_join(noted)))
    if lf.affirmed and not noted and not out:
        out.append("Thank you for confirming.")
    if lf.red_flags:
        out.append(
            f"Some of what you describe ({_join(lf.red_flags)}) can be serious: if it is severe or getting worse, "
            "please call emergency services now."
        )
    return out


def _recall_answer(text: str, facts: Facts) -> str:
    """The answer to a question the patient asked about what they told us ("what's my name?"),
    read from the question sentences only, or "" when there is no such question."""
    if not text or not QUESTION_RE.search(text.strip()):
        return ""
    sentences = extract.split_sentences(text)
    asked = " ".join(s for s in sentences if QUESTION_RE.search(s.strip())) or text
    if not re.search(r"\b(?:my|i|me|mine)\b", asked, re.I):
        return ""
    return _recall(asked, facts)


def _recall(text: str, facts: Facts) -> str:
    topics = extract.topics_of(text)
    low = text.lower()
    answers: list[str] = []
    if "name" in topics or re.search(r"\bwho am i\b", low):
        answers.append(f"Your name is {facts.name}." if facts.name else "I don't know your name yet.")
    if "dob" in topics:
        answers.append(
            f"You told me you were born on {facts.dob}." if facts.dob else "I don't have your date of birth yet."
        )
    if "contact" in topics:
        bits = [x for x in (facts.phone and f"phone {facts.phone}", facts.email and f"email {facts.email}") if x]
        answers.append("I have your " + _join(bits) + "." if bits else "I don't have your contact details yet.")
    if "insurance" in topics:
        answers.append(
            f"Your insurance is {schema_fill._insurance_text(facts)}."
            if facts.insurer or facts.member_id
            else "I don't have your insurance details yet."
        )
    if "allergies" in topics:
        if facts.allergies:
            answers.append(
                "You told me you're allergic to "
                + _join([a.substance + (f" ({a.reaction})" if a.reaction else "") for a in facts.allergies])
                + "."
            )
        elif facts.no_allergies:
            answers.append("You told me you have no known allergies.")
        else:
            answers.append("You haven't told me about any allergies.")
    if "medications" in topics and "allergies" not in topics:
        if facts.medications:
            answers.append(
                "You told me you take " + _join([_med_text(m) for m in facts.medications if not m.stopped]) + "."
            )
        else:
            answers.append("You haven't told me about any medications.")
    if "complaint" in topics or re.search(r"\bsymptoms?\b", low):
        answers.append(
            "You told me about " + _join(facts.symptoms) + "."
            if facts.symptoms
            else "You haven't told me about any symptoms."
        )
    if "family" in topics:
        answers.append(
            "Your family history: " + _join([f"{x.condition} ({x.relation})" for x in facts.family]) + "."
            if facts.family
            else "You haven't told me about your family history."
        )
    if "history" in topics and "family" not in topics:
        items = facts.conditions + facts.surgeries
        answers.append(
            "Your history includes " + _join(items) + "." if items else "You haven't told me about past conditions."
        )
    if "social" in topics:
        s = schema_fill._social_text(facts)
        answers.append(f"You told me: {s}." if s else "You haven't told me about smoking, alcohol or work.")
    return " ".join(answers)


# --- function results -------------------------------------------------------------------------


def _lead(said: str, lf: Facts, facts: Facts, seed: int) -> list[str]:
    """Recall answer and acknowledgement for the patient's message (before any chart talk)."""
    out: list[str] = []
    recall = _recall_answer(said, facts)
    if recall:
        out.append(recall)
    if lf.name:
        out.append(f"Nice to meet you, {_first(lf.name)}.")
    ack = _acknowledge(lf, facts, seed)
    if ack != ["Thank you for confirming."]:  # a bare "yes" is answered by the chart sentence itself
        out.extend(ack)
    return out


# SNOMED-style semantic tags and the words around an allergy label that read badly when spoken:
# "Allergy to tree pollen", "Shellfish allergy", "Hypertension (disorder)".
QUALIFIER_RE = re.compile(
    r"\s*\((?:finding|disorder|substance|product|situation|procedure|observable entity|morphologic abnormality|"
    r"qualifier value|medicinal product|clinical drug|event|regime/therapy|body structure)\)",
    re.I,
)
ALLERGY_WORDS_RE = re.compile(
    r"^\s*(?:history of\s+)?allerg(?:y|ies|ic)(?:\s+(?:to|from|of))?\s*[:\-]?\s*|\s+allerg(?:y|ies)\s*$", re.I
)


def spoken_label(label: str, *, allergy: bool = False) -> str:
    """A chart label as it reads in a sentence: without semantic tags ("(finding)") and, for an
    allergy, without the leading "Allergy to" / trailing "allergy" words. The raw label stays data."""
    text = QUALIFIER_RE.sub("", label).strip()
    if allergy:
        stripped = ALLERGY_WORDS_RE.sub("", text).strip()
        text = stripped or text
    return text


def _item_label(item: Any, *, kind: str) -> str:
    if isinstance(item, str):
        return spoken_label(item, allergy=kind == "allergies")
    if not isinstance(item, dict):
        return str(item)
    if kind == "allergies":
        sub = spoken_label(
            str(
                schema_fill._item_get(item, "substance", "name", "allergen", "code", "display")
                or "an unnamed substance"
            ),
            allergy=True,
        )
        reaction = schema_fill._item_get(item, "reaction", "reactions", "manifestation")
        if isinstance(reaction, list):
            reaction = ", ".join(str(r) for r in reaction)
        return sub + (f" ({reaction})" if reaction else "")
    name = (
        spoken_label(schema_fill._item_name(item))
        or ", ".join(
            str(v)
            for k, v in item.items()
            if isinstance(v, (str, int, float)) and v != "" and k not in ("status", "id")
        )[:80]
    )
    dose = schema_fill._item_get(item, "dose", "strength", "dosage")
    freq = schema_fill._item_get(item, "frequency", "sig", "instructions")
    extra = [str(x) for x in (dose, freq) if x and str(x).lower() not in name.lower()]
    return " ".join([name, *extra])


SECTION_NOUNS = {
    "medications": "medications",
    "allergies": "allergies",
    "conditions": "conditions",
    "problems": "conditions",
    "immunizations": "immunizations",
    "procedures": "procedures",
    "observations": "results",
}


# What an instruction names when it is about a chart section.
_SECTION_WORDS = {
    "medications": r"medic|drug|prescri|\bmeds?\b",
    "allergies": r"allerg",
    "conditions": r"condition|surger|past (?:ill|hist|medical)|diagnos",
}


def _instruction_about(instruction: str, noun: str) -> bool:
    pattern = _SECTION_WORDS.get(noun)
    return True if pattern is None else bool(re.search(pattern, instruction, re.I))


def _mentioned(label: str, names: list[str]) -> str | None:
    low = label.lower()
    for n in names:
        if n and (n.lower() in low or schema_fill._same_drug(n, label)):
            return n
    return None


def _your(name: str) -> str:
    return f"your {name}" if name in extract.vocab.DRUG_CLASSES else name


def _new_sentence(new: list[str], acked: bool) -> str:
    """Items the patient named that the chart lacks (the acknowledgement may have named them already)."""
    if acked:
        text = _join(new)
        one = len(new) == 1
        return (
            f"{text[:1].upper()}{text[1:]} {'is not' if one else 'are not'} in your record, "
            f"so I've marked {'it' if one else 'them'} as new."
        )
    return f"I've also noted {_join(new)} as new."


def _meds_sentence(items: list[Any], lf: Facts, acked: bool = False) -> str:
    labels = [_item_label(i, kind="medications") for i in items]
    head = f"Your record lists {_join(labels)}."
    if not lf.medications:
        return head + f" Are you still taking {'it' if len(labels) == 1 else 'them'}?"
    mine = {m.name: m for m in lf.medications}
    still, stopped, open_ = [], [], []
    for label in labels:
        hit = _mentioned(label, list(mine))
        if hit is None:
            open_.append(label)
        elif mine[hit].stopped:
            stopped.append(_your(hit))
        else:
            still.append(_your(hit))
    new = [_med_text(m) for n, m in mine.items() if not m.stopped and not _mentioned(n, labels)]
    told = [x for x in (still and f"you still take {_join(still)}", stopped and f"you stopped {_join(stopped)}") if x]
    out = [head]
    if told:
        out.append(f"You told me {_join(told)}.")
    if new:
        out.append(_new_sentence(new, acked))
    if open_:
        out.append(f"Are you still taking {_join(open_)}?")
    return " ".join(out)


def _allergies_sentence(items: list[Any], lf: Facts, acked: bool = False) -> str:
    labels = [_item_label(i, kind="allergies") for i in items]
    head = f"Your record lists an allergy to {_join(labels)}."
    if not lf.allergies and not lf.no_allergies:
        return head + " Is that still correct?"
    mine = [a.substance for a in lf.allergies]
    matched = [lb for lb in labels if _mentioned(lb, mine)]
    new = [
        a.substance + (f" ({a.reaction})" if a.reaction else "")
        for a in lf.allergies
        if not _mentioned(a.substance, labels)
    ]
    out = [head]
    if matched:
        out.append("That matches what you told me.")
    if new:
        out.append(_new_sentence(new, acked))
    if len(matched) < len(labels):
        if matched:
            out.append("Is the rest still correct?")
        elif new:  # "that" would now point at the new items: name what the record says
            subs = [lb.split(" (")[0] for lb in labels]
            out.append(f"Is the allergy to {_join(subs)} in your record still correct?")
        else:
            out.append("Is that still correct?")
    return " ".join(out)


def _coverage_sentence(items: list[Any], lf: Facts, said: str) -> str:
    first = items[0] if isinstance(items[0], dict) else {"payer": str(items[0])}
    payer = str(schema_fill._item_get(first, "payer", "insurer", "provider", "name", "company") or "a plan")
    member = schema_fill._item_get(first, "member_id", "memberId", "subscriber_id", "policy_number")
    head = f"Your record lists your insurance as {payer}" + (f" (member ID {member})." if member else ".")
    if lf.insurer and lf.insurer.lower() not in payer.lower() and payer.lower() not in lf.insurer.lower():
        return head + f" You told me {lf.insurer}; I've noted the change."
    if lf.insurer or lf.affirmed or re.search(r"\b(?:same|still|unchanged)\b", said, re.I):
        return head + " That matches what you told me."
    return head + " Is that still correct?"


def _details_sentence(key: str, details: dict[str, Any], facts: Facts) -> str:
    """A record of scalar fields (e.g. the chart's name and birth date) checked against what the
    patient said: name-like keys against the name, birth/dob keys against the date of birth."""
    names = " ".join(str(v) for k, v in details.items() if "name" in k.lower() and v).strip()
    born = next((str(v) for k, v in details.items() if re.search(r"birth|dob", k, re.I) and v), "")
    checks: list[tuple[str, bool | None]] = []
    if names:
        said_tokens = set(facts.name.lower().split())
        checks.append(("name", all(t in said_tokens for t in names.lower().split()) if said_tokens else None))
    if born:
        checks.append(("date of birth", (born[:10] == facts.dob[:10]) if facts.dob else None))
    if not checks:
        noun = key.replace("_", " ")
        shown = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in list(details.items())[:6] if v not in ("", None))
        return f"Your record's {noun} shows {shown}." if shown else f"Your record has no {noun} details."
    different = [what for what, same in checks if same is False]
    unknown = [what for what, same in checks if same is None]
    # Identity details are verified, never read out: whoever holds the link must not learn them.
    if different:
        return f"The {_join(different)} you gave doesn't match your record. Could you double-check it?"
    if unknown:
        return f"I couldn't confirm your {_join(unknown)} against your record yet. Could you tell me again?"
    return f"That matches the {_join([w for w, _ in checks])} in your record."


def _section_sentence(key: str, items: list[Any], lf: Facts, said: str, acked: bool = False) -> str:
    k = key.lower()
    noun = SECTION_NOUNS.get(k, k.replace("_", " "))
    if not items:
        return f"Your record doesn't list any {noun}."
    if "allerg" in k:
        return _allergies_sentence(items, lf, acked)
    if "medic" in k or "drug" in k:
        return _meds_sentence(items, lf, acked)
    if k in ("coverage", "insurance"):
        return _coverage_sentence(items, lf, said)
    labels = [_item_label(i, kind=k) for i in items]
    mine = lf.conditions + lf.surgeries
    if mine and all(_mentioned(lb, mine) for lb in labels):
        return f"Your record lists {_join(labels)}, which matches what you told me."
    return f"Your record lists {_join(labels)}. Is that still correct?"


def _call_names(conv: list[dict[str, Any]]) -> dict[str, str]:
    return {str(s.get("id")): str(s.get("name")) for s in conv if s.get("type") == "function_call"}


REJECT_KEY_RE = re.compile(r"reject|error|invalid|refused", re.I)


def _form_result_sentences(payload: Any) -> list[str]:
    """What a form-like function's result says went wrong (what it accepted was acknowledged already)."""
    if not isinstance(payload, dict):
        return []
    out: list[str] = []
    for key, value in payload.items():
        if not REJECT_KEY_RE.search(key) or not value:
            continue
        entries = value.items() if isinstance(value, dict) else enumerate(value if isinstance(value, list) else [value])
        for k, item in list(entries)[:3]:
            if isinstance(item, dict):
                what = item.get("field") or item.get("name") or item.get("path") or item.get("item") or ""
                why = item.get("reason") or item.get("message") or item.get("error") or ""
            else:
                what, why = (k if isinstance(k, str) else ""), item
            what = str(what).replace("_", " ").strip()
            why = str(why).rstrip(".").strip()
            if what or why:
                out.append(f"I couldn't record {('your ' + what) if what else 'that'}" + (f" ({why})." if why else "."))
    return out


def _result_reply(
    results: list[dict[str, Any]],
    conv: list[dict[str, Any]],
    facts: Facts,
    instruction: str,
    seed: int,
    forms: set[str] | None = None,
    before: Facts | None = None,
) -> str:
    covered: set[str] = set()
    said_now = funcfill.read_latest(conv, prior=before)
    lf, said = said_now.facts, said_now.text
    names = _call_names(conv)
    form_results = [r for r in results if (r.get("name") or names.get(str(r.get("call_id")))) in (forms or set())]
    results = [r for r in results if r not in form_results]
    # What the patient said in the message that led to the call comes first: an answer to their
    # question and the acknowledgement of what they told us, then the chart comparison.
    parts = _lead(said, lf, facts, seed)
    acked = bool(parts)
    for res in form_results:
        parts.extend(_form_result_sentences(_payload(res)))
    if form_results and not parts:
        parts.append(_pick(["Thank you.", "Thanks, I've noted that."], seed, said))
    for res in results:
        payload = res.get("result")
        if isinstance(payload, list) and payload and all(isinstance(x, dict) and "type" in x for x in payload):
            payload = " ".join(str(x.get("text", "")) for x in payload)  # a list of content blocks
        if isinstance(payload, str):
            with contextlib.suppress(ValueError):
                payload = json.loads(payload)
        if res.get("is_error") or (isinstance(payload, dict) and payload.get("error")):
            err = payload.get("error") if isinstance(payload, dict) else payload
            detail = err if isinstance(err, str) else json.dumps(err)[:120]
            parts.append(f"I couldn't check your record just now ({detail}), so let's go through it together.")
            continue
        if isinstance(payload, dict):
            sections = {k: v for k, v in payload.items() if isinstance(v, list)}
            for key, items in sections.items():
                noun = SECTION_NOUNS.get(key.lower(), key.lower())
                covered.add(noun)
                sentence = _section_sentence(key, items, lf, said, acked)
                if form_results and instruction and not _instruction_about(instruction, noun):
                    # The form's `next` has moved on: say what the chart shows, ask what `next` says.
                    sentence = " ".join(x for x in extract.split_sentences(sentence) if not x.endswith("?"))
                parts.append(sentence)
            records = {k: v for k, v in payload.items() if isinstance(v, dict)}
            for key, details in records.items():
                parts.append(_details_sentence(key, details, facts))
            scalars = {k: v for k, v in payload.items() if not isinstance(v, (list, dict))}
            if scalars and not sections and not records:
                parts.append(
                    "Here is what I found: "
                    + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in list(scalars.items())[:6])
                    + "."
                )
            elif not sections and not records:
                parts.append("I checked, but nothing relevant came back.")
        elif isinstance(payload, list):
            labels = [_item_label(i, kind="items") for i in payload]
            parts.append(f"I found: {_join(labels[:8])}." if labels else "I checked, but nothing came back.")
        elif payload not in (None, ""):
            parts.append(f"I found: {str(payload)[:300]}.")
        else:
            parts.append("I checked, but nothing came back.")
    if instruction and not any(p.endswith("?") for p in parts):
        parts.append(instruct.to_question(instruction))
    return " ".join(parts) if parts else "Thank you."


# --- summaries and structured output ---------------------------------------------------------


def _strip_md(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    text = re.sub(r"\[\d+\]", "", text)
    text = re.sub(r"[*_`>#]+", "", text)
    return re.sub(r"[ \t]+", " ", text)


def latest_report(conv: list[dict[str, Any]]) -> str:
    for step in reversed(conv):
        if step.get("type") == "model_output":
            text = step_text(step)
            if len(text) >= REPORT_MIN_CHARS:
                return text
    return ""


SOURCE_LINE_RE = re.compile(r"^\s*(\d+)[.)]\s*\[([^\]]+)\]\((https?://[^)\s]+)\)", re.M)


def report_bullets(report: str, n: int, *, links: bool = False) -> list[str]:
    """Key sentences of a report (bullet lines first, then paragraphs). With `links`, each ends with
    the source it cites, as a Markdown link taken from the report's numbered source list."""
    sources = {m.group(1): (m.group(2), m.group(3)) for m in SOURCE_LINE_RE.finditer(report)}
    lines = [ln.strip() for ln in report.splitlines()]
    body = [ln for ln in lines if ln and not ln.startswith("#") and "http" not in ln and "offline" not in ln.lower()]
    body.sort(key=lambda ln: 0 if re.match(r"^\s*(?:[-*•]|\d+[.)])\s", ln) else 1)  # bullets first
    picked: list[str] = []
    seen: set[str] = set()
    for ln in body:
        raw = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", ln)
        for sentence in re.split(r"(?<=[.!?])\s+", raw):
            clean = _strip_md(sentence).strip().rstrip(". ")
            if len(clean) < 30 or clean in seen:
                continue
            seen.add(clean)
            text = clean[:220] + "."
            cited = re.findall(r"\[(\d+)\]", sentence)
            if links and cited and cited[0] in sources:
                title, url = sources[cited[0]]
                text += f" ([{title}]({url}))"
            picked.append(text)
    if links:  # cited sentences first: each bullet should rest on a source
        picked.sort(key=lambda t: 0 if t.endswith("))") else 1)
    return picked[:n]


NUM_BULLETS_RE = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)(?:[-\s]+[a-z]+){0,2}?[-\s]+(?:bullet|point|item)",
    re.I,
)
NO_PREAMBLE_RE = re.compile(r"\bno (?:heading|preamble|introduction|intro)\b|\bonly the (?:bullets|points)\b", re.I)


def _summary_reply(conv: list[dict[str, Any]], facts: Facts, request: str) -> str:
    m = NUM_BULLETS_RE.search(request)
    n = 5
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else extract.vocab.NUMBER_WORDS.get(m.group(1).lower(), 5)
    report = latest_report(conv)
    if report:
        bullets = report_bullets(report, n, links=True)
        head = f"Here is a {len(bullets)}-bullet brief of the report:"
    else:
        bullets = [b.strip() for b in schema_fill.intake_summary(facts).rstrip(".").split("; ") if b.strip()][:n]
        head = "Here is a summary of what you told me:" if bullets else "There is nothing to summarise yet."
    if not bullets:
        return head
    body = "\n".join(f"- {b}" for b in bullets) + "\n"
    return body if NO_PREAMBLE_RE.search(request) else head + "\n" + body


def _is_data(step: dict[str, Any], names: dict[str, str], forms: set[str]) -> bool:
    """A function result that carries data (a chart), not the answer to a form the model filled
    (such a result echoes what was recorded and carries the next instruction)."""
    if step.get("type") != "function_result":
        return False
    if (step.get("name") or names.get(str(step.get("call_id")))) in forms:
        return False
    return not instruct.result_instruction(_payload(step))


def _chart_from(conv: list[dict[str, Any]], forms: set[str] | None = None) -> dict[str, Any]:
    chart: dict[str, Any] = {}
    names = _call_names(conv)
    for step in conv:
        if not _is_data(step, names, forms or set()):
            continue
        payload = step.get("result")
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                continue
        if isinstance(payload, dict) and not payload.get("error"):
            for k, v in payload.items():
                if isinstance(v, list):
                    chart[k.lower()] = v
    return chart


def _chart_turns(conv: list[dict[str, Any]], forms: set[str] | None = None) -> dict[str, int]:
    """For each chart section returned by a tool, the user turn that came right after it."""
    out: dict[str, int] = {}
    n = 0
    pending: list[str] = []
    names = _call_names(conv)
    for step in conv:
        if step.get("type") == "user_input" and step_text(step).strip():
            n += 1
            for key in pending:
                out.setdefault(key, n)
            pending = []
        elif _is_data(step, names, forms or set()):
            payload = step.get("result")
            if isinstance(payload, str):
                with contextlib.suppress(ValueError):
                    payload = json.loads(payload)
            if isinstance(payload, dict):
                pending.extend(k.lower() for k, v in payload.items() if isinstance(v, list))
    return out


def _json_answer(
    schema: dict[str, Any], conv: list[dict[str, Any]], facts: Facts, forms: set[str] | None = None
) -> str:
    report = latest_report(conv)
    ctx = schema_fill.Ctx(
        facts=facts,
        chart=_chart_from(conv, forms),
        chart_turns=_chart_turns(conv, forms),
        summary=" ".join(report_bullets(report, 3)) if report else "",
        report_bullets=report_bullets(report, 5) if report else [],
    )
    if not schema:  # JSON mode without a schema: the facts as a plain object
        value: Any = {
            "summary": schema_fill.intake_summary(facts),
            "patient_name": facts.name,
            "symptoms": facts.symptoms,
            "medications": [_med_text(m) for m in facts.medications],
            "allergies": [a.substance for a in facts.allergies],
        }
    else:
        value = schema_fill.fill(schema, ctx)
    return json.dumps(value, ensure_ascii=False)
