"""Benchmark: N concurrent streaming creates against one emulator process.

    python -m gemini_emulator.bench [--n 1000] [--chunk-ms 50] [--url http://127.0.0.1:8765]

Without --url it starts its own emulator (`--quiet --chunk-ms ...`) on a free port. Every client
opens its stream at the same moment (a start barrier), reads SSE until `interaction.completed`,
and checks the event sequence. It prints how many completed, errors, latency percentiles, and the
peak number of streams the server held open at once (from /_emulator/stats).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gemini_emulator.server import raise_fd_limit

PATIENT_LINES = [
    "I have had a cough for {n} days and some fever.",
    "My name is Patient {n} and I take metformin 500 mg twice daily.",
    "I'm allergic to penicillin, it gives me hives (case {n}).",
    "Headache since Monday, about {k}/10.",
]


@dataclass
class Outcome:
    ok: bool
    ttfb: float = 0.0
    total: float = 0.0
    deltas: int = 0
    error: str = ""


@dataclass
class Tally:
    in_flight: int = 0
    peak: int = 0
    results: list[Outcome] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def one(session: aiohttp.ClientSession, url: str, i: int, start: asyncio.Event, tally: Tally) -> Outcome:
    body = {
        "model": "gemini-3-flash-preview",
        "input": PATIENT_LINES[i % len(PATIENT_LINES)].format(n=i, k=i % 10),
        "system_instruction": "Next: Ask which medications they take, with dose and how often.",
        "stream": True,
    }
    await start.wait()
    t0 = time.perf_counter()
    tally.in_flight += 1
    tally.peak = max(tally.peak, tally.in_flight)
    try:
        async with session.post(
            f"{url}/v1beta/interactions", json=body, headers={"Accept": "text/event-stream", "x-goog-api-key": "bench"}
        ) as resp:
            if resp.status != 200:
                return Outcome(False, error=f"HTTP {resp.status}")
            ttfb = 0.0
            kinds: list[str] = []
            buf = b""
            async for chunk in resp.content.iter_any():
                if not ttfb:
                    ttfb = time.perf_counter() - t0
                buf += chunk
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    for line in frame.split(b"\n"):
                        if line.startswith(b"data: "):
                            kinds.append(json.loads(line[6:])["event_type"])
            if not kinds or kinds[0] != "interaction.created" or kinds[-1] != "interaction.completed":
                return Outcome(False, error=f"bad sequence {kinds[:1]}..{kinds[-1:]}")
            if "error" in kinds:
                return Outcome(False, error="error event")
            return Outcome(True, ttfb=ttfb, total=time.perf_counter() - t0, deltas=kinds.count("step.delta"))
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as e:
        return Outcome(False, error=type(e).__name__ + ": " + str(e)[:80])
    finally:
        tally.in_flight -= 1


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def run(url: str, n: int, timeout: float) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    tally = Tally()
    start = asyncio.Event()
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(f"{url}/_emulator/reset") as r:
            r.raise_for_status()
        tasks = [asyncio.create_task(one(session, url, i, start, tally)) for i in range(n)]
        await asyncio.sleep(0.2)  # let every task reach the barrier
        t0 = time.perf_counter()
        start.set()
        results = await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
        async with session.get(f"{url}/_emulator/stats") as r:
            stats = await r.json()
    ok = [r for r in results if r.ok]
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            errors[r.error] = errors.get(r.error, 0) + 1
    return {
        "n": n,
        "completed": len(ok),
        "errors": errors,
        "wall_s": wall,
        "ttfb": [r.ttfb for r in ok],
        "total": [r.total for r in ok],
        "deltas": sum(r.deltas for r in ok),
        "client_peak": tally.peak,
        "server_peak": stats.get("streams_peak", 0),
    }


def report(res: dict[str, Any]) -> str:
    ttfb, total = res["ttfb"], res["total"]
    lines = [
        f"streaming creates: {res['completed']}/{res['n']} completed, {sum(res['errors'].values())} errors",
        f"wall time: {res['wall_s']:.2f} s  ({res['completed'] / res['wall_s']:.0f} streams/s, "
        f"{res['deltas']} text deltas)",
        f"peak concurrent streams: server {res['server_peak']}, client {res['client_peak']}",
        f"time to first byte: p50 {_pct(ttfb, 50) * 1000:.0f} ms, p95 {_pct(ttfb, 95) * 1000:.0f} ms, "
        f"max {max(ttfb, default=0) * 1000:.0f} ms",
        f"stream duration:    p50 {_pct(total, 50) * 1000:.0f} ms, p95 {_pct(total, 95) * 1000:.0f} ms, "
        f"max {max(total, default=0) * 1000:.0f} ms",
    ]
    if res["errors"]:
        lines.append("errors: " + json.dumps(res["errors"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gemini_emulator.bench", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1000, help="concurrent streaming creates")
    p.add_argument("--url", default="", help="an emulator that is already running (default: start one)")
    p.add_argument("--chunk-ms", type=int, default=50, help="delta pacing for the emulator this command starts")
    p.add_argument("--timeout", type=float, default=300.0)
    a = p.parse_args(argv)
    raise_fd_limit()
    proc = None
    url = a.url.rstrip("/")
    if not url:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "gemini_emulator", "--port", str(port), "--quiet", "--chunk-ms", str(a.chunk_ms)]
        proc = subprocess.Popen(cmd)  # noqa: S603 (our own interpreter and module)
        _wait(url)
    try:
        res = asyncio.run(run(url, a.n, a.timeout))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"emulator bench: n={a.n} url={url} chunk_ms={a.chunk_ms if proc else 'server default'}")
    print(report(res))
    return 0 if res["completed"] == a.n else 1


def _wait(url: str, timeout: float = 20.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=2):  # noqa: S310 (local http)
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"emulator at {url} did not start")


if __name__ == "__main__":
    raise SystemExit(main())
