"""CPU per offline-model call on a ten-message intake (process time, so machine load matters less).

    python -m gemini_emulator.cpubench [--reps 5]

Two runs: with a chart lookup tool only (the older contract), and with a form-like record
function plus the lookup (the turn contract: calls, function results, second hop).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

MESSAGES = [
    "hey its maria gonzalez, born 3/14/1985",
    "you can text me at 555-201-8890 or email maria.g@example.com",
    "I've got Aetna, member number W123456789",
    "my back's been killing me since saturday, like a 7 out of 10",
    "I take Advil when it flares up and Zyrtec 10mg every morning",
    "penicillin gives me hives",
    "I had my appendix out in 2010 and I have asthma",
    "my mom has diabetes",
    "I quit smoking 10 years ago",
    "yes thats all correct",
]
LOOKUP = {
    "type": "function",
    "name": "ehr_lookup",
    "description": "Read the patient's chart.",
    "parameters": {
        "type": "object",
        "properties": {
            "sections": {
                "type": "array",
                "items": {"type": "string", "enum": ["identity", "allergies", "medications", "problems", "coverage"]},
            }
        },
        "required": ["sections"],
    },
}
_TEXT = {"type": "string"}
FORM = {
    "type": "function",
    "name": "record_answers",
    "description": "Record what the patient said in the latest message.",
    "parameters": {
        "type": "object",
        "properties": {
            "name": {**_TEXT, "description": "Patient's full name"},
            "date_of_birth": _TEXT,
            "phone": _TEXT,
            "email": _TEXT,
            "chief_complaint": _TEXT,
            "medications": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": _TEXT, "dose": _TEXT, "taking": {"type": "boolean"}},
                    "required": ["name"],
                },
            },
            "allergies": {
                "type": "array",
                "items": {"type": "object", "properties": {"substance": _TEXT, "reaction": _TEXT}},
            },
            "urgency": {"type": "string", "enum": ["routine", "urgent", "emergent"]},
        },
    },
}


def _user(text: str) -> dict[str, Any]:
    return {"type": "user_input", "content": [{"type": "text", "text": text}]}


def run(tools: list[dict[str, Any]], reps: int) -> tuple[float, int]:
    from gemini_emulator import model

    system = "You are an intake assistant."
    calls = 0
    start = time.process_time()
    for _ in range(reps):
        history: list[dict[str, Any]] = []
        for text in MESSAGES:
            r = model.generate(
                model.ModelInput(history=history, new_steps=[_user(text)], system_instruction=system, tools=tools)
            )
            calls += 1
            steps = [_user(text), *r.steps]
            if r.status == "requires_action":
                results = [
                    {
                        "type": "function_result",
                        "call_id": s["id"],
                        "name": s["name"],
                        "result": {"next": "Ask the next question."},
                    }
                    for s in r.steps
                    if s["type"] == "function_call"
                ]
                r = model.generate(
                    model.ModelInput(history=history + steps, new_steps=results, system_instruction=system, tools=tools)
                )
                calls += 1
                steps += results + r.steps
            history += steps
    return (time.process_time() - start) / calls * 1000, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    start = time.process_time()
    from gemini_emulator import model  # noqa: F401 (the import cost is part of what is measured)

    print(f"import: {time.process_time() - start:.2f} s cpu")
    for label, tools in (("lookup only", [LOOKUP]), ("record form + lookup", [FORM, LOOKUP])):
        per, n = run(tools, args.reps)
        print(f"{label}: {per:.2f} ms cpu per call over {n} calls")


if __name__ == "__main__":
    main()
