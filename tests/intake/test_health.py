"""GET /healthz: 200 naming each part when all are reachable, 503 naming the part that is not."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """The configured Redis if it answers (CI starts one), else a throwaway redis-server."""
    from django.conf import settings

    if _redis_answers(settings.REDIS_URL):
        yield settings.REDIS_URL
        return
    if not shutil.which("redis-server"):
        pytest.skip("no Redis answers at REDIS_URL and redis-server is not installed")
    port = _closed_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(50):
            if _redis_answers(url):
                break
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=5)


class _Any200(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)  # like the real API's root: any HTTP answer means reachable
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def gemini_url() -> Iterator[str]:
    """A stand-in HTTP endpoint so the test does not depend on the emulator process."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Any200)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def healthy(settings, redis_url: str, gemini_url: str) -> None:
    settings.REDIS_URL = redis_url
    settings.GEMINI_BASE_URL = gemini_url


@pytest.mark.usefixtures("healthy")
def test_healthz_is_200_and_names_each_part(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "gemini": "ok", "ok": True, "failing": []}


@pytest.mark.usefixtures("healthy")
def test_healthz_is_503_naming_redis_when_it_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"] and body["ok"] is False
    assert body["redis"].startswith("unreachable") and body["database"] == "ok" and body["gemini"] == "ok"


@pytest.mark.usefixtures("healthy")
def test_healthz_is_503_naming_gemini_when_it_is_unreachable(client, settings):
    settings.GEMINI_BASE_URL = f"http://127.0.0.1:{_closed_port()}"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["gemini"]
    assert body["gemini"].startswith("unreachable") and body["redis"] == "ok"


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
