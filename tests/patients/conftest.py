"""Fixtures for the chart tests: the demo bundles, loaded once per module, and a tiny FHIR server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from patients.demo import demo_files

SYNTHEA_FILES = demo_files()


def read_bundle(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def resources_of(path: Path, resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in read_bundle(path)["entry"] if e["resource"]["resourceType"] == resource_type]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def charts(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The six demo bundles in the chart store for a whole module (committed, removed afterwards)."""
    from patients.fhir_load import fhir_bundle_load
    from patients.models import FhirResource, FhirSource

    with django_db_blocker.unblock():
        for path in SYNTHEA_FILES:
            fhir_bundle_load(path=path, force=True)
    yield
    with django_db_blocker.unblock():
        FhirResource.objects.all().delete()
        FhirSource.objects.all().delete()


def _patient_id_in(resource: dict[str, Any]) -> str:
    """This test server's own, deliberately simple, patient linkage: urn:uuid references."""
    for field in ("subject", "patient", "beneficiary"):
        ref = (resource.get(field) or {}).get("reference", "")
        if ref.startswith("urn:uuid:"):
            return ref.removeprefix("urn:uuid:")
    return ""


class _FhirHandler(BaseHTTPRequestHandler):
    store: dict[str, list[dict[str, Any]]] = {}
    page_size = 2  # small pages so the client's `next` link handling is exercised
    requests: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if len(parts) == 2:
            found = [r for r in self.store.get(parts[0], []) if r["id"] == parts[1]]
            if found:
                self._send(200, found[0])
            else:
                self._send(404, {"resourceType": "OperationOutcome"})
            return
        if len(parts) != 1:
            self._send(400, {"resourceType": "OperationOutcome"})
            return
        rtype = parts[0]
        matches = self.store.get(rtype, [])
        if "patient" in params:
            matches = [r for r in matches if _patient_id_in(r) == params["patient"]]
        if "identifier" in params:
            matches = [
                r for r in matches if any(i.get("value") == params["identifier"] for i in r.get("identifier", []))
            ]
        if "birthdate" in params:
            matches = [r for r in matches if r.get("birthDate") == params["birthdate"]]
        if "family" in params:
            fam = params["family"].lower()
            matches = [r for r in matches if any(n.get("family", "").lower().startswith(fam) for n in r["name"])]
        page = int(params.get("_page", "1"))
        chunk = matches[(page - 1) * self.page_size : page * self.page_size]
        body: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in chunk],
            "link": [],
        }
        if page * self.page_size < len(matches):
            nxt = {**params, "_page": str(page + 1)}
            host, port = self.server.server_address[:2]
            body["link"].append({"relation": "next", "url": f"http://{host}:{port}/{rtype}?{urlencode(nxt)}"})
        self._send(200, body)


@pytest.fixture(scope="module")
def fhir_server() -> Iterator[str]:
    """A real HTTP FHIR server (searchset bundles, paged) serving the Synthea files' resources."""
    store: dict[str, list[dict[str, Any]]] = {}
    for path in SYNTHEA_FILES:
        for entry in read_bundle(path)["entry"]:
            store.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    handler = type("Handler", (_FhirHandler,), {"store": store, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
