"""The chart store loader: idempotent, validating, all-or-nothing per file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from patients.fhir_load import FhirBundleError, fhir_bundle_load
from patients.models import FhirResource, FhirSource
from tests.patients.conftest import SYNTHEA_FILES, read_bundle

pytestmark = pytest.mark.django_db


def test_there_are_six_demo_bundles_with_attribution():
    assert len(SYNTHEA_FILES) == 6
    folder = SYNTHEA_FILES[0].parent
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert "Synthea" in (folder / "README.md").read_text()


@pytest.mark.parametrize("path", SYNTHEA_FILES, ids=lambda p: p.name[:12])
def test_loading_a_bundle_twice_leaves_the_same_rows(path: Path):
    bundle = read_bundle(path)
    fhir_bundle_load(path=path)
    once = FhirResource.objects.count()
    once_by_type = sorted(FhirResource.objects.values_list("resource_type", "resource_id", "patient_ref"))
    result = fhir_bundle_load(path=path, force=True)
    assert not result.skipped
    assert FhirResource.objects.count() == once == len(bundle["entry"])
    assert sorted(FhirResource.objects.values_list("resource_type", "resource_id", "patient_ref")) == once_by_type
    assert FhirSource.objects.count() == 1

    # Every resource that refers to the Patient (urn:uuid in the file) got patient_ref set.
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    pid = patient["resource"]["id"]
    for entry in bundle["entry"]:
        res = entry["resource"]
        refs = [(res.get(f) or {}).get("reference") for f in ("subject", "patient", "beneficiary")]
        row = FhirResource.objects.get(resource_type=res["resourceType"], resource_id=res["id"])
        if res["resourceType"] == "Patient" or patient["fullUrl"] in refs:
            assert row.patient_ref == pid
        else:
            assert row.patient_ref == ""


def test_unchanged_file_is_skipped_unless_forced():
    path = SYNTHEA_FILES[0]
    assert not fhir_bundle_load(path=path).skipped
    assert fhir_bundle_load(path=path).skipped


def test_load_fhir_command_loads_all_files_idempotently():
    call_command("load_fhir", *map(str, SYNTHEA_FILES), stdout=open("/dev/null", "w"))  # noqa: SIM115
    once = FhirResource.objects.count()
    call_command("load_fhir", *map(str, SYNTHEA_FILES), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert FhirResource.objects.count() == once == sum(len(read_bundle(p)["entry"]) for p in SYNTHEA_FILES)
    assert FhirSource.objects.count() == 6


def test_a_reloaded_file_replaces_what_it_brought_before(tmp_path: Path):
    bundle = read_bundle(SYNTHEA_FILES[0])
    path = tmp_path / "chart.json"
    path.write_text(json.dumps(bundle))
    fhir_bundle_load(path=path)
    dropped = bundle["entry"].pop()["resource"]
    path.write_text(json.dumps(bundle))
    result = fhir_bundle_load(path=path)
    assert result.removed == 1
    assert not FhirResource.objects.filter(resource_id=dropped["id"]).exists()
    assert FhirResource.objects.count() == len(bundle["entry"])


def _corrupt(tmp_path: Path, how: str) -> tuple[Path, str]:
    """A copy of a real bundle broken at entry 5; returns the path and what the error must name."""
    bundle = read_bundle(SYNTHEA_FILES[1])
    entry = bundle["entry"][5]["resource"]
    label = f"entry 5 ({entry['resourceType']}/{entry['id']})"
    path = tmp_path / f"broken-{how}.json"
    if how == "json":
        path.write_text(json.dumps(bundle)[:5000])
        return path, "not valid JSON"
    if how == "unknown-type":
        entry["resourceType"] = "Spaceship"
        label = f"entry 5 (Spaceship/{entry['id']})"
    elif how == "bad-resource":
        entry["status"] = {"not": "a code"}
    elif how == "no-resource":
        bundle["entry"][5] = {"fullUrl": "urn:uuid:x"}
        label = "entry 5"
    path.write_text(json.dumps(bundle))
    return path, label


@pytest.mark.parametrize("how", ["json", "unknown-type", "bad-resource", "no-resource"])
def test_a_malformed_bundle_names_file_and_entry_and_loads_nothing(tmp_path: Path, how: str):
    path, expected = _corrupt(tmp_path, how)
    with pytest.raises(FhirBundleError) as err:
        fhir_bundle_load(path=path)
    assert path.name in str(err.value)
    assert expected in str(err.value)
    assert FhirResource.objects.count() == 0
    assert FhirSource.objects.count() == 0


def test_the_command_reports_the_broken_file_and_keeps_the_good_ones(tmp_path: Path, capsys):
    path, expected = _corrupt(tmp_path, "unknown-type")
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("load_fhir", str(SYNTHEA_FILES[0]), str(path))
    err = capsys.readouterr().err
    assert path.name in err and expected in err and "unknown resourceType" in err
    # The good file is loaded; nothing of the broken one is.
    assert FhirResource.objects.count() == len(read_bundle(SYNTHEA_FILES[0])["entry"])
    assert not FhirResource.objects.filter(source=path.name).exists()


def test_a_bundle_that_is_not_a_transaction_or_collection_is_refused(tmp_path: Path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "document", "entry": []}))
    with pytest.raises(FhirBundleError, match=r"x\.json: bundle type 'document'"):
        fhir_bundle_load(path=path)


def test_a_collection_bundle_loads_like_a_transaction(tmp_path: Path):
    bundle = read_bundle(SYNTHEA_FILES[3])
    bundle["type"] = "collection"
    for entry in bundle["entry"]:
        entry.pop("request", None)
    path = tmp_path / "collection.json"
    path.write_text(json.dumps(bundle))
    assert fhir_bundle_load(path=path).resources == len(bundle["entry"])
    patient_id = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert FhirResource.objects.filter(patient_ref=patient_id, resource_type="AllergyIntolerance").exists()
