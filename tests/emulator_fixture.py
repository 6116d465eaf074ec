"""Pytest plugin: runs the Gemini Interactions emulator for the test session.

Fixtures:
- `emulator` (session): an `EmulatorHandle` with `.base_url`, `.requests()`, `.reset()`.
- `emulator_client` (function): a real `genai.Client` pointed at it (fake key, one attempt).
- `use_emulator` (function): resets the emulator and points Django settings at it.

The research agent's duration is 2 s by default; override it with the `emulator_options` fixture
or the `EMULATOR_RESEARCH_SECONDS` environment variable.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE_KEY = "test-fake-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorHandle:
    """A running `python -m gemini_emulator` subprocess."""

    def __init__(self, *, research_seconds: float = 2, seed: int = 7, extra_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "gemini_emulator",
            "--port",
            str(self.port),
            "--research-seconds",
            str(research_seconds),
            "--seed",
            str(seed),
            *extra_args,
        ]
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90.0) -> None:  # a loaded 2-core machine takes 20 s and more
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited early:\n{self.output()}")
            try:
                self._call("GET", "/_emulator/stats")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        output = self.output()  # read before stop() closes the log
        self.stop()
        raise RuntimeError(f"emulator did not answer within {timeout}s:\n{output}")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base_url + path  # always http://127.0.0.1
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(url, method=method, data=data)  # noqa: S310
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return json.loads(resp.read() or b"null")

    def requests(self) -> list[dict[str, Any]]:
        """Recent API requests: method, path, query, bytes, body (parsed JSON), status, response."""
        return list(self._call("GET", "/_emulator/requests"))

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def script(self, replies: list[list[dict[str, Any]]]) -> None:
        """Queue scripted model replies (each a list of steps) for the next requests."""
        self._call("POST", "/_emulator/script", {"replies": replies})

    def set_mode(self, mode: str) -> None:
        """Switch the model plug-in (general, realistic, scripted) until the next reset."""
        self._call("POST", "/_emulator/mode", {"mode": mode})

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_emulator/stats"))

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def emulator_options() -> dict[str, Any]:
    """Override in a conftest to change how the session emulator is started."""
    return {"research_seconds": float(os.environ.get("EMULATOR_RESEARCH_SECONDS", "2")), "seed": 7}


@pytest.fixture(scope="session")
def emulator(emulator_options: dict[str, Any]) -> Iterator[EmulatorHandle]:
    handle = EmulatorHandle(**emulator_options)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def emulator_client(emulator: EmulatorHandle) -> Any:
    from google import genai
    from google.genai import types

    return genai.Client(
        api_key=FAKE_KEY,
        http_options=types.HttpOptions(base_url=emulator.base_url, retry_options=types.HttpRetryOptions(attempts=1)),
    )


@pytest.fixture
def use_emulator(emulator: EmulatorHandle, settings: Any) -> EmulatorHandle:
    emulator.reset()
    settings.GEMINI_BASE_URL = emulator.base_url
    settings.GEMINI_API_KEY = FAKE_KEY
    return emulator
