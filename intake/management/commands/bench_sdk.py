"""Micro-benchmark: the SDK's per-event and per-request (un)marshalling, with and without the cache.

Measures, in this process and offline, the µs of CPU the pinned google-genai SDK spends turning one
streamed SSE event into its pydantic model (`serializers.unmarshal_json`, what every `step.delta`
costs) and one request body into JSON (`serializers.marshal_json`). It runs the SDK's own code twice:
first as shipped, then with `agents.client`'s cached `create_model` installed. docs/benchmarks/stream.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from google.genai._gaos import models as sdk_models
from google.genai._gaos.types import interactions as sdk_types
from google.genai._gaos.utils import serializers

from agents import client

# Two events as the emulator (and Google) stream them, wrapped the way the SDK's SSE decoder passes them.
EVENTS = [
    {
        "event": "step.delta",
        "data": {
            "event_type": "step.delta",
            "index": 0,
            "delta": {"type": "text", "text": "Thanks, Dana. When did the "},
            "event_id": "e4",
        },
    },
    {
        "event": "interaction.created",
        "data": {
            "event_type": "interaction.created",
            "interaction": {
                "id": "v1_75d262b87f342da5e42b",
                "status": "in_progress",
                "object": "interaction",
                "model": "gemini-3-flash-preview",
                "created": "2026-12-01T17:18:23Z",
                "updated": "2026-12-01T17:18:23Z",
            },
            "event_id": "e1",
        },
    },
]
REQUEST = {
    "model": "gemini-3-flash-preview",
    "input": "It started two weeks ago after I moved furniture.",
    "previous_interaction_id": "v1_75d262b87f342da5e42b",
    "stream": True,
    "system_instruction": "You are a clinic intake assistant. Ask one question at a time.",
}


def _per_call_us(fn: Callable[[int], Any], n: int) -> float:
    for i in range(min(n, 20)):  # warm-up
        fn(i)
    started = time.process_time()
    for i in range(n):
        fn(i)
    return (time.process_time() - started) / n * 1e6


class Command(BaseCommand):
    help = "µs of CPU per SDK unmarshal (one SSE event) and marshal (one request), before and after the cache."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("-n", type=int, default=300, help="calls per measurement (uncached)")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        raws = [json.dumps(event) for event in EVENTS]
        body = serializers.unmarshal({"body": REQUEST}, sdk_models.CreateInteractionRequest).body

        def unmarshal(i: int) -> Any:
            return serializers.unmarshal_json(raws[i % 2], sdk_types.InteractionSSEStreamEvent)

        def marshal(i: int) -> Any:
            return serializers.marshal_json(body, sdk_models.CreateInteractionRequestBody)

        n = options["n"]
        client.sdk_serializer_cache_uninstall()
        before = (_per_call_us(unmarshal, n), _per_call_us(marshal, n))
        installed = client.sdk_serializer_cache_install()
        after = (_per_call_us(unmarshal, n * 10), _per_call_us(marshal, n * 10))
        self.stdout.write(f"google-genai {client.genai.__version__}, cache installed: {installed}")
        self.stdout.write(f"{'µs CPU per call':<34}{'SDK as shipped':>16}{'cached':>10}{'speed-up':>10}")
        for label, b, a in (
            ("unmarshal_json (one SSE event)", before[0], after[0]),
            ("marshal_json (one request body)", before[1], after[1]),
        ):
            self.stdout.write(f"{label:<34}{b:>16.1f}{a:>10.1f}{b / a:>9.0f}x")
