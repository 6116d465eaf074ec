"""The intake conversation: start a session, take a patient turn, finish with a structured summary.

Every turn is stored locally before and after the model call. The session head advances by
compare-and-set on `head_version`, guarded by a short lease instead of a database lock, so two
posts to one session never fork the chain and no lock is held while the model thinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from pydantic import ValidationError

from agents import client
from agents.schemas import PatientSummarySchema, summary_json_schema
from agents.tools import atool_execute, tool_declarations
from intake import plan, redflags
from intake.attachments import Attachment
from intake.models import IntakeSession, IntakeTurn
from intake.tokens import token_hash
from patients import ehr
from patients.models import AuditEvent, Patient, PatientSummary
from patients.reconcile import summary_reconcile

logger = logging.getLogger(__name__)

MAX_TOOL_CALLS_PER_TURN = 3
MAX_TEXT_CHARS = 4000
# A heartbeat never keeps a lease alive longer than this, even if its turn is abandoned unclosed.
LEASE_HEARTBEAT_MAX_SECONDS = 300

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
    idempotency_key: str = ""
    patient_turn_stored: bool = False  # a retry whose message was stored by an earlier (failed) post
    unanswered: list[str] = field(default_factory=list)  # earlier saved messages the model never saw
    replay: TurnOutcome | None = None  # the retried message was already answered: this is the answer
    last_role: str = ""  # role of the newest stored turn when the lease was taken


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


def _scope_for(session: IntakeSession) -> ehr.PatientScope:
    return ehr.PatientScope(
        patient_id=session.patient_id,
        fhir_patient_id=session.patient.fhir_patient_id,
        actor_label=f"intake-session:{session.pk}",
    )


# ---------------------------------------------------------------------------------------------
# Lease and head: compare-and-set, no lock held during the model call


def _lease_acquire(session_id: int, *, allowed: tuple[str, ...]) -> _TurnContext:
    now = timezone.now()
    lease = secrets.token_hex(8)
    claimed = (
        IntakeSession.objects.filter(pk=session_id, status__in=allowed)
        .filter(Q(lease_token="") | Q(lease_expires_at__lt=now))
        .update(lease_token=lease, lease_expires_at=now + timedelta(seconds=settings.INTAKE_LEASE_SECONDS))
    )
    session = IntakeSession.objects.select_related("patient").filter(pk=session_id).first()
    if session is None:
        raise IntakeNotFoundError("No such intake.")
    if not claimed:
        if session.status not in allowed:
            raise IntakeClosedError(
                f"This intake is {session.get_status_display().lower()} and takes no more messages."
            )
        raise IntakeBusyError("Another message for this intake is still being answered. Please wait for the reply.")
    last_index, last_role = session.turns.order_by("-index").values_list("index", "role").first() or (0, "")
    return _TurnContext(
        session_id=session.pk,
        lease=lease,
        head_id=session.head_interaction_id,
        head_version=session.head_version,
        head_created_at=session.head_created_at,
        step_index=session.step_index,
        urgency=session.urgency,
        store=session.store,
        stateless=not session.store,
        scope=_scope_for(session),
        next_turn_index=(last_index or 0) + 1,
        last_role=last_role,
    )


def _lease_release(ctx: _TurnContext) -> None:
    IntakeSession.objects.filter(pk=ctx.session_id, lease_token=ctx.lease).update(lease_token="", lease_expires_at=None)


def _lease_renew(ctx: _TurnContext) -> bool:
    """Push the lease's expiry out again; False once the lease is gone (released or taken over)."""
    expires = timezone.now() + timedelta(seconds=settings.INTAKE_LEASE_SECONDS)
    return bool(
        IntakeSession.objects.filter(pk=ctx.session_id, lease_token=ctx.lease).update(lease_expires_at=expires)
    )


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


def _turn_text_for_model(turn: IntakeTurn) -> str:
    text = turn.text or ""
    for meta in turn.attachments or []:
        text += f"\n[attached {meta.get('mime_type')}, {meta.get('size', 0)} bytes]"
    return text.strip()


def _retry_resolve(ctx: _TurnContext, text: str) -> None:
    """Find what an earlier post with this key left behind, and the saved messages never answered.

    A message stored by a post whose worker died (or whose model call failed) is not stored again;
    if it was answered meanwhile, the stored answer is replayed instead of asking the model twice."""
    if not ctx.idempotency_key and ctx.last_role != IntakeTurn.Role.PATIENT:
        return  # the usual case: nothing to look up
    turns = list(
        IntakeTurn.objects.filter(session_id=ctx.session_id).order_by("index").only(
            "index", "role", "text", "attachments", "idempotency_key"
        )
    )
    stored = next((t for t in turns if ctx.idempotency_key and t.idempotency_key == ctx.idempotency_key), None)
    if stored is not None:
        if stored.role != IntakeTurn.Role.PATIENT or stored.text != text:
            raise IntakeKeyReusedError("This message key was already used for a different message. Reload the page.")
        ctx.patient_turn_stored = True
        answer = next(
            (
                t
                for t in turns
                if t.index > stored.index and t.role in {IntakeTurn.Role.MODEL, IntakeTurn.Role.SYSTEM}
            ),
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
    answered_up_to = max((t.index for t in turns if t.role != IntakeTurn.Role.PATIENT), default=-1)
    ctx.unanswered = [
        _turn_text_for_model(t)
        for t in turns
        if t.role == IntakeTurn.Role.PATIENT and t.index > answered_up_to and t is not stored
    ]


def _emergency_turn(ctx: _TurnContext, text: str, attachments: list[Attachment], flags: Any) -> TurnOutcome:
    """A red flag answers at once from the rule table; the model is not asked and cannot lower urgency."""
    with transaction.atomic():
        _record_patient_turn(ctx, text, attachments)
        _turn_append(ctx, role=IntakeTurn.Role.SYSTEM, step=ctx.step_index, text=flags.emergency_message)
        session = IntakeSession.objects.select_for_update().get(pk=ctx.session_id)
        session.urgency = IntakeSession.Urgency.EMERGENT
        session.emergency_flagged = True
        answers = dict(session.answers)
        answers["red_flags"] = sorted({*answers.get("red_flags", []), *(rule.label for rule in flags.matched)})
        session.answers = answers
        session.lease_token = ""
        session.lease_expires_at = None
        session.save(update_fields=["urgency", "emergency_flagged", "answers", "lease_token", "lease_expires_at"])
        AuditEvent.objects.create(
            actor_label=ctx.scope.actor_label,
            patient_id=ctx.scope.patient_id,
            action="intake.red_flag",
            object_type="IntakeSession",
            object_id=str(ctx.session_id),
            detail={"rules": [rule.key for rule in flags.matched]},
        )
    logger.warning("red flag on intake %s: %s", ctx.session_id, ",".join(r.key for r in flags.matched))
    progress = plan.progress(ctx.step_index)
    return TurnOutcome(
        reply=flags.emergency_message,
        step=progress.current,
        total_steps=progress.total,
        status=session.status,
        urgency=session.urgency,
        emergency=flags.emergency_message,
        step_title=progress.title,
    )


def _prepare_turn(
    session_id: int, text: str, attachments: list[Attachment], idempotency_key: str = ""
) -> tuple[_TurnContext, Any, str]:
    """Validate, take the lease, and store the patient's message before any model call."""
    text = _validate_text(text, attachments)
    ctx = _lease_acquire(session_id, allowed=(IntakeSession.Status.ACTIVE, IntakeSession.Status.REVIEW))
    ctx.idempotency_key = idempotency_key
    try:
        _retry_resolve(ctx, text)
        if ctx.replay is not None:
            _lease_release(ctx)
            return ctx, None, text
        retried = ctx.patient_turn_stored
        flags = redflags.evaluate(text)
        if flags.matched:
            return ctx, flags, text
        step = plan.step_at(ctx.step_index)
        with transaction.atomic():
            _record_patient_turn(ctx, text, attachments)
            if step is not None and not retried and plan.is_decline(text):
                # Only a declined step changes the answers: read and lock the session just then.
                session = IntakeSession.objects.select_for_update().get(pk=ctx.session_id)
                answers = dict(session.answers)
                answers.setdefault("declined", [])
                if step.key not in answers["declined"]:
                    answers["declined"].append(step.key)
                session.answers = answers
                session.save(update_fields=["answers"])
    except Exception:
        _lease_release(ctx)
        raise
    return ctx, None, text


def _next_index(step_index: int) -> int:
    # During review the patient may send corrections; the plan stays on the review step.
    return step_index if plan.progress(step_index).is_review else plan.next_index(step_index)


def _request_kwargs(ctx: _TurnContext, *, user_input: Any, next_index: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": settings.GEMINI_MODEL,
        "system_instruction": plan.system_instruction(step_index=next_index, language=ctx.language),
        "tools": tool_declarations(),
        "store": ctx.store,
    }
    if _chain_usable(ctx):
        kwargs["input"] = user_input
        kwargs["previous_interaction_id"] = ctx.head_id
    else:
        if ctx.head_id and not ctx.stateless:
            # A stored chain older than the retention window: rebuild rather than risk a 404.
            _rebuild_count_increment(ctx.session_id)
        kwargs["input"] = [*_history_steps_excluding_last(ctx.session_id), _as_user_step(user_input)]
    return kwargs


def _history_steps_excluding_last(session_id: int) -> list[dict[str, Any]]:
    # The patient's unanswered messages were already stored; they are sent as this turn's input
    # (the new one in full, with attachments), so the trailing ones are left out of the history.
    steps = _history_steps(session_id)
    while steps and steps[-1]["type"] == "user_input":
        steps.pop()
    return steps


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
    steps = await sync_to_async(_history_steps_excluding_last)(ctx.session_id)
    kwargs["input"] = [*steps, *_continuation_input(kwargs["input"])]
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


async def _run_turn(
    ctx: _TurnContext, user_input: Any, *, stream: bool
) -> AsyncIterator[client.StreamEvent | client.InteractionResult]:
    """The model call plus the bounded tool loop. Yields text deltas, then the final result."""
    next_index = _next_index(ctx.step_index)
    kwargs = await sync_to_async(_request_kwargs)(ctx, user_input=user_input, next_index=next_index)
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
            # Nothing stored remotely: re-send the history, the call and its results.
            calls = [
                {"type": "function_call", "id": c.id, "name": c.name, "arguments": c.arguments}
                for c in result.function_calls
            ]
            base = history_input if history_input is not None else kwargs["input"]
            history_input = [*base, *calls, *outputs]
            kwargs.pop("previous_interaction_id", None)
            kwargs["input"] = history_input


def _finish_turn(ctx: _TurnContext, result: client.InteractionResult) -> TurnOutcome:
    """Store the model's side of the turn and advance the head and the plan in one transaction."""
    next_index = _next_index(ctx.step_index)
    reply = result.text.strip() or plan.fallback_question(next_index)
    with transaction.atomic():
        for hop in ctx.hops:
            is_final = hop is ctx.hops[-1]
            _turn_append(
                ctx,
                role=IntakeTurn.Role.MODEL if is_final else IntakeTurn.Role.TOOL,
                step=ctx.step_index,
                text=reply if is_final else _tool_turn_text(hop.result),
                interaction_id=hop.result.id if ctx.store else "",
                previous_interaction_id=hop.previous_id,
                request_bytes=hop.result.request_bytes,
                input_tokens=hop.result.usage.input_tokens,
                output_tokens=hop.result.usage.output_tokens,
                cached_tokens=hop.result.usage.cached_tokens,
                thought_tokens=hop.result.usage.thought_tokens,
                latency_ms=hop.result.latency_ms,
            )
        status = IntakeSession.Status.REVIEW if plan.progress(next_index).is_review else IntakeSession.Status.ACTIVE
        _head_advance(
            ctx,
            new_head=result.id if ctx.store else "",
            updates={"step_index": next_index, "status": status},
        )
    # No re-read: the head write above set the status; urgency is as read with the lease (red-flag
    # turns, the only ones that raise it, need that lease too).
    progress = plan.progress(next_index)
    return TurnOutcome(
        reply=reply,
        step=progress.current,
        total_steps=progress.total,
        status=status,
        urgency=ctx.urgency,
        step_title=progress.title,
    )


def _tool_turn_text(result: client.InteractionResult) -> str:
    names = ", ".join(f"{c.name}({','.join(c.arguments.get('sections', []))})" for c in result.function_calls)
    return f"[tool call] {names}"


async def aintake_turn_stream(
    *,
    session_id: int,
    text: str,
    attachments: list[Attachment] | None = None,
    language: str | None = None,
    idempotency_key: str = "",
) -> tuple[TurnOutcome | None, AsyncIterator[dict[str, Any]] | None]:
    """Take the lease and store the message now; return either an immediate outcome (red flag, or
    a retried message that was already answered) or an async iterator of events:
    {"type": "delta", "text"} ... then {"type": "done", **outcome}.

    Validation and 409 errors raise here, before any streaming starts, so callers can answer 4xx.
    A message with an idempotency key already stored is not stored again; saved messages the
    model never answered (a crashed or failed earlier post) go to the model with this one.
    """
    attachments = attachments or []
    ctx, flags, clean_text = await sync_to_async(_prepare_turn)(session_id, text, attachments, idempotency_key)
    if ctx.replay is not None:
        return ctx.replay, None
    if language and not language.lower().startswith("en"):
        ctx.language = language  # English is the default: no extra line in every payload
    if flags is not None:
        return await sync_to_async(_emergency_turn)(ctx, clean_text, attachments, flags), None
    model_text = "\n\n".join(t for t in [*ctx.unanswered, clean_text] if t)
    return None, _stream_events(ctx, _user_content(model_text, attachments))


async def _stream_events(ctx: _TurnContext, user_input: Any) -> AsyncIterator[dict[str, Any]]:
    try:
        result: client.InteractionResult | None = None
        async with _lease_heartbeat(ctx):
            async for item in _run_turn(ctx, user_input, stream=True):
                if isinstance(item, client.InteractionResult):
                    result = item
                elif item.text:
                    yield {"type": "delta", "text": item.text}
            assert result is not None
            outcome = await sync_to_async(_finish_turn)(ctx, result)
    except client.LlmError as exc:
        await sync_to_async(_lease_release)(ctx)
        logger.warning("intake %s: model call failed (%s)", ctx.session_id, exc.status_code or "no status")
        yield {
            "type": "error",
            "detail": "The assistant is not reachable right now. Your message was saved; please try again.",
        }
        return
    except BaseException:
        await sync_to_async(_lease_release)(ctx)
        raise
    yield {"type": "done", **outcome.as_dict()}


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
        return immediate
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
        "response_format": summary_json_schema(),
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
    data = summary_reconcile(summary=parsed, chart=chart)
    # The rule layer's urgency stands: the model can raise it, never lower it.
    urgency = redflags.max_urgency(data.urgency_level, session.urgency)
    red_flags = list(dict.fromkeys([*data.red_flags, *session.answers.get("red_flags", [])]))
    data = data.model_copy(update={"urgency_level": urgency, "red_flags": red_flags})
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


async def aintake_finish(*, session_id: int) -> PatientSummary:
    """After review: one structured-output call, one repair if needed, then a validated summary."""
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
        raise SummaryInvalidError(
            "The summary could not be produced automatically; staff will complete it by hand."
        )
    return await sync_to_async(_summary_save)(ctx, parsed)
