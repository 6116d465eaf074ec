"""The aiohttp application: Interactions + generateContent routes, faults, latency, inspection.

Handlers stay thin: they validate (wire.py), ask the offline model (model.py) or the research
simulator (research.py), store the result (store.py) and reply as JSON or SSE (sse.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import resource
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gemini_emulator import builtins, catalog, gencontent, model, research, signatures, sse
from gemini_emulator.caching import PrefixCache
from gemini_emulator.modes import MODES, ModelHost
from gemini_emulator.store import Record, Store, new_id
from gemini_emulator.usage import compute_usage, step_tokens
from gemini_emulator.wire import (
    ApiError,
    CreateRequest,
    bad,
    is_typed_format,
    parse_create,
    response_schema,
    tool_choice,
)

log = logging.getLogger("gemini_emulator")

VERSION = r"{version:v\d+[a-z0-9]*}"
BACKGROUND_MODEL_SECONDS = 0.3  # how long a background *model* interaction stays in_progress


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    latency_ms: int = 0
    chunk_ms: int = 0
    fault_rate: float = 0.0
    research_seconds: float = 20.0
    retention_seconds: float = 86400.0
    seed: int = 0
    log_requests: bool = True
    model_mode: str = "general"
    request_log_size: int = 2000


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.retention_seconds)
        self.prefix_cache = PrefixCache()
        self.models = ModelHost(config.model_mode)
        self.requests: deque[dict[str, Any]] = deque(maxlen=config.request_log_size)
        self.fault_rng = random.Random(config.seed)
        self.research_rng = random.Random(config.seed + 1)
        self.streams_open = 0
        self.streams_peak = 0
        self.streams_total = 0
        # Seconds each of the next API requests stalls before it is handled (POST /_emulator/faults).
        self.hangs: deque[float] = deque()

    # --- application --------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware], client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_post(f"/{VERSION}/interactions", self.create)
        r.add_get(f"/{VERSION}/interactions/{{iid}}", self.get)
        r.add_post(f"/{VERSION}/interactions/{{iid}}/cancel", self.cancel)
        r.add_delete(f"/{VERSION}/interactions/{{iid}}", self.delete)
        r.add_post(f"/{VERSION}/models/{{target}}", self.models_call)
        r.add_get("/_emulator/requests", self.inspect_requests)
        r.add_post("/_emulator/reset", self.inspect_reset)
        r.add_get("/_emulator/stats", self.inspect_stats)
        r.add_post("/_emulator/script", self.inspect_script)
        r.add_post("/_emulator/mode", self.inspect_mode)
        r.add_post("/_emulator/faults", self.inspect_faults)
        app.on_startup.append(self._start_sweeper)
        app.on_shutdown.append(self._end_streams)
        app.on_cleanup.append(self._stop)
        return app

    async def _start_sweeper(self, app: web.Application) -> None:
        app["sweeper"] = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        period = max(0.5, min(60.0, self.config.retention_seconds / 2))
        while True:
            await asyncio.sleep(period)
            self.store.sweep()

    async def _end_streams(self, app: web.Application) -> None:
        # Cancelling running work emits the final events, so open streams finish instead of
        # holding the shutdown until a research run would have completed.
        self.store.clear()

    async def _stop(self, app: web.Application) -> None:
        app["sweeper"].cancel()
        self.store.clear()

    # --- middleware: log, faults, latency, error bodies ----------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        inspect = request.path.startswith("/_emulator/")
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "bytes": len(raw),
            "body": _parse_json(raw),
            "time": time.time(),
        }
        if not inspect:
            self.requests.append(entry)
        request["log_entry"] = entry
        is_models = "/models/" in request.path
        try:
            routed = request.match_info.http_exception is None
            if not inspect and routed and not _has_credentials(request):
                # Like Google: no API key (header, ?key= or bearer token) is refused before anything else.
                raise ApiError(403, _NO_KEY_MESSAGE, "permission_denied")
            if not inspect:
                if self.hangs:  # a model call that hangs, for the client's timeout and retry
                    await asyncio.sleep(self.hangs.popleft())
                if self.config.fault_rate > 0 and self.fault_rng.random() < self.config.fault_rate:
                    status = 429 if self.fault_rng.random() < 0.5 else 503
                    raise ApiError(status, _FAULT_MESSAGES[status])
                if self.config.latency_ms > 0:
                    await asyncio.sleep(self.config.latency_ms / 1000)
            resp = await handler(request)
        except ApiError as e:
            resp = _error_response(e, google_style=is_models)
        except web.HTTPException as e:
            if e.status == 404 or e.status == 405:
                msg = f"No route for {request.method} {request.path}."
                resp = _error_response(ApiError(e.status, msg), google_style=is_models)
            else:
                raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as e:  # a bug must not kill the connection or put request text in the log
            log.error("%s %s failed: %s", request.method, request.path, type(e).__name__)
            resp = _error_response(ApiError(500, "Internal error in the emulator.", "internal"), google_style=is_models)
        entry["status"] = resp.status
        if isinstance(resp, web.Response) and resp.content_type == "application/json" and resp.body is not None:
            # Kept so tests can run the SDK's strict parser over every reply the emulator sent.
            entry["response"] = _parse_json(bytes(resp.body))  # type: ignore[arg-type]
        if self.config.log_requests:
            log.info("%s %s %s", request.method, request.path, resp.status)
        return resp

    # --- Interactions -------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.StreamResponse:
        body = _parse_json(await request.read())
        if body is None:
            raise bad("Invalid request body: expected a JSON object.")
        req = parse_create(body)
        if req.agent:
            self._check_agent(req)
        history: list[dict[str, Any]] = []
        if req.previous_interaction_id:
            prev = self.store.get(req.previous_interaction_id)
            if prev is None:
                raise ApiError(404, f"Interaction '{req.previous_interaction_id}' was not found.")
            if not prev.done:
                raise bad(f"Invalid 'previous_interaction_id': interaction is still {prev.status}.")
            history = self.store.history(req.previous_interaction_id)
        if req.model:
            signatures.check_history(req.model, req.input_steps, self.config.seed)
        _check_call_ids(history, req.input_steps)
        echo = dict(req.echo)
        if "response_format" in echo:
            echo["response_format"] = _normalized_response_format(req.response_format)
        rec = Record(
            id=new_id(),
            model=req.model,
            agent=req.agent,
            status="in_progress",
            input_raw=req.input_raw,
            input_steps=req.input_steps,
            previous_interaction_id=req.previous_interaction_id,
            echo=echo,
            stored=req.store,
            background=req.background,
        )
        if req.agent:
            sse.emit_start(rec)
            self.store.put(rec)
            rec.task = asyncio.create_task(self._run_research(rec, req, history))
        elif req.background:
            sse.emit_start(rec)
            self.store.put(rec)
            rec.task = asyncio.create_task(self._run_background_model(rec, req, history))
        else:
            sse.emit_start(rec)
            self._complete_model(rec, req, history)
            self.store.put(rec)
        if req.stream:
            return await self._stream(request, rec, 0)
        return web.json_response(rec.to_json(with_input_steps=False, include_input=False))

    def _check_agent(self, req: CreateRequest) -> None:
        # The name itself was checked against the catalog in wire.parse_create.
        if not req.background:
            raise bad("Agent interactions require 'background' to be true.")
        if not req.store:
            raise bad("Agent interactions require 'store' to be true.")
        # tools / response_format on an agent are accepted and ignored: the agent picks its own.

    def _complete_model(self, rec: Record, req: CreateRequest, history: list[dict[str, Any]]) -> None:
        """Run the offline model synchronously and finish the record (status, usage, events)."""
        schema = response_schema(req.response_format)
        choice = tool_choice(req.generation_config)
        inp = model.ModelInput(
            history=history,
            new_steps=req.input_steps,
            system_instruction=req.system_instruction,
            tools=_tools_for(req.tools, choice),
            response_schema=schema,
            generation_config=req.generation_config or {},
            seed=self.config.seed,
        )
        builtin = builtins.respond(inp.tools, req.input_steps) if schema is None else None
        result = model.ModelResult(builtin) if builtin else self.models.respond(inp)
        if choice.mode == "any" and schema is None and not any(s["type"] == "function_call" for s in result.steps):
            result = _forced_call(inp, result)
        gen = req.generation_config or {}
        steps = signatures.with_thoughts(
            req.model or "", result.steps, self.config.seed, think=signatures.thinks(req.model, gen)
        )
        rec.output_steps = steps
        # Usage reads the declared tools (what the request carried), not the tool-choice filtered set.
        declared = model.ModelInput(
            history=[], new_steps=[], system_instruction=req.system_instruction, tools=req.tools
        )
        preamble = model.preamble_text(declared)
        rec.usage = compute_usage(history=history, new_input=req.input_steps, preamble=preamble, output=steps)
        _set_thought_tokens(rec.usage, signatures.thought_tokens(req.model, gen, steps, rec.id))
        if builtin:
            # What the built-in tools read is billed as tool-use tokens (the usage docs).
            tool_use = sum(step_tokens(s, defaultdict(int)) for s in steps if s["type"].endswith("_result"))
            rec.usage["total_tool_use_tokens"] = tool_use
            rec.usage["total_tokens"] += tool_use
        cached = self.prefix_cache.hit(
            req.model or "",
            system_instruction=req.system_instruction,
            tools=req.tools,
            steps=[*history, *req.input_steps],
            minimum=catalog.cache_min_tokens(req.model),
        )
        _set_cached(rec.usage, cached)
        rec.touch(result.status)
        for i, step in enumerate(rec.output_steps):
            sse.emit_step(rec, i, step)
        if result.status != "in_progress":
            rec.emit({"event_type": "interaction.status_update", "interaction_id": rec.id, "status": rec.status})
        sse.emit_finish(rec)

    async def _run_background_model(self, rec: Record, req: CreateRequest, history: list[dict[str, Any]]) -> None:
        try:
            await asyncio.sleep(BACKGROUND_MODEL_SECONDS)
            self._complete_model(rec, req, history)
        except asyncio.CancelledError:
            self._mark_cancelled(rec)
            raise

    async def _run_research(self, rec: Record, req: CreateRequest, history: list[dict[str, Any]]) -> None:
        try:
            query = research.query_text(history, req.input_steps)
            plan = research.progress_notes(query)
            total = max(0.0, self.config.research_seconds)
            rec.emit({"event_type": "step.start", "index": 0, "step": {"type": "thought"}})
            summaries: list[dict[str, Any]] = []
            for note in plan:
                await asyncio.sleep(total / len(plan))
                block = {"type": "text", "text": note}
                summaries.append(block)
                rec.emit(
                    {"event_type": "step.delta", "index": 0, "delta": {"type": "thought_summary", "content": block}}
                )
                rec.touch()
            rec.emit({"event_type": "step.stop", "index": 0})
            thought = {"type": "thought", "summary": summaries}
            if self.config.fault_rate > 0 and self.research_rng.random() < self.config.fault_rate:
                rec.output_steps = [thought]
                rec.errors = [{"code": "unavailable", "message": "The research agent failed (injected fault)."}]
                rec.usage = compute_usage(history=history, new_input=req.input_steps, preamble="", output=[thought])
                rec.touch("failed")
                rec.emit({"event_type": "interaction.status_update", "interaction_id": rec.id, "status": "failed"})
                sse.emit_finish(rec)
                return
            report = research.build_report(query, seed=self.config.seed)
            output = {"type": "model_output", "content": [report]}
            rec.output_steps = [thought, output]
            rec.usage = compute_usage(history=history, new_input=req.input_steps, preamble="", output=rec.output_steps)
            rec.usage["total_tool_use_tokens"] = research.TOOL_USE_TOKENS
            rec.usage["total_tokens"] += research.TOOL_USE_TOKENS
            rec.touch("completed")
            sse.emit_step(rec, 1, output)
            rec.emit({"event_type": "interaction.status_update", "interaction_id": rec.id, "status": "completed"})
            sse.emit_finish(rec)
        except asyncio.CancelledError:
            self._mark_cancelled(rec)
            raise

    def _mark_cancelled(self, rec: Record) -> None:
        if rec.done and rec.status != "cancelled":
            return
        if rec.status != "cancelled":
            rec.touch("cancelled")
            rec.emit({"event_type": "interaction.status_update", "interaction_id": rec.id, "status": "cancelled"})
            sse.emit_finish(rec)

    def _lookup(self, request: web.Request) -> Record:
        iid = request.match_info["iid"]
        rec = self.store.get(iid)
        if rec is None:
            raise ApiError(404, f"Interaction '{iid}' was not found.")
        return rec

    async def get(self, request: web.Request) -> web.StreamResponse:
        rec = self._lookup(request)
        include_input = _query_bool(request, "include_input", False)
        if _query_bool(request, "stream", False):
            start = 0
            last = request.query.get("last_event_id")
            if last:
                ids = [e["event_id"] for e in rec.events]
                if last not in ids:
                    raise bad(f"Invalid value for 'last_event_id': unknown event id {last!r}.")
                start = ids.index(last) + 1
            return await self._stream(request, rec, start)
        if request.query.get("last_event_id"):
            raise bad("'last_event_id' can only be used when 'stream' is true.")
        return web.json_response(rec.to_json(with_input_steps=True, include_input=include_input))

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        rec = self._lookup(request)
        if not rec.background or rec.done:
            raise bad(f"Only background interactions that are still running can be cancelled (status: {rec.status}).")
        if rec.task is not None and not rec.task.done():
            rec.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rec.task
        self._mark_cancelled(rec)
        return web.json_response(rec.to_json(with_input_steps=False, include_input=False))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        rec = self._lookup(request)
        self.store.delete(rec.id)
        return web.json_response({})

    async def _stream(self, request: web.Request, rec: Record, start: int) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        self.streams_open += 1
        self.streams_total += 1
        self.streams_peak = max(self.streams_peak, self.streams_open)
        pace = self.config.chunk_ms / 1000
        log_events: list[dict[str, Any]] = request["log_entry"].setdefault("events", [])
        try:
            i = start
            while True:
                while i < len(rec.events):
                    ev = rec.events[i]
                    i += 1
                    if pace and ev.get("event_type") == "step.delta":
                        await asyncio.sleep(pace)
                    await resp.write(sse.frame(ev))
                    log_events.append(ev)
                    if ev.get("event_type") == "interaction.completed":
                        await resp.write_eof()
                        return resp
                waiter = rec.waiter()
                await waiter.wait()
        finally:
            self.streams_open -= 1

    # --- generateContent ----------------------------------------------------------------------
    async def models_call(self, request: web.Request) -> web.StreamResponse:
        target = request.match_info["target"]
        model_name, _, method = target.rpartition(":")
        if method not in ("generateContent", "streamGenerateContent") or not model_name:
            raise ApiError(404, f"Method '{method}' is not supported by the emulator.")
        body = _parse_json(await request.read())
        inp = gencontent.parse_request(body, seed=self.config.seed)
        result = model.generate(inp)
        usage = compute_usage(
            history=inp.history, new_input=inp.new_steps, preamble=model.preamble_text(inp), output=result.steps
        )
        # The same model thinks and caches on either API: thought tokens by level, and implicit caching
        # of the longest prefix shared with an earlier request (generateContent re-sends the history,
        # so its prefix is the instruction, the tools and every earlier turn).
        thinking = [{"type": "thought"}] if signatures.thinks(model_name, inp.generation_config) else []
        _set_thought_tokens(
            usage, signatures.thought_tokens(model_name, inp.generation_config, thinking, json.dumps(body)[:512])
        )
        cached = self.prefix_cache.hit(
            model_name,
            system_instruction=inp.system_instruction,
            tools=inp.tools,
            steps=[*inp.history, *inp.new_steps],
            minimum=catalog.cache_min_tokens(model_name),
        )
        _set_cached(usage, cached)
        if method == "generateContent":
            return web.json_response(gencontent.response(result, usage, model_name))
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        pace = self.config.chunk_ms / 1000
        chunks = request["log_entry"].setdefault("chunks", [])
        for chunk in gencontent.stream_chunks(result, usage, model_name):
            if pace:
                await asyncio.sleep(pace)
            await resp.write(sse.frame_data(chunk))
            chunks.append(chunk)
        await resp.write_eof()
        return resp

    # --- inspection ---------------------------------------------------------------------------
    async def inspect_requests(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(list(self.requests))

    async def inspect_reset(self, request: web.Request) -> web.StreamResponse:
        self.store.clear()
        self.prefix_cache.clear()
        self.models.scripted.clear()
        self.models.mode = self.config.model_mode
        self.requests.clear()
        self.streams_peak = self.streams_open
        self.streams_total = 0
        self.fault_rng = random.Random(self.config.seed)
        self.research_rng = random.Random(self.config.seed + 1)
        self.hangs.clear()
        return web.json_response({"ok": True})

    async def inspect_script(self, request: web.Request) -> web.StreamResponse:
        """Queue model replies (each a list of steps) for the next requests: the scripted model."""
        body = _parse_json(await request.read())
        replies = body.get("replies") if isinstance(body, dict) else None
        if not isinstance(replies, list) or not all(
            isinstance(r, list) and all(isinstance(s, dict) and isinstance(s.get("type"), str) for s in r)
            for r in replies
        ):
            raise bad("Expected {'replies': [[step, ...], ...]}.")
        self.models.scripted.push(replies)
        return web.json_response({"queued": len(self.models.scripted.queue)})

    async def inspect_mode(self, request: web.Request) -> web.StreamResponse:
        body = _parse_json(await request.read())
        mode = body.get("mode") if isinstance(body, dict) else None
        if mode not in MODES:
            raise bad(f"Expected {{'mode': one of {list(MODES)}}}.")
        self.models.mode = mode
        return web.json_response({"mode": mode})

    async def inspect_faults(self, request: web.Request) -> web.StreamResponse:
        """`{"hang": [30, 30]}`: the next two API requests each stall 30 s before being handled."""
        body = _parse_json(await request.read())
        hangs = body.get("hang") if isinstance(body, dict) else None
        if not isinstance(hangs, list) or not all(isinstance(h, int | float) and 0 <= h <= 600 for h in hangs):
            raise web.HTTPBadRequest(text='Expected {"hang": [seconds, ...]}, each between 0 and 600.')
        self.hangs.extend(float(h) for h in hangs)
        return web.json_response({"hang": list(self.hangs)})

    async def inspect_stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "stored": len(self.store),
                "streams_open": self.streams_open,
                "streams_peak": self.streams_peak,
                "streams_total": self.streams_total,
                "requests_logged": len(self.requests),
                "model_mode": self.models.mode,
            }
        )


def _tools_for(tools: list[dict[str, Any]], choice: Any) -> list[dict[str, Any]]:
    """The tools the model may call under `tool_choice` (docs: function calling modes)."""
    if choice.mode == "none":
        return [t for t in tools if t.get("type") != "function"]
    if choice.allowed is not None:
        return [t for t in tools if t.get("type") != "function" or t.get("name") in choice.allowed]
    return tools


def _forced_call(inp: model.ModelInput, result: model.ModelResult) -> model.ModelResult:
    """Mode "any": the model must call a function; fill the first allowed one's schema from the conversation."""
    functions = [t for t in inp.tools if t.get("type") == "function"]
    if not functions:
        return result
    tool = functions[0]
    filled = model.generate(
        model.ModelInput(
            history=inp.history,
            new_steps=inp.new_steps,
            system_instruction=inp.system_instruction,
            response_schema=tool.get("parameters") or {"type": "object"},
            seed=inp.seed,
        )
    )
    text = "".join(
        b.get("text", "") for s in filled.steps if s.get("type") == "model_output" for b in s.get("content", [])
    )
    try:
        arguments = json.loads(text)
    except ValueError:
        arguments = {}
    if not isinstance(arguments, dict):
        arguments = {}
    digest = hashlib.sha256(json.dumps([tool["name"], arguments, len(inp.history)], sort_keys=True).encode())
    call_id = f"call_{digest.hexdigest()[:16]}"
    call = {"type": "function_call", "id": call_id, "name": tool["name"], "arguments": arguments}
    return model.ModelResult([call], status="requires_action")


def _check_call_ids(history: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
    """A function_result must answer a call the model made in this conversation (docs: function calling)."""
    known = {s.get("id") for s in history if s.get("type") == "function_call"}
    for i, step in enumerate(steps):
        if step.get("type") == "function_call":
            known.add(step.get("id"))
        elif step.get("type") == "function_result" and step.get("call_id") not in known:
            raise bad(
                f"Invalid value at 'input[{i}].call_id': no function call with id {step.get('call_id')!r} "
                "in this conversation."
            )


def _set_thought_tokens(usage: dict[str, Any], thought: int) -> None:
    usage["total_tokens"] += thought - usage["total_thought_tokens"]
    usage["total_thought_tokens"] = thought


def _set_cached(usage: dict[str, Any], cached: int) -> None:
    usage["total_cached_tokens"] = cached
    usage["cached_tokens_by_modality"] = [{"modality": "text", "tokens": cached}] if cached else []


_NO_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def _has_credentials(request: web.Request) -> bool:
    auth = request.headers.get("Authorization", "")
    return bool(
        request.headers.get("x-goog-api-key", "").strip()
        or request.query.get("key", "").strip()
        or (auth.lower().startswith("bearer ") and auth[7:].strip())
    )


_FAULT_MESSAGES = {
    429: "Resource has been exhausted (injected fault).",
    503: "The service is currently unavailable (injected fault).",
}
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _error_response(e: ApiError, *, google_style: bool) -> web.Response:
    if google_style:  # generateContent speaks Google's classic error body
        body = {"error": {"code": e.status, "message": e.message, "status": _GOOGLE_STATUS.get(e.status, "UNKNOWN")}}
    else:
        body = e.body()
    return web.json_response(body, status=e.status)


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _query_bool(request: web.Request, key: str, default: bool) -> bool:
    v = request.query.get(key)
    if v is None:
        return default
    if v.lower() in ("true", "1"):
        return True
    if v.lower() in ("false", "0"):
        return False
    raise bad(f"Invalid value for '{key}': expected true or false.")


def _normalized_response_format(rf: Any) -> Any:
    """Echo response_format in the typed form the SDK's Interaction model parses."""
    items = rf if isinstance(rf, list) else [rf]
    out = []
    for item in items:
        if isinstance(item, dict) and is_typed_format(item):
            out.append(item)
        elif isinstance(item, dict):
            out.append({"type": "text", "mime_type": "application/json", "schema": item})
    return out if isinstance(rf, list) else (out[0] if out else None)


def raise_fd_limit() -> None:
    """Allow thousands of sockets: lift the soft open-files limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(config: EmulatorConfig) -> None:
    raise_fd_limit()
    emulator = Emulator(config)
    log.info("listening on http://%s:%s (seed=%s)", config.host, config.port, config.seed)
    web.run_app(
        emulator.app(),
        host=config.host,
        port=config.port,
        backlog=4096,
        shutdown_timeout=5.0,
        access_log=None,
        print=None,
        handle_signals=True,
    )
