"""The intake conversation: start a session, take a patient turn, finish with a structured summary.

Every turn is stored locally before and after the model call. The session head advances by
compare-and-set on `head_version`, guarded by a short lease instead of a database lock, so two
posts to one session never fork the chain and no lock is held while the model thinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from dataclasses import replace as dataclasses_replace
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pydantic import ValidationError

from agents import client
from agents.schemas import RECORD_TOOL_NAME, STEP_NOTE_PREFIX, PatientSummarySchema, summary_json_schema
from agents.tools import atool_execute, tool_declarations
from intake import plan, redflags
from intake.attachments import Attachment
from intake.models import IntakeRecord, IntakeRecordVersion, IntakeSession, IntakeTurn
from intake.record import (
    IntakeRecordSchema,
    record_apply,
    record_args_parse,
    record_changed_topics,
    record_red_flag,
    summary_from_record,
)
from intake.tokens import token_hash
from patients import ehr
from patients.db import sync_to_async  # gives the DB connection back after each batch
from patients.models import AuditEvent, Patient, PatientSummary
from patients.reconcile import summary_reconcile

logger = logging.getLogger(__name__)

# record_answers and ehr_lookup, possibly in parallel, plus a second look: bounded per turn.
MAX_TOOL_CALLS_PER_TURN = 5
MAX_TEXT_CHARS = 4000
# A heartbeat never keeps a lease alive longer than this, even if its turn is abandoned unclosed.
LEASE_HEARTBEAT_MAX_SECONDS = 300

STOPPED_REPLY = (
    "You don't need to answer any more questions today. Our clinic staff have been told and will reach out "
    "to you. If you might act on these thoughts, call or text 988 now, or call 911."
)
EMERGENT_FOLLOW_UP = "Emergency signs were reported during intake: contact the patient urgently."
SUMMARY_INSTRUCTION = (
    "You are a clinic intake assistant. Summarize this intake as JSON that matches the schema. "
    "Use only what the patient said and what the chart lookup returned; leave unknown fields empty. "
    "In sources, give the patient turn numbers (1 = first patient message) each field came from."
)


class IntakeError(Exception):
    """Base for intake failures that a caller turns into a 4xx answer."""

    status_code = 400


class IntakeNotFoundError(IntakeError):
    status_code = 404


class IntakeBusyError(IntakeError):
    status_code = 409


class IntakeClosedError(IntakeError):
    status_code = 409


class IntakeInputError(IntakeError):
    status_code = 400


class IntakeKeyReusedError(IntakeError):
    """An idempotency key sent again with a different message."""

    status_code = 422


class IntakeUnavailableError(IntakeError):
    """The model could not be reached; the patient's message is kept and can be sent again."""

    status_code = 503


class SummaryInvalidError(IntakeError):
    status_code = 422


@dataclass(frozen=True)
class TurnOutcome:
    reply: str
    step: int
    total_steps: int
    status: str
    urgency: str
    emergency: str | None = None
    step_title: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Hop:
    """One model call within a turn, recorded as its own turn row."""

    result: client.InteractionResult
    previous_id: str
    role: str


@dataclass
class _TurnContext:
    session_id: int
    lease: str
    head_id: str
    head_version: int
    head_created_at: Any
    step_index: int
    urgency: str
    store: bool
    stateless: bool
    scope: ehr.PatientScope
    next_turn_index: int
    hops: list[_Hop] = field(default_factory=list)
    language: str | None = None  # the patient's language tag, when it is not English
    # The live record as read with the lease, and as this turn's record_answers calls change it.
    record_id: int = 0
    record_version: int = 0
    record: IntakeRecordSchema = field(default_factory=IntakeRecordSchema)
    working: IntakeRecordSchema = field(default_factory=IntakeRecordSchema)
    patient_turn: int = 0  # this turn's patient turn number (1 = the first patient message)
    asked_index: int = 0  # the plan step the patient was answering
    last_model_index: int = 0
    pending: list[str] = field(default_factory=list)  # earlier patient messages never answered
    text: str = ""
    recorded: bool = False  # the model called record_answers this turn
    flags: Any = None  # red-flag result when the message tripped one
    confirmed: bool = False  # the patient confirmed the review this turn: the summary follows
    idempotency_key: str = ""
    patient_turn_stored: bool = False  # a retry whose message was stored by an earlier (failed) post
    replay: TurnOutcome | None = None  # the retried message was already answered: this is the answer
    last_role: str = ""  # role of the newest stored turn when the lease was taken
    # Suicidal thoughts or self-harm were raised in this intake: no more intake questions, ever.
    stopped: bool = False


# ---------------------------------------------------------------------------------------------
# Tokens and sessions


def intake_start(*, patient: Patient, store: bool | None = None, actor: Any = None) -> tuple[IntakeSession, str]:
    """Open an intake for a patient. Returns the session and the patient's access token (shown once)."""
    store_flag = settings.INTERACTIONS_STORE if store is None else store
    token = secrets.token_urlsafe(24)
    with transaction.atomic():
        session = IntakeSession.objects.create(
            patient=patient,
            token_hash=token_hash(token),
            store=store_flag,
            mode=IntakeSession.Mode.CHAINED if store_flag else IntakeSession.Mode.STATELESS,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        IntakeTurn.objects.create(
            session=session,
            index=0,
            role=IntakeTurn.Role.MODEL,
            step=0,
            text=plan.greeting(patient.given_name),
        )
        IntakeRecord.objects.create(session=session, document=IntakeRecordSchema().model_dump(mode="json"))
        AuditEvent.objects.create(
            actor=session.created_by,
            actor_label="" if session.created_by else "system",
            patient=patient,
            action="intake.start",
            object_type="IntakeSession",
            object_id=str(session.pk),
        )
    return session, token


def intake_session_for_token(token: str) -> IntakeSession | None:
    if not token or len(token) > 200:
        return None
    return IntakeSession.objects.select_related("patient").filter(token_hash=token_hash(token)).first()


def _scope_for(*, session_id: int, patient_id: int, fhir_patient_id: str) -> ehr.PatientScope:
    return ehr.PatientScope(
        patient_id=patient_id, fhir_patient_id=fhir_patient_id, actor_label=f"intake-session:{session_id}"
    )


# ---------------------------------------------------------------------------------------------
# Lease and head: compare-and-set, no lock held during the model call


def _db_datetime(value: Any) -> Any:
    """A datetime read by raw SQL: SQLite gives a naive one (or text) in UTC, PostgreSQL an aware one."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def _db_json(value: Any) -> Any:
    """A JSON column read by raw SQL: Django's backends hand it over as text."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _lease_sql() -> tuple[str, str]:
    """The lease claim and the turn's read as two plain statements (SQLite and PostgreSQL alike).

    Through the ORM they were four queries whose compilation cost more CPU than the database's work
    (the turn aggregate alone 2 ms): the largest part of a turn's ORM time (docs/benchmarks/stream.md)."""
    q = connection.ops.quote_name
    session = IntakeSession._meta.db_table
    claim = (
        f"UPDATE {q(session)} SET {q('lease_token')} = %s, {q('lease_expires_at')} = %s "  # noqa: S608 (names only)
        f"WHERE {q('id')} = %s AND {q('status')} IN ({{statuses}}) "
        f"AND ({q('lease_token')} = '' OR {q('lease_expires_at')} < %s)"
    )
    role, index = q("role"), q("index")
    read = (
        f"SELECT s.{q('status')}, s.{q('head_interaction_id')}, s.{q('head_version')}, "  # noqa: S608 (names only)
        f"s.{q('head_created_at')}, "
        f"s.{q('step_index')}, s.{q('urgency')}, s.{q('store')}, s.{q('answers')}, s.{q('patient_id')}, "
        f"p.{q('fhir_patient_id')}, r.{q('id')}, r.{q('version')}, r.{q('document')}, "
        f"t.last, t.last_model, t.last_patient, t.patients "
        f"FROM {q(session)} s "
        f"JOIN {q(Patient._meta.db_table)} p ON p.{q('id')} = s.{q('patient_id')} "
        f"LEFT JOIN {q(IntakeRecord._meta.db_table)} r ON r.{q('session_id')} = s.{q('id')} "
        f"CROSS JOIN (SELECT MAX({index}) AS last, "
        f"MAX(CASE WHEN {role} = %s THEN {index} END) AS last_model, "
        f"MAX(CASE WHEN {role} = %s THEN {index} END) AS last_patient, "
        f"COUNT(CASE WHEN {role} = %s THEN 1 END) AS patients "
        f"FROM {q(IntakeTurn._meta.db_table)} WHERE {q('session_id')} = %s) t "
        f"WHERE s.{q('id')} = %s"
    )
    return claim, read


_STATUS_LABELS = dict(IntakeSession.Status.choices)


def _lease_acquire(session_id: int, *, allowed: tuple[str, ...]) -> _TurnContext:
    now = timezone.now()
    lease = secrets.token_hex(8)
    expires = now + timedelta(seconds=settings.INTAKE_LEASE_SECONDS)
    claim_sql, read_sql = _lease_sql()
    adapt = connection.ops.adapt_datetimefield_value
    model, patient = IntakeTurn.Role.MODEL, IntakeTurn.Role.PATIENT
    with connection.cursor() as cursor:
        cursor.execute(
            claim_sql.format(statuses=", ".join(["%s"] * len(allowed))),
            [lease, adapt(expires), session_id, *allowed, adapt(now)],
        )
        claimed = cursor.rowcount
        cursor.execute(read_sql, [model, patient, patient, session_id, session_id])
        row = cursor.fetchone()
    if row is None:
        raise IntakeNotFoundError("No such intake.")
    status, head_id, head_version, head_created_at, step_index, urgency, store, answers, patient_id = row[:9]
    fhir_patient_id, record_id, record_version, document, last, last_model, last_patient, patients = row[9:]
    if not claimed:
        if status not in allowed:
            label = str(_STATUS_LABELS.get(status, status)).lower()
            raise IntakeClosedError(f"This intake is {label} and takes no more messages.")
        raise IntakeBusyError("Another message for this intake is still being answered. Please wait for the reply.")
    if record_id is None:  # an intake started before records existed
        record_row = _record_row(IntakeSession.objects.get(pk=session_id))
        record_id, record_version, document = record_row.pk, record_row.version, record_row.document
    record = IntakeRecordSchema.model_validate(_db_json(document) or {})
    last_is_patient = last is not None and last == last_patient
    return _TurnContext(
        session_id=session_id,
        lease=lease,
        head_id=head_id,
        head_version=head_version,
        head_created_at=_db_datetime(head_created_at),
        step_index=step_index,
        urgency=urgency,
        store=bool(store),
        stateless=not store,
        scope=_scope_for(session_id=session_id, patient_id=patient_id, fhir_patient_id=fhir_patient_id),
        next_turn_index=(last or 0) + 1,
        record_id=record_id,
        record_version=record_version,
        record=record,
        working=record.model_copy(deep=True),
        patient_turn=(patients or 0) + 1,
        asked_index=plan.current_index(record),
        last_model_index=last_model or 0,
        last_role=IntakeTurn.Role.PATIENT if last_is_patient else "",
        stopped=bool((_db_json(answers) or {}).get("stop_intake")),
    )


def _record_row(session: IntakeSession) -> IntakeRecord:
    try:
        return session.record
    except IntakeRecord.DoesNotExist:  # an intake started before records existed
        return IntakeRecord.objects.get_or_create(
            session=session, defaults={"document": IntakeRecordSchema().model_dump(mode="json")}
        )[0]


def _lease_release(ctx: _TurnContext) -> None:
    IntakeSession.objects.filter(pk=ctx.session_id, lease_token=ctx.lease).update(lease_token="", lease_expires_at=None)


def _lease_renew(ctx: _TurnContext) -> bool:
    """Push the lease's expiry out again; False once the lease is gone (released or taken over)."""
    expires = timezone.now() + timedelta(seconds=settings.INTAKE_LEASE_SECONDS)
    return bool(IntakeSession.objects.filter(pk=ctx.session_id, lease_token=ctx.lease).update(lease_expires_at=expires))


@contextlib.asynccontextmanager
async def _lease_heartbeat(ctx: _TurnContext) -> AsyncIterator[None]:
    """Renew the short lease while the model works, so only a dead worker's lease runs out."""

    async def beat() -> None:
        interval = max(1.0, settings.INTAKE_LEASE_SECONDS / 3)
        for _ in range(int(LEASE_HEARTBEAT_MAX_SECONDS / interval)):
            await asyncio.sleep(interval)
            if not await sync_to_async(_lease_renew)(ctx):
                return

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


def _turn_append(ctx: _TurnContext, **fields: Any) -> IntakeTurn:
    turn = IntakeTurn.objects.create(session_id=ctx.session_id, index=ctx.next_turn_index, **fields)
    ctx.next_turn_index += 1
    return turn


def _head_advance(ctx: _TurnContext, *, new_head: str, updates: dict[str, Any]) -> None:
    """Advance the head by compare-and-set on the version; release the lease in the same write."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "head_version": ctx.head_version + 1,
        "lease_token": "",
        "lease_expires_at": None,
        **updates,
    }
    if new_head:
        fields["head_interaction_id"] = new_head
        fields["head_created_at"] = now
    advanced = IntakeSession.objects.filter(
        pk=ctx.session_id, head_version=ctx.head_version, lease_token=ctx.lease
    ).update(**fields)
    if not advanced:
        raise IntakeBusyError("This intake changed while the reply was being written. Please send the message again.")


# ---------------------------------------------------------------------------------------------
# Building requests


def _history_steps(session_id: int) -> list[dict[str, Any]]:
    """The conversation from the local record, as Interactions steps (stateless input)."""
    steps: list[dict[str, Any]] = []
    turns = IntakeTurn.objects.filter(session_id=session_id).order_by("index")
    for turn in turns.only("role", "text", "attachments", "index"):
        if turn.role == IntakeTurn.Role.PATIENT:
            text = turn.text or ""
            for meta in turn.attachments or []:
                text += f"\n[attached {meta.get('mime_type')}, {meta.get('size', 0)} bytes]"
            steps.append({"type": "user_input", "content": [{"type": "text", "text": text or "(no text)"}]})
        elif turn.role == IntakeTurn.Role.MODEL and turn.text and steps:
            steps.append({"type": "model_output", "content": [{"type": "text", "text": turn.text}]})
    return steps


def _user_content(text: str, attachments: list[Attachment]) -> str | list[dict[str, Any]]:
    if not attachments:
        return text
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text or "Here is a file."}]
    blocks.extend(a.content_block() for a in attachments)
    return blocks


def _chain_usable(ctx: _TurnContext) -> bool:
    if ctx.stateless or not ctx.head_id:
        return False
    if ctx.head_created_at is None:
        return True
    age = (timezone.now() - ctx.head_created_at).total_seconds()
    return age < settings.INTERACTIONS_RETENTION_SECONDS


def _rebuild_count_increment(session_id: int) -> None:
    IntakeSession.objects.filter(pk=session_id).update(rebuild_count=F("rebuild_count") + 1)


# ---------------------------------------------------------------------------------------------
# The turn


def _validate_text(text: str, attachments: list[Attachment]) -> str:
    text = (text or "").strip()
    if not text and not attachments:
        raise IntakeInputError("Please type a message or attach a file.")
    if len(text) > MAX_TEXT_CHARS:
        raise IntakeInputError(f"The message is too long ({len(text)} characters); the limit is {MAX_TEXT_CHARS}.")
    if "\x00" in text:
        # PostgreSQL text columns cannot hold NUL; refuse it here rather than fail on the insert.
        raise IntakeInputError("The message contains a null character (\\u0000). Remove it and send again.")
    return text


def _record_patient_turn(ctx: _TurnContext, text: str, attachments: list[Attachment]) -> None:
    if ctx.patient_turn_stored:
        return  # a retry: the message is already in the record, once
    _turn_append(
        ctx,
        role=IntakeTurn.Role.PATIENT,
        step=ctx.step_index,
        text=text,
        attachments=[a.meta() for a in attachments],
        previous_interaction_id=ctx.head_id,
        idempotency_key=ctx.idempotency_key,
    )
    ctx.patient_turn_stored = True


def _retry_resolve(ctx: _TurnContext, text: str) -> None:
    """Find what an earlier post with this key left behind.

    A message stored by a post whose worker died (or whose model call failed) is not stored again;
    if it was answered meanwhile, the stored answer is replayed instead of asking the model twice."""
    if not ctx.idempotency_key and ctx.last_role != IntakeTurn.Role.PATIENT:
        return  # the usual case: nothing to look up
    turns = list(
        IntakeTurn.objects.filter(session_id=ctx.session_id)
        .order_by("index")
        .only("index", "role", "text", "attachments", "idempotency_key")
    )
    stored = next((t for t in turns if ctx.idempotency_key and t.idempotency_key == ctx.idempotency_key), None)
    if stored is not None:
        if stored.role != IntakeTurn.Role.PATIENT or stored.text != text:
            raise IntakeKeyReusedError("This message key was already used for a different message. Reload the page.")
        ctx.patient_turn_stored = True
        answer = next(
            (t for t in turns if t.index > stored.index and t.role in {IntakeTurn.Role.MODEL, IntakeTurn.Role.SYSTEM}),
            None,
        )
        if answer is not None:
            session = IntakeSession.objects.get(pk=ctx.session_id)
            progress = plan.progress(session.step_index)
            ctx.replay = TurnOutcome(
                reply=answer.text,
                step=progress.current,
                total_steps=progress.total,
                status=session.status,
                urgency=session.urgency,
                emergency=answer.text if answer.role == IntakeTurn.Role.SYSTEM else None,
                step_title=progress.title,
            )
            return


def _earlier_patient_texts(ctx: _TurnContext) -> list[str]:
    """The patient's earlier messages of this intake: signs can be spread over two messages."""
    if ctx.patient_turn <= 1:
        return []
    rows = IntakeTurn.objects.filter(session_id=ctx.session_id, role=IntakeTurn.Role.PATIENT).order_by("index")
    return [t for t in rows.values_list("text", flat=True) if t]


def _red_flag_entries(flags: Any) -> list[str]:
    """What staff see for each emergency: the kind, the sign and the patient's own words."""
    entries = []
    for finding in flags.findings:
        if finding.urgency != "emergent":
            continue
        words = "; ".join(w[:160] for w in finding.evidence)
        entries.append(f"{finding.label}: {finding.sign}" + (f' ("{words}")' if words else ""))
    return entries or [category.label for category in flags.matched]


def _emergency_record(ctx: _TurnContext, text: str, attachments: list[Attachment], flags: Any) -> None:
    """A red flag: store the message and the fixed emergency answer and raise urgency at once; the
    message then goes to the model like any other, so its facts reach the record and the summary."""
    with transaction.atomic():
        _record_patient_turn(ctx, text, attachments)
        _turn_append(ctx, role=IntakeTurn.Role.SYSTEM, step=ctx.step_index, text=flags.emergency_message)
        session = IntakeSession.objects.select_for_update().get(pk=ctx.session_id)
        session.urgency = IntakeSession.Urgency.EMERGENT
        session.emergency_flagged = True
        answers = dict(session.answers)
        answers["red_flags"] = list(dict.fromkeys([*answers.get("red_flags", []), *_red_flag_entries(flags)]))
        if flags.stop_intake:
            answers["stop_intake"] = True
        session.answers = answers
        session.save(update_fields=["urgency", "emergency_flagged", "answers"])
        AuditEvent.objects.create(
            actor_label=ctx.scope.actor_label,
            patient_id=ctx.scope.patient_id,
            action="intake.red_flag",
            object_type="IntakeSession",
            object_id=str(ctx.session_id),
            detail={"rules": [rule.key for rule in flags.matched]},
        )
    ctx.urgency = IntakeSession.Urgency.EMERGENT
    ctx.stopped = ctx.stopped or flags.stop_intake
    ctx.working.urgency = "emergent"
    logger.warning("red flag on intake %s: %s", ctx.session_id, ",".join(r.key for r in flags.matched))


def _emergency_outcome(ctx: _TurnContext) -> TurnOutcome:
    """The answer to a red-flag message when the model cannot be reached: the fixed text alone.
    The message stays unanswered and goes to the model with the patient's next message; its
    urgency and words are in the record already, in case the patient never comes back."""
    with transaction.atomic():
        ctx.record_version = _record_save(ctx, record_red_flag(ctx.record, text=ctx.text, turn=ctx.patient_turn))
    _lease_release(ctx)
    progress = plan.progress(ctx.step_index)
    message = ctx.flags.emergency_message
    status = IntakeSession.objects.filter(pk=ctx.session_id).values_list("status", flat=True).first() or ""
    return TurnOutcome(
        reply=message,
        step=progress.current,
        total_steps=progress.total,
        status=status,
        urgency=IntakeSession.Urgency.EMERGENT,
        emergency=message,
        step_title=progress.title,
    )


def _pending_texts(ctx: _TurnContext) -> list[str]:
    """Patient messages after the last answer (a reload or dropped connection mid-reply)."""
    if ctx.next_turn_index - 1 <= ctx.last_model_index:
        return []
    rows = IntakeTurn.objects.filter(
        session_id=ctx.session_id, role=IntakeTurn.Role.PATIENT, index__gt=ctx.last_model_index
    ).order_by("index")
    return [text or "(attachment)" for text in rows.values_list("text", flat=True)]


def _prepare_turn(
    session_id: int, text: str, attachments: list[Attachment], idempotency_key: str = ""
) -> tuple[_TurnContext, Any, str]:
    """Validate, take the lease, and store the patient's message before any model call."""
    text = _validate_text(text, attachments)
    ctx = _lease_acquire(session_id, allowed=(IntakeSession.Status.ACTIVE, IntakeSession.Status.REVIEW))
    ctx.text = text
    ctx.idempotency_key = idempotency_key
    try:
        _retry_resolve(ctx, text)
        if ctx.replay is not None:
            _lease_release(ctx)
            return ctx, None, text
        if ctx.patient_turn_stored:
            ctx.patient_turn -= 1  # a retry: its message is stored already, as that turn
        if ctx.store and not ctx.stateless:
            # A stateless request re-sends every stored message anyway; a chained one must add them.
            ctx.pending = _pending_texts(ctx)
            if ctx.patient_turn_stored and ctx.pending and ctx.pending[-1] == text:
                ctx.pending.pop()  # the retried message itself goes as this turn's input
        flags = redflags.evaluate(text, history=_earlier_patient_texts(ctx))
        # Any layer raises, none lowers: an urgent sign raises the session without the emergency path.
        ctx.urgency = redflags.max_urgency(ctx.urgency, flags.urgency)
        if flags.matched:
            ctx.flags = flags
            _emergency_record(ctx, text, attachments, flags)
            return ctx, flags, text
        _record_patient_turn(ctx, text, attachments)  # one INSERT: atomic by itself
    except Exception:
        _lease_release(ctx)
        raise
    return ctx, None, text


def _step_note(instruction: str) -> dict[str, Any]:
    return {"type": "user_input", "content": [{"type": "text", "text": f"{STEP_NOTE_PREFIX}Next: {instruction}"}]}


def _request_kwargs(ctx: _TurnContext, *, user_input: Any) -> dict[str, Any]:
    # The same system instruction and tools on every turn: a stable prefix for implicit caching.
    kwargs: dict[str, Any] = {
        "model": settings.GEMINI_MODEL,
        "system_instruction": plan.system_instruction(language=ctx.language),
        "tools": tool_declarations(),
        "store": ctx.store,
    }
    instruction = plan.next_instruction(ctx.record)
    chained = _chain_usable(ctx)
    # The step instruction goes in the input only when the model does not already have it.
    note = [_step_note(instruction)] if (not chained or ctx.record.told != instruction) else []
    if chained:
        pending = [_as_user_step(t) for t in ctx.pending]
        new = [*note, *pending, _as_user_step(user_input)]
        kwargs["input"] = user_input if len(new) == 1 else new
        kwargs["previous_interaction_id"] = ctx.head_id
    else:
        if ctx.head_id and not ctx.stateless:
            # A stored chain older than the retention window: rebuild rather than risk a 404.
            _rebuild_count_increment(ctx.session_id)
        kwargs["input"] = [*_history_steps_excluding_last(ctx.session_id), *note, _as_user_step(user_input)]
    return kwargs


def _history_steps_excluding_last(session_id: int) -> list[dict[str, Any]]:
    # The patient turn was already stored; the new message is sent in full (with attachments) after it.
    steps = _history_steps(session_id)
    return steps[:-1] if steps and steps[-1]["type"] == "user_input" else steps


def _as_user_step(user_input: Any) -> dict[str, Any]:
    if isinstance(user_input, str):
        return {"type": "user_input", "content": [{"type": "text", "text": user_input}]}
    return {"type": "user_input", "content": user_input}


async def _call(ctx: _TurnContext, kwargs: dict[str, Any], *, stream: bool) -> AsyncIterator[client.StreamEvent]:
    """One model call, falling back to a locally rebuilt context when the remote chain is gone."""
    try:
        async for event in _call_once(kwargs, stream=stream):
            yield event
        return
    except client.LlmError as exc:
        if not (exc.not_found and "previous_interaction_id" in kwargs):
            raise
    # The remote chain expired or was deleted: carry on from our own record of the conversation.
    logger.info("intake %s: remote chain gone, rebuilding from local turns", ctx.session_id)
    await sync_to_async(_rebuild_count_increment)(ctx.session_id)
    kwargs.pop("previous_interaction_id")
    continuation = _continuation_input(kwargs["input"])
    if continuation[0]["type"] == "function_result" and ctx.hops:
        # Mid-turn: the patient's message is in the local record, and the results answer calls the
        # model made on the last hop, which must be re-sent with their thought signatures.
        steps = await sync_to_async(_history_steps)(ctx.session_id)
        continuation = [*_resent_model_steps(ctx.hops[-1].result), *continuation]
    else:
        steps = await sync_to_async(_history_steps_excluding_last)(ctx.session_id)
        # Earlier unanswered messages are stored turns, so the rebuilt history has them already.
        pending = [_as_user_step(t) for t in ctx.pending]
        continuation = [s for s in continuation if s not in pending]
    kwargs["input"] = [*steps, *continuation]
    ctx.head_id = ""
    ctx.stateless = True  # later hops in this turn re-send history too
    async for event in _call_once(kwargs, stream=stream):
        yield event


def _continuation_input(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "type" in value[0]:
        if value[0]["type"] in {"user_input", "function_result", "function_call", "model_output"}:
            return value
        return [{"type": "user_input", "content": value}]
    return [_as_user_step(value)]


async def _call_once(kwargs: dict[str, Any], *, stream: bool) -> AsyncIterator[client.StreamEvent]:
    if stream:
        async for event in client.ainteraction_stream(**kwargs):
            yield event
    else:
        result = await client.ainteraction_create(**kwargs)
        if result.text:
            yield client.StreamEvent(text=result.text)
        yield client.StreamEvent(result=result)


def _record_answers(ctx: _TurnContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """Answer a record_answers call: apply what validates to this turn's record, say what to ask next."""
    args, rejected = record_args_parse(arguments)
    applied = record_apply(ctx.working, args, turn=ctx.patient_turn)
    ctx.working = applied.record
    ctx.recorded = True
    preview = _turn_closed(ctx)  # what the plan will decide at the end of this turn
    instruction = plan.next_instruction(preview)
    ctx.working.told = instruction
    result: dict[str, Any] = {"accepted": applied.accepted, "rejected": {**rejected, **applied.rejected}}
    check = plan.chart_checks(applied.accepted)
    if check:
        result["check_chart"] = list(check)  # e.g. the name and birth date just given: verify, never read out
    result["next"] = instruction
    return result


def _turn_closed(ctx: _TurnContext) -> IntakeRecordSchema:
    """The record as the plan leaves it at the end of this turn (pure: also used to preview `next`)."""
    record = ctx.working
    if ctx.flags is not None:
        record = record_red_flag(record, text=ctx.text, turn=ctx.patient_turn)
    return plan.turn_close(
        record,
        asked_index=ctx.asked_index,
        turn=ctx.patient_turn,
        text=ctx.text,
        changed=record_changed_topics(ctx.record, record),
    )


async def _run_turn(
    ctx: _TurnContext, user_input: Any, *, stream: bool
) -> AsyncIterator[client.StreamEvent | client.InteractionResult]:
    """The model call plus the bounded tool loop. Yields text deltas, then the final result.

    A step may hold several calls (record_answers and ehr_lookup in parallel); each is answered and
    the results go back in one request, after which the model writes the reply (the second hop)."""
    kwargs = await sync_to_async(_request_kwargs)(ctx, user_input=user_input)
    history_input = kwargs["input"] if not kwargs.get("previous_interaction_id") else None
    calls_made = 0
    role = IntakeTurn.Role.MODEL
    while True:
        result: client.InteractionResult | None = None
        previous_id = kwargs.get("previous_interaction_id", "")
        async for event in _call(ctx, kwargs, stream=stream):
            if event.result is not None:
                result = event.result
            elif event.text:
                yield event
        assert result is not None
        ctx.hops.append(_Hop(result=result, previous_id=previous_id, role=role))
        if not result.function_calls or calls_made >= MAX_TOOL_CALLS_PER_TURN:
            yield result
            return
        outputs: list[dict[str, Any]] = []
        for call in result.function_calls[: MAX_TOOL_CALLS_PER_TURN - calls_made]:
            calls_made += 1
            if call.name == RECORD_TOOL_NAME:
                payload = _record_answers(ctx, call.arguments)  # pure, in memory: written at the turn's end
            else:
                payload = await atool_execute(
                    scope=ctx.scope,
                    name=call.name,
                    arguments=call.arguments,
                    timeout=settings.FHIR_TIMEOUT_SECONDS + 1,
                )
            outputs.append({"type": "function_result", "call_id": call.id, "name": call.name, "result": payload})
        ctx.hops[-1].role = IntakeTurn.Role.TOOL
        if result.id and ctx.store and not ctx.stateless:
            kwargs["previous_interaction_id"] = result.id
            kwargs["input"] = outputs
        else:
            # Nothing stored remotely: re-send the history, the model's thought and calls exactly as
            # received (Gemini 3 refuses calls without their signature), and the results.
            base = history_input if history_input is not None else kwargs["input"]
            history_input = [*base, *_resent_model_steps(result), *outputs]
            kwargs.pop("previous_interaction_id", None)
            kwargs["input"] = history_input


def _resent_model_steps(result: client.InteractionResult) -> list[dict[str, Any]]:
    if result.model_steps:
        return result.model_steps
    return [
        {"type": "function_call", "id": c.id, "name": c.name, "arguments": c.arguments} for c in result.function_calls
    ]


def _finish_turn(ctx: _TurnContext, result: client.InteractionResult) -> TurnOutcome:
    """Store the model's side of the turn, the record's new version, and advance the head and the
    plan, in one transaction."""
    record = _turn_closed(ctx)
    index = plan.current_index(record)
    ctx.confirmed = index == plan.DONE_INDEX
    if not ctx.recorded:
        # The model skipped record_answers: it was not told where the intake now stands.
        record.told = ctx.record.told
    step_index = min(index, plan.REVIEW_INDEX)  # done is reached by saving the summary
    reply = result.text.strip() or plan.fallback_question(index)
    if ctx.stopped:
        reply = STOPPED_REPLY  # the model's words (maybe a next question) are not shown
    if ctx.flags is not None:
        reply = f"{ctx.flags.emergency_message}\n\n{reply}"
    # The model's urgency may raise the session's, never lower it.
    urgency = redflags.max_urgency(ctx.urgency, record.urgency)
    emergency = ctx.flags.emergency_message if ctx.flags is not None else None
    updates: dict[str, Any] = {"urgency": urgency}
    if emergency is None and urgency == "emergent" and ctx.urgency != "emergent":
        # Only the model saw an emergency (words no rule lists): the patient still gets the fixed
        # advice, after the model's words (they have streamed already), and staff see the flag.
        emergency = redflags.model_emergency_message(record.warning_signs)
        reply = f"{reply}\n\n{emergency}"
        updates["emergency_flagged"] = True
    rows = []
    for hop in ctx.hops:
        is_final = hop is ctx.hops[-1]
        rows.append(
            {
                "session_id": ctx.session_id,
                "index": ctx.next_turn_index,
                "role": IntakeTurn.Role.MODEL if is_final else IntakeTurn.Role.TOOL,
                "step": ctx.step_index,
                "text": reply if is_final else _tool_turn_text(hop.result),
                "interaction_id": hop.result.id if ctx.store else "",
                "previous_interaction_id": hop.previous_id,
                "request_bytes": hop.result.request_bytes,
                "input_tokens": hop.result.usage.input_tokens,
                "output_tokens": hop.result.usage.output_tokens,
                "cached_tokens": hop.result.usage.cached_tokens,
                "thought_tokens": hop.result.usage.thought_tokens,
                "latency_ms": hop.result.latency_ms,
            }
        )
        ctx.next_turn_index += 1
    with transaction.atomic():
        _rows_insert(IntakeTurn, rows)  # the turn's hops in one insert
        _record_save(ctx, record)
        status = IntakeSession.Status.REVIEW if step_index == plan.REVIEW_INDEX else IntakeSession.Status.ACTIVE
        _head_advance(
            ctx,
            new_head=result.id if ctx.store else "",
            updates={"step_index": step_index, "status": status, **updates},
        )
    progress = plan.progress(step_index)
    return TurnOutcome(
        reply=reply,
        step=progress.current,
        total_steps=progress.total,
        status=status,
        urgency=urgency,
        emergency=emergency,
        step_title=progress.title,
    )


def _record_save(ctx: _TurnContext, record: IntakeRecordSchema) -> int:
    """One new version per patient turn: the row holds the latest, the versions keep every one."""
    version = ctx.record_version + 1
    document = record.model_dump(mode="json")
    q = connection.ops.quote_name
    prepared = IntakeRecord._meta.get_field("document").get_db_prep_save(document, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(IntakeRecord._meta.db_table)} SET {q('document')} = %s, {q('version')} = %s, "  # noqa: S608 (names only)
            f"{q('updated_at')} = %s WHERE {q('id')} = %s",
            [prepared, version, connection.ops.adapt_datetimefield_value(timezone.now()), ctx.record_id],
        )
    _rows_insert(
        IntakeRecordVersion,
        [{"record_id": ctx.record_id, "version": version, "turn": ctx.patient_turn, "document": document}],
    )
    return version


def _rows_insert(model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT rows (field attname -> value) in one statement, each value prepared by its own field as
    the ORM prepares it (JSON, datetimes, defaults, auto_now_add), without the ORM's query compiler and
    model instances, which cost a turn more CPU than the database's work (docs/benchmarks/stream.md)."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    params: list[Any] = []
    for row in rows:
        for f in fields:
            if f.attname in row:
                value = row[f.attname]
            elif getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
                value = now
            else:
                value = f.get_default()  # as a model instance would have it ("" for a blank text field)
            params.append(f.get_db_prep_save(value, connection))
    q = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "  # noqa: S608 (names only)
        f"VALUES {', '.join([one] * len(rows))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _tool_turn_text(result: client.InteractionResult) -> str:
    names = ", ".join(
        f"{c.name}({','.join(c.arguments.get('sections', []) if c.name != RECORD_TOOL_NAME else c.arguments)})"
        for c in result.function_calls
    )
    return f"[tool call] {names}"


async def aintake_turn_stream(
    *,
    session_id: int,
    text: str,
    attachments: list[Attachment] | None = None,
    language: str | None = None,
    idempotency_key: str = "",
) -> tuple[TurnOutcome | None, AsyncIterator[dict[str, Any]] | None]:
    """Take the lease and store the message now; return either an immediate outcome (a retried
    message that was already answered) or an async iterator of events:
    {"type": "delta", "text"} ... then {"type": "done", **outcome} (or {"type": "error"}).

    A red flag's fixed emergency text is the first delta, before the model is asked anything.
    Validation and 409 errors raise here, before any streaming starts, so callers can answer 4xx.
    A message with an idempotency key already stored is not stored again; saved messages the
    model never answered (a crashed or failed earlier post) go to the model with this one.
    """
    attachments = attachments or []
    ctx, _flags, clean_text = await sync_to_async(_prepare_turn)(session_id, text, attachments, idempotency_key)
    if ctx.replay is not None:
        return ctx.replay, None
    if language and not language.lower().startswith("en"):
        ctx.language = language  # English is the default: no extra line in every payload
    return None, _stream_events(ctx, _user_content(clean_text, attachments))


async def _stream_events(ctx: _TurnContext, user_input: Any) -> AsyncIterator[dict[str, Any]]:
    if ctx.flags is not None:
        yield {"type": "delta", "text": ctx.flags.emergency_message + "\n\n"}
    if ctx.stopped:
        # No unrelated questions after suicidal thoughts or self-harm: the model still records what
        # was said (nothing is lost), but its text is not shown.
        yield {"type": "delta", "text": STOPPED_REPLY}
    try:
        result: client.InteractionResult | None = None
        async with _lease_heartbeat(ctx):
            async for item in _run_turn(ctx, user_input, stream=True):
                if isinstance(item, client.InteractionResult):
                    result = item
                elif item.text and not ctx.stopped:
                    yield {"type": "delta", "text": item.text}
            assert result is not None
            outcome = await sync_to_async(_finish_turn)(ctx, result)
            if ctx.flags is None and outcome.emergency:
                yield {"type": "delta", "text": "\n\n" + outcome.emergency}  # the model's emergency
    except client.LlmError as exc:
        logger.warning("intake %s: model call failed (%s)", ctx.session_id, exc.status_code or "no status")
        if ctx.flags is not None:
            # The emergency advice never waits on the model; the message is answered next time.
            outcome = await sync_to_async(_emergency_outcome)(ctx)
            yield {"type": "done", **outcome.as_dict()}
            return
        await sync_to_async(_lease_release)(ctx)
        yield {
            "type": "error",
            "detail": "The assistant is not reachable right now. Your message was saved; please try again.",
        }
        return
    except BaseException:
        await sync_to_async(_lease_release)(ctx)
        raise
    if ctx.confirmed:
        outcome = await _finish_after_confirmation(ctx.session_id, outcome)
    yield {"type": "done", **outcome.as_dict()}


async def _finish_after_confirmation(session_id: int, outcome: TurnOutcome) -> TurnOutcome:
    """The patient said the review is right: write the summary now (the button does the same)."""
    try:
        await aintake_finish(session_id=session_id)
        status = IntakeSession.Status.COMPLETED
    except SummaryInvalidError:
        status = IntakeSession.Status.MANUAL
    except IntakeError:
        return outcome  # still in review: the confirm button stays there to try again
    progress = plan.progress(plan.DONE_INDEX)
    return dataclasses_replace(outcome, status=status, step=progress.current, step_title=progress.title)


async def aintake_turn_submit(
    *,
    session_id: int,
    text: str,
    attachments: list[Attachment] | None = None,
    language: str | None = None,
    idempotency_key: str = "",
) -> TurnOutcome:
    """Take one patient turn and wait for the whole reply."""
    immediate, events = await aintake_turn_stream(
        session_id=session_id, text=text, attachments=attachments, language=language, idempotency_key=idempotency_key
    )
    if immediate is not None:
        return immediate  # a retried message that was already answered
    assert events is not None
    async for event in events:
        if event["type"] == "error":
            raise IntakeUnavailableError(event["detail"])
        if event["type"] == "done":
            return TurnOutcome(**{k: v for k, v in event.items() if k != "type"})
    raise IntakeUnavailableError("The assistant did not finish its reply. Please try again.")


# ---------------------------------------------------------------------------------------------
# Finishing: structured summary


def _summary_request(ctx: _TurnContext, instruction: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": settings.GEMINI_MODEL,
        "system_instruction": SUMMARY_INSTRUCTION,
        "response_format": {"type": "text", "mime_type": "application/json", "schema": summary_json_schema()},
        "store": ctx.store,
    }
    if _chain_usable(ctx):
        kwargs["input"] = instruction
        kwargs["previous_interaction_id"] = ctx.head_id
    else:
        kwargs["input"] = [*_history_steps(ctx.session_id), _as_user_step(instruction)]
    return kwargs


async def _summary_call(ctx: _TurnContext, instruction: str, previous: str = "") -> client.InteractionResult:
    kwargs = await sync_to_async(_summary_request)(ctx, instruction)
    if previous and ctx.store:
        kwargs["previous_interaction_id"] = previous
        kwargs["input"] = instruction
    result: client.InteractionResult | None = None
    async for event in _call(ctx, kwargs, stream=False):
        if event.result is not None:
            result = event.result
    assert result is not None
    ctx.hops.append(_Hop(result=result, previous_id=kwargs.get("previous_interaction_id", ""), role="model"))
    return result


def _summary_parse(text: str) -> tuple[PatientSummarySchema | None, str]:
    try:
        return PatientSummarySchema.model_validate_json(text), ""
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:8])
        return None, problems


def _summary_save(ctx: _TurnContext, parsed: PatientSummarySchema) -> PatientSummary:
    session = IntakeSession.objects.select_related("patient").get(pk=ctx.session_id)
    chart = ehr.chart_read(scope=ctx.scope, sections=["medications", "allergies", "problems"])
    # The record the patient confirmed wins over the model's summary; differences are logged by
    # field name only (never values: they are PHI).
    merged, differing = summary_from_record(parsed, ctx.record)
    if differing:
        logger.info("intake %s: summary differed from the record in %s", ctx.session_id, ",".join(differing))
    data = summary_reconcile(summary=merged, chart=chart)
    # The rule layer's urgency stands: the model can raise it, never lower it.
    urgency = redflags.max_urgency(redflags.max_urgency(data.urgency_level, session.urgency), ctx.record.urgency)
    red_flags = list(dict.fromkeys([*data.red_flags, *session.answers.get("red_flags", [])]))
    follow_up = data.recommended_follow_up
    if urgency == IntakeSession.Urgency.EMERGENT:
        # An emergent intake never recommends routine follow-up.
        follow_up = [f for f in follow_up if "routine" not in f.lower()]
        follow_up = list(dict.fromkeys([EMERGENT_FOLLOW_UP, *follow_up]))
    data = data.model_copy(
        update={"urgency_level": urgency, "red_flags": red_flags, "recommended_follow_up": follow_up}
    )
    PatientSummarySchema.model_validate(data.model_dump())  # never save an invalid summary
    with transaction.atomic():
        for hop in ctx.hops:
            _turn_append(
                ctx,
                role=IntakeTurn.Role.SYSTEM,
                step=session.step_index,
                text="[summary]",
                interaction_id=hop.result.id if ctx.store else "",
                previous_interaction_id=hop.previous_id,
                request_bytes=hop.result.request_bytes,
                input_tokens=hop.result.usage.input_tokens,
                output_tokens=hop.result.usage.output_tokens,
                cached_tokens=hop.result.usage.cached_tokens,
                thought_tokens=hop.result.usage.thought_tokens,
                latency_ms=hop.result.latency_ms,
            )
        summary = PatientSummary.objects.create(
            patient=session.patient,
            data=data.model_dump(mode="json"),
            chart_snapshot=chart.as_dict(),
            urgency=urgency,
        )
        _head_advance(
            ctx,
            new_head="",
            updates={
                "status": IntakeSession.Status.COMPLETED,
                "summary": summary,
                "urgency": urgency,
                "finished_at": timezone.now(),
                "step_index": plan.next_index(session.step_index),
            },
        )
        AuditEvent.objects.create(
            actor_label=ctx.scope.actor_label,
            patient=session.patient,
            action="summary.create",
            object_type="PatientSummary",
            object_id=str(summary.pk),
        )
    return summary


def _summary_manual(ctx: _TurnContext) -> None:
    _head_advance(ctx, new_head="", updates={"status": IntakeSession.Status.MANUAL, "finished_at": timezone.now()})


def _summary_existing(session_id: int) -> PatientSummary | None:
    session = IntakeSession.objects.filter(pk=session_id, status=IntakeSession.Status.COMPLETED).first()
    return session.summary if session is not None else None


async def aintake_finish(*, session_id: int) -> PatientSummary:
    """After review: one structured-output call, one repair if needed, then a validated summary.

    Finishing twice (the patient typed "yes, that's right" and then pressed the button) returns the
    summary already written."""
    existing = await sync_to_async(_summary_existing)(session_id)
    if existing is not None:
        return existing
    ctx = await sync_to_async(_lease_acquire)(session_id, allowed=(IntakeSession.Status.REVIEW,))
    try:
        async with _lease_heartbeat(ctx):
            return await _finish_with_lease(ctx)
    except client.LlmError as exc:
        await sync_to_async(_lease_release)(ctx)
        raise IntakeUnavailableError("The assistant is not reachable right now. Please try again.") from exc
    except SummaryInvalidError:
        raise
    except BaseException:
        await sync_to_async(_lease_release)(ctx)
        raise


async def _finish_with_lease(ctx: _TurnContext) -> PatientSummary:
    """The summary call (and one repair), holding the lease the caller took."""
    result = await _summary_call(ctx, "Write the intake summary now, as JSON only.")
    parsed, problems = _summary_parse(result.text)
    if parsed is None:
        repair = (
            "Your reply did not match the JSON schema ("
            + problems[:600]
            + "). Reply again with only the corrected JSON."
        )
        result = await _summary_call(ctx, repair, previous=result.id)
        parsed, problems = _summary_parse(result.text)
    if parsed is None:
        await sync_to_async(_summary_manual)(ctx)
        raise SummaryInvalidError("The summary could not be produced automatically; staff will complete it by hand.")
    return await sync_to_async(_summary_save)(ctx, parsed)
