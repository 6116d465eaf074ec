"""Loading FHIR R4 Bundles (Synthea transaction or collection bundles) into the local chart store.

One file is one database transaction: either every entry of the file validates and is stored, or
nothing from that file is. Loading is idempotent: rows are upserted on (resource_type, resource_id),
and a file whose content hash matches the last load is skipped unless forced.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from patients.models import FhirResource, FhirSource

logger = logging.getLogger(__name__)

BUNDLE_TYPES = ("transaction", "collection", "batch")
# Reference elements that point at the patient a resource belongs to, in the order they are tried.
PATIENT_REFERENCE_FIELDS = ("subject", "patient", "beneficiary")


class FhirBundleError(ValueError):
    """A bundle file could not be loaded. The message names the file and, if any, the entry."""


@dataclass(frozen=True)
class BundleLoadResult:
    source: str
    resources: int
    skipped: bool  # True when the file's content was already loaded and nothing was written
    removed: int = 0  # rows of an earlier version of this file that the new version no longer has


def _entry_label(index: int, resource: Any) -> str:
    if isinstance(resource, dict):
        return f"entry {index} ({resource.get('resourceType', '?')}/{resource.get('id', '?')})"
    return f"entry {index}"


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', '')}" if loc else str(err.get("msg", "")))
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _patient_id_from_reference(ref: str, full_urls: dict[str, tuple[str, str]]) -> str:
    """`Patient/<id>`, an absolute `.../Patient/<id>` or a bundle-local `urn:uuid:` -> the Patient id."""
    if ref in full_urls:
        rtype, rid = full_urls[ref]
        return rid if rtype == "Patient" else ""
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient":
        return parts[-1]
    return ""


def patient_ref_of(resource: dict[str, Any], full_urls: dict[str, tuple[str, str]]) -> str:
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id", ""))
    for field in PATIENT_REFERENCE_FIELDS:
        value = resource.get(field)
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            pid = _patient_id_from_reference(value["reference"], full_urls)
            if pid:
                return pid
    return ""


def parse_bundle(raw: bytes, *, name: str) -> list[FhirResource]:
    """Validate a bundle's bytes and return unsaved FhirResource rows. Raises FhirBundleError."""
    try:
        bundle = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FhirBundleError(f"{name}: not valid JSON ({exc})") from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirBundleError(f"{name}: not a FHIR Bundle (resourceType must be 'Bundle')")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise FhirBundleError(
            f"{name}: bundle type {bundle.get('type')!r} is not loadable (use one of {', '.join(BUNDLE_TYPES)})"
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirBundleError(f"{name}: 'entry' must be a list")

    # First pass: validate each resource and learn the fullUrl -> (type, id) map for references.
    checked: list[dict[str, Any]] = []
    full_urls: dict[str, tuple[str, str]] = {}
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        label = _entry_label(index, resource)
        if not isinstance(resource, dict):
            raise FhirBundleError(f"{name}: {label}: has no resource object")
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            raise FhirBundleError(f"{name}: {label}: resource has no resourceType")
        try:
            model = get_fhir_model_class(rtype)
        except (ValueError, KeyError) as exc:
            raise FhirBundleError(f"{name}: {label}: unknown resourceType {rtype!r}") from exc
        try:
            model.model_validate(resource)
        except ValidationError as exc:
            raise FhirBundleError(f"{name}: {label}: invalid {rtype}: {_first_errors(exc)}") from exc
        full_url = entry.get("fullUrl", "")
        rid = resource.get("id") or (full_url.removeprefix("urn:uuid:") if full_url.startswith("urn:uuid:") else "")
        if not rid:
            raise FhirBundleError(f"{name}: {label}: resource has no id and no urn:uuid fullUrl")
        if len(rid) > 64:
            raise FhirBundleError(f"{name}: {label}: id is longer than 64 characters")
        if (rtype, rid) in seen:
            raise FhirBundleError(f"{name}: {label}: duplicates entry {seen[(rtype, rid)]}")
        seen[(rtype, rid)] = index
        if full_url:
            full_urls[full_url] = (rtype, rid)
        full_urls[f"{rtype}/{rid}"] = (rtype, rid)
        checked.append({**resource, "id": rid})

    return [
        FhirResource(
            resource_type=r["resourceType"],
            resource_id=r["id"],
            patient_ref=patient_ref_of(r, full_urls),
            data=r,
            source=name,
        )
        for r in checked
    ]


def fhir_bundle_load(*, path: Path | str, force: bool = False) -> BundleLoadResult:
    """Load one bundle file, in one transaction. Skips unchanged files unless `force`."""
    path = Path(path)
    # Sources are named by file name, not path, so a clone elsewhere recognises the same files.
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FhirBundleError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if not force and FhirSource.objects.filter(name=name, sha256=digest).exists():
        return BundleLoadResult(source=name, resources=0, skipped=True)

    rows = parse_bundle(raw, name=name)
    with transaction.atomic():
        FhirResource.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["resource_type", "resource_id"],
            update_fields=["patient_ref", "data", "source", "loaded_at"],
        )
        # Resources an earlier version of this file brought in but this version no longer has.
        keep = {(r.resource_type, r.resource_id) for r in rows}
        stale = [
            pk
            for pk, rtype, rid in FhirResource.objects.filter(source=name).values_list(
                "pk", "resource_type", "resource_id"
            )
            if (rtype, rid) not in keep
        ]
        removed = FhirResource.objects.filter(pk__in=stale).delete()[0] if stale else 0
        FhirSource.objects.update_or_create(name=name, defaults={"sha256": digest, "resource_count": len(rows)})
    # File names of real exports can carry patient names: log the content hash, not the name.
    logger.info("fhir bundle loaded sha256=%s resources=%d removed=%d", digest[:12], len(rows), removed)
    return BundleLoadResult(source=name, resources=len(rows), skipped=False, removed=removed)
