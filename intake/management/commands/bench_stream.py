"""`make bench-stream`: N patients send their first message at once, through the real app.

Starts the Gemini emulator with realistic latency (1 s to the first byte, 100 ms per streamed chunk)
and uvicorn (1 or 2 workers) on PostgreSQL, creates fresh intakes, then N raw asyncio clients each
POST /api/v1/intakes/{id}/messages/stream with arrivals spread evenly over 5 s. For each (workers, N)
it prints the time to first streamed text (p50/p95/max), the same turn for one patient alone (the
median of three solo turns in the same run), "added by load" (p95 at N minus alone), total time,
errors, web CPU seconds per turn (from /proc/<pid>/stat), peak RSS per worker (VmHWM) and, measured
once in-process, database queries per turn. A benchmark, not a test: see docs/benchmarks/stream.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.db.backends.signals import connection_created

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = "/api/v1/intakes/{id}/messages/stream"
MESSAGE = "Hi, I have had a bad cough for a week and now a fever."


_PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "0"))  # 0: any free port; else the first of a range
_ports_used: set[int] = set()


def _free_port() -> int:
    """A free local port: any, or the next free one from BENCH_PORT_BASE (shared machines)."""
    candidates = range(_PORT_BASE, _PORT_BASE + 100) if _PORT_BASE else [0]
    for candidate in candidates:
        if candidate in _ports_used:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port = int(sock.getsockname()[1])
            if _PORT_BASE:
                _ports_used.add(port)
            return port
    raise CommandError(f"No free port in {_PORT_BASE}-{_PORT_BASE + 99}")


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (always http://127.0.0.1)
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise CommandError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.1)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids += [int(p) for p in fh.read().split()]
    return kids


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, and kill if a loaded emulator has not finished within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


@dataclass
class Turn:
    first_text: float | None = None  # seconds from sending to the first text delta
    total: float | None = None
    error: str = ""


@dataclass
class RunResult:
    workers: int
    n: int
    alone_s: float
    p50_s: float
    p95_s: float
    max_s: float
    added_by_load_ms: float
    total_s: float
    errors: int
    cpu_ms_per_turn: float
    peak_rss_mb: float
    emulator_cpu_ms_per_turn: float = float("nan")  # the model stand-in shares the same cores
    error_kinds: dict[str, int] = field(default_factory=dict)


async def _one_turn(session: aiohttp.ClientSession, base: str, intake_id: int, token: str) -> Turn:
    turn = Turn()
    started = time.monotonic()
    try:
        async with session.post(
            base + PAGE.format(id=intake_id),
            data=json.dumps({"text": MESSAGE}),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-Forwarded-Proto": "https",
            },
        ) as response:
            if response.status != 200:
                turn.error = f"HTTP {response.status}"
                await response.read()
                return turn
            done = False
            async for line in response.content:
                if line.startswith(b"event: delta") and turn.first_text is None:
                    turn.first_text = time.monotonic() - started
                elif line.startswith(b"event: error"):
                    turn.error = "error event"
                elif line.startswith(b"event: done"):
                    done = True
            turn.total = time.monotonic() - started
            if not done and not turn.error:
                turn.error = "no done event"
    except (aiohttp.ClientError, TimeoutError) as exc:
        turn.error = type(exc).__name__
    return turn


async def _load(base: str, intakes: list[tuple[int, str]], spread_s: float) -> tuple[list[Turn], float]:
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.monotonic()

        async def arrive(i: int, intake: tuple[int, str]) -> Turn:
            await asyncio.sleep(spread_s * i / max(1, len(intakes)))
            return await _one_turn(session, base, *intake)

        turns = await asyncio.gather(*(arrive(i, intake) for i, intake in enumerate(intakes)))
        return list(turns), time.monotonic() - started


def _intakes_create(count: int) -> list[tuple[int, str]]:
    from intake.services import intake_start
    from patients.models import Patient

    # A demo patient with a chart (seed_demo), so the turn includes its chart hop, as in the clinic.
    patient = Patient.objects.exclude(fhir_patient_id="").order_by("pk").first()
    if patient is None:
        raise CommandError("No demo patient with a chart: seed_demo did not create one.")
    intakes = []
    for _ in range(count):
        session, token = intake_start(patient=patient)
        intakes.append((session.pk, token))
    return intakes


class Command(BaseCommand):
    help = "N concurrent patients stream their first message through uvicorn on PostgreSQL (a benchmark)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--n", type=int, nargs="+", default=[1, 100, 500, 1000])
        parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
        parser.add_argument("--spread", type=float, default=5.0, help="arrivals spread over this many seconds")
        parser.add_argument("--latency-ms", type=int, default=1000)
        parser.add_argument("--chunk-ms", type=int, default=100)
        parser.add_argument("--pool-max", type=int, default=10, help="DB_POOL_MAX per web worker")
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "benchmarks"))

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if connection.vendor != "postgresql":
            raise CommandError("Run on PostgreSQL: DATABASE_URL=postgres://.../intake_bench (make bench-stream).")
        _database_ensure(connection.settings_dict)
        call_command("migrate", verbosity=0)
        call_command("seed_demo", verbosity=0)
        queries = _queries_per_turn()
        self.stdout.write(f"queries per turn (in-process, one turn): {queries}")
        emulator_port = _free_port()
        emulator = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gemini_emulator",
                "--port",
                str(emulator_port),
                "--latency-ms",
                str(options["latency_ms"]),
                "--chunk-ms",
                str(options["chunk_ms"]),
                "--quiet",
            ],
            cwd=settings.BASE_DIR,
        )
        results: list[RunResult] = []
        try:
            _wait_http(f"http://127.0.0.1:{emulator_port}/_emulator/stats")
            header = (
                f"{'workers':>7} {'N':>5} {'alone s':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7} "
                f"{'added ms':>9} {'total s':>8} {'errors':>6} {'CPU ms/turn':>11} {'peak RSS MB':>11} {'emu CPU':>9}"
            )
            self.stdout.write(header)
            for workers in options["workers"]:
                for n in options["n"]:
                    result = self._run(
                        workers=workers,
                        n=n,
                        emulator_port=emulator_port,
                        spread=options["spread"],
                        pool_max=options["pool_max"],
                        emulator_pid=emulator.pid,
                    )
                    results.append(result)
                    self.stdout.write(
                        f"{workers:>7} {n:>5} {result.alone_s:>8.2f} {result.p50_s:>7.2f} {result.p95_s:>7.2f} "
                        f"{result.max_s:>7.2f} {result.added_by_load_ms:>9.0f} {result.total_s:>8.1f} "
                        f"{result.errors:>6} {result.cpu_ms_per_turn:>11.1f} {result.peak_rss_mb:>11.0f}"
                        f" {result.emulator_cpu_ms_per_turn:>9.1f}"
                        + (f"  {result.error_kinds}" if result.error_kinds else "")
                    )
        finally:
            _stop(emulator)
        report = {
            "options": {k: options[k] for k in ("n", "workers", "spread", "latency_ms", "chunk_ms", "pool_max")},
            "queries_per_turn": queries,
            "cpus": os.cpu_count(),
            "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
            "results": [asdict(r) for r in results],
        }
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "stream.json").write_text(json.dumps(report, indent=2) + "\n")
        try:
            _chart(report, out / "stream.png")
        except ImportError:
            self.stderr.write("matplotlib is not installed (requirements-dev.txt): no chart written.")
        self.stdout.write(f"Wrote {out / 'stream.json'} and {out / 'stream.png'}")

    def _run(
        self, *, workers: int, n: int, emulator_port: int, spread: float, pool_max: int, emulator_pid: int
    ) -> RunResult:
        intakes = _intakes_create(n + 4)  # one warm-up and three solo turns, then the N
        connections.close_all()
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "DB_POOL_MAX": str(pool_max),
            "DB_POOL_MIN": "2",
            "GEMINI_BASE_URL": f"http://127.0.0.1:{emulator_port}",
            "GEMINI_API_KEY": "bench-fake-key",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # As behind the TLS-terminating proxy of production: the clients say the request was HTTPS.
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        }
        cmd = [sys.executable, "-m", "uvicorn", "intake.asgi:application", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--no-access-log", "--log-level", "warning", "--loop", "uvloop"]
        cmd += ["--http", "httptools", "--timeout-keep-alive", "30"]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        web = subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=env, start_new_session=True)  # noqa: S603
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_http(base + "/healthz", timeout=180)  # imports take long on a busy machine
            pids = _children(web.pid) if workers > 1 else [web.pid]
            warm, solo, load = intakes[0], intakes[1:4], intakes[4:]
            asyncio.run(_load(base, [warm], 0))  # the process's first turn pays its imports and caches
            alone = [t.first_text for t in (asyncio.run(_load(base, [s], 0))[0][0] for s in solo) if t.first_text]
            cpu_before = sum(_cpu_seconds(p) for p in pids)
            emulator_before = _cpu_seconds(emulator_pid)
            turns, total = asyncio.run(_load(base, load, spread))
            cpu = sum(_cpu_seconds(p) for p in pids) - cpu_before
            emulator_cpu = _cpu_seconds(emulator_pid) - emulator_before
            rss = max(_peak_rss_mb(p) for p in pids)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)
        firsts = [t.first_text for t in turns if t.first_text is not None and not t.error]
        kinds: dict[str, int] = {}
        for t in turns:
            if t.error:
                kinds[t.error] = kinds.get(t.error, 0) + 1
        alone_s = statistics.median(alone) if alone else float("nan")
        p95 = _percentile(firsts, 95)
        return RunResult(
            workers=workers,
            n=n,
            alone_s=alone_s,
            p50_s=_percentile(firsts, 50),
            p95_s=p95,
            max_s=max(firsts) if firsts else float("nan"),
            added_by_load_ms=(p95 - alone_s) * 1000,
            total_s=total,
            errors=sum(kinds.values()),
            cpu_ms_per_turn=cpu / max(1, n) * 1000,
            peak_rss_mb=rss,
            error_kinds=kinds,
            emulator_cpu_ms_per_turn=emulator_cpu / max(1, n) * 1000,
        )


def _database_ensure(db: dict[str, Any]) -> None:
    """Create the benchmark's own database if it does not exist yet."""
    import psycopg

    params = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or 5432, "user": db.get("USER")}
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(db["NAME"])))


def _queries_per_turn() -> int:
    """One streamed turn in this process (through the emulator, no latency), counting every query on
    every thread's connection."""
    from django.test import AsyncClient

    count = 0

    def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    def attach(sender: Any, connection: Any, **kwargs: Any) -> None:
        # Fired on every (re)connect; the wrapper list lives on as long as the thread's wrapper object.
        if counter not in connection.execute_wrappers:
            connection.execute_wrappers.append(counter)

    [(intake_id, token)] = _intakes_create(1)
    port = _free_port()
    emulator = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gemini_emulator", "--port", str(port), "--quiet"], cwd=settings.BASE_DIR
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/_emulator/stats")
        settings.GEMINI_BASE_URL = f"http://127.0.0.1:{port}"
        settings.GEMINI_API_KEY = "bench-fake-key"
        connections.close_all()
        connection_created.connect(attach)

        async def turn() -> None:
            response = await AsyncClient().post(
                PAGE.format(id=intake_id),
                data=json.dumps({"text": MESSAGE}),
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.status_code
            body = b"".join([chunk async for chunk in response.streaming_content])
            assert b"event: done" in body, body[-300:]

        try:
            asyncio.run(turn())
        finally:
            connection_created.disconnect(attach)
            for conn in connections.all(initialized_only=True):
                with contextlib.suppress(ValueError):
                    conn.execute_wrappers.remove(counter)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return count


def _chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for workers in sorted({r["workers"] for r in report["results"]}):
        rows = [r for r in report["results"] if r["workers"] == workers]
        ns = [r["n"] for r in rows]
        left.plot(ns, [r["added_by_load_ms"] for r in rows], marker="o", label=f"{workers} worker(s)")
        right.plot(ns, [r["cpu_ms_per_turn"] for r in rows], marker="o", label=f"{workers} worker(s)")
    left.axhline(250, color="grey", linestyle="--", linewidth=1, label="target 250 ms")
    left.set(xlabel="patients (arrivals over 5 s)", ylabel="ms", title="Added by load: p95 first text - alone")
    right.axhline(5, color="grey", linestyle="--", linewidth=1, label="target 5 ms")
    right.set(xlabel="patients", ylabel="ms CPU", title="Web CPU per streamed turn")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    opts = report["options"]
    fig.suptitle(
        f"Streamed first turn, uvicorn + PostgreSQL, emulator {opts['latency_ms']} ms + {opts['chunk_ms']} ms/chunk, "
        f"{report['cpus']} shared cores"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
