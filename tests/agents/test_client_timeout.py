"""A hung model call is retried within the chat budget: a reply, or a clear error, in time.

Uses the emulator's `/_emulator/faults` hang control, so the real SDK really times out.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from agents import client

MODEL = "gemini-3-flash-preview"


@pytest.fixture
def short_budget(use_emulator: Any, settings: Any) -> Any:
    # The default budget is 15 s with 7 s attempts; scaled down so the test stays quick.
    settings.GEMINI_CHAT_BUDGET_SECONDS = 3
    settings.GEMINI_CHAT_ATTEMPT_SECONDS = 1
    return use_emulator


def _hang(emulator: Any, *seconds: float) -> None:
    httpx.post(f"{emulator.base_url}/_emulator/faults", json={"hang": list(seconds)}, timeout=5).raise_for_status()


def _creates(emulator: Any) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/interactions"))


async def test_a_hung_stream_is_retried_and_the_patient_gets_a_reply(short_budget: Any) -> None:
    _hang(short_budget, 30)
    started = time.monotonic()
    text, result = "", None
    async for event in client.ainteraction_stream(model=MODEL, input="I have a sore throat."):
        text += event.text
        result = event.result or result
    elapsed = time.monotonic() - started
    assert result is not None and result.status == "completed"
    assert text and text == result.text
    assert _creates(short_budget) == 2, "one hung attempt, then one that answered"
    assert elapsed < 3, f"took {elapsed:.1f} s, past the 3 s budget"


async def test_a_model_that_keeps_hanging_fails_within_the_budget(short_budget: Any) -> None:
    _hang(short_budget, 30, 30, 30, 30, 30, 30)
    started = time.monotonic()
    with pytest.raises(client.LlmError) as caught:
        async for _ in client.ainteraction_stream(model=MODEL, input="I have a sore throat."):
            pass
    elapsed = time.monotonic() - started
    assert not caught.value.permanent and "in time" in str(caught.value)
    assert 2 <= _creates(short_budget) <= 4
    assert elapsed < 3 + 1, f"the patient waited {elapsed:.1f} s for an error, past the 3 s budget"


async def test_create_with_a_deadline_retries_a_hung_call(short_budget: Any) -> None:
    _hang(short_budget, 30)
    result = await client.ainteraction_create(model=MODEL, input="Hello", deadline=client.chat_deadline())
    assert result.status == "completed" and result.text
    assert _creates(short_budget) == 2


async def test_the_default_budget_answers_within_15_seconds(settings: Any) -> None:
    # The promise, as configuration: attempts fit in the budget, and the budget is 15 s.
    assert settings.GEMINI_CHAT_BUDGET_SECONDS <= 15
    assert 2 * settings.GEMINI_CHAT_ATTEMPT_SECONDS <= settings.GEMINI_CHAT_BUDGET_SECONDS


@pytest.fixture
async def stalling_server(settings: Any) -> Any:
    """A model endpoint that starts a stream (headers and `interaction.created`), then says nothing more:
    the SDK has returned, so the stall surfaces while the app reads the lines itself."""
    from aiohttp import web

    posts: list[float] = []

    async def interactions(request: web.Request) -> web.StreamResponse:
        posts.append(time.monotonic())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        created = {"event_type": "interaction.created", "interaction": {"id": "v1_stall", "status": "in_progress"}}
        await response.write(f"event: interaction.created\ndata: {json.dumps(created)}\n\n".encode())
        await asyncio.sleep(30)
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", interactions)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings.GEMINI_BASE_URL = f"http://127.0.0.1:{port}"
    settings.GEMINI_API_KEY = "stall-test-key"
    settings.GEMINI_CHAT_BUDGET_SECONDS = 3
    settings.GEMINI_CHAT_ATTEMPT_SECONDS = 1
    settings.GEMINI_RETRY_ATTEMPTS = 1
    yield posts
    await runner.cleanup()


async def test_a_stream_that_stalls_after_it_started_fails_within_the_budget(stalling_server: list[float]) -> None:
    # Before: the transport's own ReadTimeout escaped the client (the patient's request died with a 500
    # mid-stream). Now it is an LlmError like any other timeout, retried while the budget lasts.
    started = time.monotonic()
    with pytest.raises(client.LlmError) as caught:
        async for _ in client.ainteraction_stream(model=MODEL, input="I have a sore throat."):
            pass
    elapsed = time.monotonic() - started
    assert not caught.value.permanent and "in time" in str(caught.value)
    assert len(stalling_server) >= 2, "a stalled attempt is retried within the budget"
    assert elapsed < 3 + 1, f"the patient waited {elapsed:.1f} s for an error, past the 3 s budget"


async def test_many_replies_can_stream_at_once(settings: Any) -> None:
    # httpx's default pool (100 connections) made the 101st concurrent reply wait until it timed out.
    settings.GEMINI_MAX_CONNECTIONS = 1234
    sdk_client = client._client(for_async=True)
    pool = sdk_client.aio._api_client._async_httpx_client._transport._pool
    assert pool._max_connections == 1234
