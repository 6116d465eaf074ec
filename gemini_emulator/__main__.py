"""Command line entry point: `python -m gemini_emulator [--host] [--port] ...`."""

from __future__ import annotations

import argparse
import logging

from gemini_emulator.server import EmulatorConfig, run


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    p = argparse.ArgumentParser(prog="python -m gemini_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--latency-ms", type=int, default=0, help="delay before the first byte of a reply")
    p.add_argument("--chunk-ms", type=int, default=0, help="delay between streamed deltas")
    p.add_argument("--fault-rate", type=float, default=0.0, help="fraction of API calls answered 429/503")
    p.add_argument("--research-seconds", type=float, default=20.0, help="how long a research agent runs")
    p.add_argument("--retention-seconds", type=float, default=86400.0, help="stored interactions expire")
    p.add_argument("--seed", type=int, default=0, help="seed for the offline model and fault injection")
    p.add_argument("--quiet", action="store_true", help="do not log each request")
    p.add_argument(
        "--model-mode",
        choices=("general", "realistic", "scripted"),
        default="general",
        help="general: the offline rules; realistic: LLM-like habits (parallel calls, extra hops, "
        "off-script replies, unusual JSON); scripted: replies queued through /_emulator/script",
    )
    a = p.parse_args(argv)
    if not 0.0 <= a.fault_rate <= 1.0:
        p.error("--fault-rate must be between 0 and 1")
    return EmulatorConfig(
        host=a.host,
        port=a.port,
        latency_ms=a.latency_ms,
        chunk_ms=a.chunk_ms,
        fault_rate=a.fault_rate,
        research_seconds=a.research_seconds,
        retention_seconds=a.retention_seconds,
        seed=a.seed,
        log_requests=not a.quiet,
        model_mode=a.model_mode,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s emulator %(levelname)s %(message)s")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # warnings about broken uploads are noise
    run(parse_args(argv))


if __name__ == "__main__":
    main()
