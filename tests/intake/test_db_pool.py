"""Out of database connections: the chat answers 503 with a friendly message, never 500; and
streamed turns hold no connection while the model answers, so more patients than connections can wait.

On PostgreSQL with the psycopg pool (settings.DATABASES), e.g.
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/h13_db`. The tests shrink the pool (and its wait)
themselves, or borrow every free connection, so the app's next request finds none.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connection, connections
from django.test import AsyncClient
from psycopg_pool import PoolTimeout

from intake.busy import BUSY_DETAIL
from intake.models import IntakeTurn
from patients.db import connections_release

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "pool" not in connection.settings_dict.get("OPTIONS", {}), reason="the connection pool is PostgreSQL-only"
    ),
]


@pytest.fixture(autouse=True)
async def _release_after() -> AsyncIterator[None]:
    yield
    # What request_finished does under uvicorn (the test client leaves it out): a connection left
    # lent out would keep the test database from being dropped.
    await sync_to_async(connections_release)()


def _new_intakes(count: int = 1) -> list[tuple[int, str]]:
    from intake.services import intake_start
    from patients.demo import demo_files
    from tests.intake.conftest import patient_from_bundle

    intakes = []
    for path in demo_files()[:count]:
        session, token = intake_start(patient=patient_from_bundle(path))
        intakes.append((session.pk, token))
    return intakes


async def _send(intake_id: int, token: str, text: str) -> Any:
    return await AsyncClient().post(
        f"/api/v1/intakes/{intake_id}/messages/stream",
        data=json.dumps({"text": text}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def _pool() -> Any:
    connections_release()  # this thread's own connection goes back first
    return connection.pool


@asynccontextmanager
async def pool_drained() -> AsyncIterator[None]:
    pool = await sync_to_async(_pool)()
    timeout, pool.timeout = pool.timeout, 1  # the app's wait for a free connection, shortened for the test
    held = []
    while len(held) < pool.max_size:  # whatever is free (the test runner may hold one itself)
        try:
            held.append(pool.getconn(timeout=0.2))
        except PoolTimeout:
            break
    try:
        yield
    finally:
        for conn in held:
            pool.putconn(conn)
        pool.timeout = timeout


def _turns(intake_id: int) -> int:
    return IntakeTurn.objects.filter(session_id=intake_id).count()


async def test_no_free_connection_answers_503_and_the_message_can_be_sent_again(use_emulator: Any) -> None:
    [(intake_id, token)] = await sync_to_async(_new_intakes)()
    turns = await sync_to_async(_turns)(intake_id)
    async with pool_drained():
        refused = await _send(intake_id, token, "I have had a cough for a week.")
    assert refused.status_code == 503
    assert json.loads(refused.content) == {"detail": BUSY_DETAIL}
    assert int(refused["Retry-After"]) > 0
    assert await sync_to_async(_turns)(intake_id) == turns  # nothing half-stored
    again = await _send(intake_id, token, "I have had a cough for a week.")
    assert again.status_code == 200
    assert b"event: done" in b"".join([chunk async for chunk in again.streaming_content])


async def _turn_in_own_thread(intake_id: int, token: str) -> tuple[int, bytes]:
    # As under uvicorn: ASGIHandler gives each request its own thread for sync work, and with it
    # its own database connection.
    async with ThreadSensitiveContext():
        response = await _send(intake_id, token, "Hello, I have a cough.")
        body = (
            response.content
            if response.status_code != 200
            else b"".join([chunk async for chunk in response.streaming_content])
        )
        # What request_finished does under uvicorn (the test client leaves it out).
        await sync_to_async(connections_release)()
        return response.status_code, body


async def test_more_patients_than_connections_wait_on_the_model_together(use_emulator: Any) -> None:
    import httpx

    pool = await sync_to_async(_pool)()
    sizes, timeout = (pool.min_size, pool.max_size), pool.timeout
    pool.resize(min_size=1, max_size=2)  # a tiny pool, whatever DB_POOL_MAX says
    pool.timeout = 1
    patients = 3
    intakes = await sync_to_async(_new_intakes)(patients)
    assert len(intakes) == patients
    # Each model call stalls 1.5 s: longer than the pool's 1 s wait, so a turn that kept its
    # connection through the call would starve the others into 503s.
    httpx.post(f"{use_emulator.base_url}/_emulator/faults", json={"hang": [1.5] * patients}).raise_for_status()
    try:
        results = await asyncio.gather(*(_turn_in_own_thread(i, t) for i, t in intakes))
    finally:
        pool.resize(min_size=sizes[0], max_size=sizes[1])
        pool.timeout = timeout
    assert [status for status, _ in results] == [200] * patients, results
    assert all(b"event: done" in body for _, body in results)


def _held_here() -> list[str]:
    """The database aliases this thread still holds a connection for."""
    return [conn.alias for conn in connections.all(initialized_only=True) if conn.connection is not None]


async def _request_in_own_thread(send: Any) -> tuple[int, bytes, list[str]]:
    # As under uvicorn: one thread per request for its sync work. What that thread still holds once
    # the response has ended is what a connection left checked out looks like: request_finished
    # (which the test clients leave out) is then the only thing between it and a lost connection.
    async with ThreadSensitiveContext():
        response = await send()
        if response.streaming:
            chunks = []
            async for chunk in response.streaming_content:
                chunks.append(chunk)
            body = b"".join(chunks)
        else:
            body = response.content
        held = await sync_to_async(_held_here)()
        await sync_to_async(connections_release)()
        return response.status_code, body, held


def _to_review(intake_id: int) -> None:
    from intake.models import IntakeSession

    IntakeSession.objects.filter(pk=intake_id).update(status=IntakeSession.Status.REVIEW)


@pytest.mark.parametrize(
    ("path", "text", "model_up", "status"),
    [
        ("messages/stream", "I have had a cough for a week.", True, 200),
        ("messages", "I have had a cough for a week.", True, 200),
        ("messages", "My face is drooping on one side and my speech is slurred", False, 200),
        ("messages", "I have had a cough for a week.", False, 503),
        ("messages/stream", "I have had a cough for a week.", False, 200),
        ("complete", "", True, 200),
    ],
    ids=["streamed", "answered", "red-flag-model-down", "model-down", "streamed-model-down", "complete"],
)
async def test_a_request_gives_its_connection_back_on_every_path(
    use_emulator: Any, settings: Any, path: str, text: str, model_up: bool, status: int
) -> None:
    from tests.patients.conftest import closed_port

    [(intake_id, token)] = await sync_to_async(_new_intakes)()
    if path == "complete":
        await sync_to_async(_to_review)(intake_id)
    if not model_up:
        settings.GEMINI_BASE_URL = f"http://127.0.0.1:{closed_port()}"

    async def send() -> Any:
        return await AsyncClient().post(
            f"/api/v1/intakes/{intake_id}/{path}",
            data=json.dumps({"text": text} if text else {}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    code, body, held = await _request_in_own_thread(send)
    assert code == status, body
    assert held == [], "a connection outlived its batch of database work"
