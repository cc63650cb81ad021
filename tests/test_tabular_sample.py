"""The bundled tabular sample is what its seeded generator writes, and its manifest counts what the files hold."""

from __future__ import annotations

import csv
import importlib.util
import json

from refinery.paths import project_root

SAMPLE = project_root() / "data" / "sample" / "tabular"


def test_the_generator_rebuilds_the_committed_files_byte_for_byte(tmp_path):
    spec = importlib.util.spec_from_file_location("make_tabular_sample", SAMPLE.parent / "make_tabular_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    committed = sorted(p.name for p in SAMPLE.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == committed
    assert [n for n in committed if (tmp_path / n).read_bytes() != (SAMPLE / n).read_bytes()] == []


def test_the_manifest_counts_the_rows_and_planted_problems():
    manifest = json.loads((SAMPLE / "MANIFEST.json").read_text())
    with open(SAMPLE / "customers-initial.csv", newline="") as f:
        initial = list(csv.DictReader(f))
    changes = {
        name: [json.loads(line) for line in (SAMPLE / name).read_text().splitlines()]
        for name in manifest["files"]
        if name.endswith(".jsonl")
    }
    assert manifest["rows"] == {"customers-initial.csv": len(initial), **{n: len(r) for n, r in changes.items()}}
    planted = manifest["planted"]
    assert sum(1 for r in initial if not r["customer_id"]) == planted["invalid:missing_customer_id"]
    assert sum(1 for r in initial if "@" not in r["email"]) == planted["invalid:bad_email"]
    assert sum(1 for r in initial if float(r["income"]) < 0) == planted["invalid:negative_income"]
    assert sum(1 for r in initial if r["segment"] not in ("retail", "premium", "business")) == 2
    assert sum(1 for r in initial if r["closed_on"] and r["closed_on"] < r["opened_on"]) == 2
    deletes = [r for rows in changes.values() for r in rows if r["op"] == "delete"]
    assert len(deletes) == manifest["expected"]["deleted_customers"]
