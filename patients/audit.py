"""The audit trail's pure parts: the request id in context, the hash chain, its verification.

No ORM. Each audit row carries `hash = sha256(prev_hash + canonical JSON of the row)`, so changing,
inserting or deleting any row breaks every later link; `manage.py audit_verify` walks the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
# The fields a row's hash covers, in order. The primary key is left out (unknown before insert);
# the chain itself fixes each row's place.
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_label",
    "patient_id",
    "action",
    "object_type",
    "object_id",
    "detail",
    "request_id",
)

# The id of the request (or task) being served, stamped on every audit row it writes.
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_for(incoming: str | None) -> str:
    """A proxy's X-Request-ID when it looks like one, else a fresh id."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def _canonical(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def audit_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    payload = json.dumps(
        {name: _canonical(row.get(name)) for name in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    row_id: int
    problem: str  # "changed" (hash does not match the row) or "broken link" (a row before it changed or went)


def audit_chain_verify(rows: Iterable[Mapping[str, Any]]) -> tuple[int, list[ChainProblem]]:
    """Walk rows in id order: each must hash to its stored hash and point at the previous row's."""
    previous = GENESIS
    count = 0
    problems: list[ChainProblem] = []
    for row in rows:
        count += 1
        if row["prev_hash"] != previous:
            problems.append(ChainProblem(row_id=row["id"], problem="broken link"))
        if audit_hash(row["prev_hash"], row) != row["hash"]:
            problems.append(ChainProblem(row_id=row["id"], problem="changed"))
        previous = row["hash"]
    return count, problems
