"""Real parts for research job tests: a Gemini emulator process, a dedicated Redis db, and real
`celery worker` processes pointed at the test database.

The worker is a separate process, so it must see what the test wrote: worker tests use
`transactional_db` (rows are committed) and the worker gets the test database's NAME through
DATABASE_URL. On SQLite the test database is a file (settings put it under var/), never :memory:.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
from django.conf import settings
from django.db import connection, connections

BASE_DIR = Path(settings.BASE_DIR)
LOG_DIR = BASE_DIR / "var" / "test-logs"
# A Redis db of their own, so test workers never take a dev worker's messages (or give it theirs).
TEST_REDIS_DB = int(os.environ.get("RESEARCH_TEST_REDIS_DB", "5"))
RESEARCH_SECONDS = 1.0

# The worker opens the test database by name, so on SQLite it must be a file. One per test run:
# another run in the same checkout (a teammate's, an editor's) recreating a shared file under a
# live worker gives "disk I/O error". Set before pytest-django creates the test database.
_sqlite = connections["default"].settings_dict
if _sqlite["ENGINE"] == "django.db.backends.sqlite3":
    _sqlite.setdefault("TEST", {})["NAME"] = str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "") -> Any:
    """Poll until predicate() is truthy. A bounded wait, not a timed assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


# --- Emulator ---------------------------------------------------------------------------------------


@dataclass
class ResearchEmulator:
    base_url: str
    process: subprocess.Popen[bytes]

    def _call(self, method: str, path: str) -> Any:
        response = httpx.request(method, self.base_url + path, timeout=10)
        response.raise_for_status()
        return response.json()

    def requests(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_emulator/requests"))

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def creates(self, *, agent: bool) -> list[dict[str, Any]]:
        """POST /interactions bodies: research (agent) creates or model creates."""
        bodies = []
        for entry in self.requests():
            if entry.get("method") != "POST" or not str(entry.get("path", "")).endswith("/interactions"):
                continue
            body = entry.get("body")
            if isinstance(body, str | bytes):
                try:
                    body = json.loads(body or "{}")
                except ValueError:
                    body = {}
            if bool((body or {}).get("agent")) == agent:
                bodies.append(body or {})
        return bodies


@pytest.fixture(scope="session")
def research_emulator() -> Iterator[ResearchEmulator]:
    """An emulator of our own, whose research agent finishes in about a second."""
    port = _free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / "research-emulator.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            os.environ.get("RESEARCH_TEST_EMULATOR_MODULE", "gemini_emulator"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--research-seconds",
            str(RESEARCH_SECONDS),
            "--quiet",
        ],
        cwd=BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    emulator = ResearchEmulator(base_url=f"http://127.0.0.1:{port}", process=process)

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"emulator exited; see {log.name}")
        with contextlib.suppress(httpx.HTTPError):
            emulator.requests()
            return True
        return False

    try:
        wait_for(up, timeout=90, what="the emulator to listen")  # 20 s was too short on a loaded 2-core machine
        yield emulator
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
        log.close()


# --- Broker ----------------------------------------------------------------------------------------


def _test_broker_url() -> str:
    parts = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunsplit((parts.scheme, parts.netloc, f"/{TEST_REDIS_DB}", "", ""))


@dataclass(frozen=True)
class TestBroker:
    url: str
    # Every key of this test's queues starts with it, so concurrent test runs sharing the Redis
    # db never take (or flush) each other's messages.
    keyprefix: str

    def queue_length(self, queue: str = "celery") -> int:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return int(client.llen(self.keyprefix + queue))
        finally:
            client.close()

    def clear(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            for key in client.scan_iter(match=self.keyprefix + "*", count=500):
                client.delete(key)
        finally:
            client.close()


@pytest.fixture
def test_broker() -> Iterator[TestBroker]:
    """Point this process's Celery producer at the test Redis db under a fresh key prefix."""
    from intake.celery import app

    broker = TestBroker(url=_test_broker_url(), keyprefix=f"research-test-{uuid.uuid4().hex[:10]}:")
    previous_url, previous_options = app.conf.broker_url, dict(app.conf.broker_transport_options or {})

    def switch(url: str, options: dict[str, Any]) -> None:
        app.conf.broker_url = url
        app.conf.broker_transport_options = options
        # Pools made for the old URL are cached; forget them (not close: kombu shares them) so the
        # next send connects with the new URL and prefix.
        app._pool = None
        app.amqp._producer_pool = None

    switch(broker.url, {**previous_options, "global_keyprefix": broker.keyprefix})
    try:
        yield broker
    finally:
        switch(previous_url, previous_options)
        broker.clear()


# --- Worker ----------------------------------------------------------------------------------------


def _worker_database_url() -> str:
    """The test database (already created by pytest-django) as a DATABASE_URL."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("worker tests need a file SQLite test database (TEST NAME in settings)")
        return f"sqlite:///{Path(name).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = quote(str(db.get("USER") or ""), safe="")
        password = quote(str(db.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{db['NAME']}"
    raise RuntimeError(f"no worker DATABASE_URL for {db['ENGINE']}")


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the main process and its prefork children)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class WorkerFactory:
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)

    def start(self, *, concurrency: int = 2) -> Worker:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        name = f"research-test-{uuid.uuid4().hex[:8]}"
        log_path = LOG_DIR / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "intake",
                "worker",
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "-l",
                "INFO",
                "-n",
                f"{name}@%h",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill reaches the children too
        )
        log.close()
        worker = Worker(process=process, log_path=log_path)
        self.workers.append(worker)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"celery worker exited:\n{worker.log_tail()}")
            return "ready." in log_path.read_text(errors="replace")

        wait_for(ready, timeout=60, what="the celery worker to be ready")
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.kill(signal.SIGTERM)


@pytest.fixture
def celery_workers(
    transactional_db: None, research_emulator: ResearchEmulator, test_broker: TestBroker
) -> Iterator[WorkerFactory]:
    """Starts real `celery -A intake worker` processes on demand; stops them after the test."""
    research_emulator.reset()
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "intake.settings",
            "DATABASE_URL": _worker_database_url(),
            "CELERY_BROKER_URL": test_broker.url,
            "CELERY_BROKER_KEYPREFIX": test_broker.keyprefix,
            "GEMINI_BASE_URL": research_emulator.base_url,
            "GEMINI_API_KEY": "test-fake-key",
            "GEMINI_RETRY_ATTEMPTS": "1",
            "RESEARCH_POLL_INITIAL_SECONDS": "0.5",
            "RESEARCH_POLL_MAX_SECONDS": "2",
            # A poll killed mid-call holds the job this long; emulator calls take milliseconds.
            "RESEARCH_CALL_LEASE_SECONDS": "3",
            "DEBUG": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    factory = WorkerFactory(env=env)
    try:
        yield factory
    finally:
        # Stopped before pytest-django flushes (or drops) the test database they hold open.
        factory.stop_all()
