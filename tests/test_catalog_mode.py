"""Catalog mode (`lake.catalog`): every table by name through the local spark_catalog, as on Unity Catalog."""

from __future__ import annotations

import json

from delta.tables import DeltaTable

from refinery.cli import main
from refinery.loader import iter_batches
from tests.processes import content_hash, seed

SCHEMA = "refinery_catalog_test"
NAMESPACE = f"spark_catalog.{SCHEMA}"
PIPELINE_TABLES = ("bronze", "silver", "silver_dedup", "gold", "rejects", "signatures")


def test_a_catalog_lake_runs_every_stage_and_release_by_name(spark, sample_lakes, tmp_path, capsys, monkeypatch):
    lake = seed(tmp_path / "lake")
    args = ["--lake", str(lake), "--set", "lake.catalog=spark_catalog", "--set", f"lake.schema={SCHEMA}", "-q"]
    assert main(["run", *args]) == 0
    assert main(["release", "create", "r1", *args]) == 0

    names = {row.tableName for row in spark.sql(f"SHOW TABLES IN {NAMESPACE}").collect()}
    expected = {f"{layer}_web_text" for layer in PIPELINE_TABLES} | {"release_web_text_r1"}
    assert expected | {"refinery_runs", "refinery_releases", "refinery_ingest_files", "refinery_leases"} <= names
    # The catalog holds the tables; the lake root keeps raw files and the release's pointer only.
    assert sorted(p.name for p in lake.iterdir()) == ["raw", "releases"]

    reference = sample_lakes.reference
    for layer in PIPELINE_TABLES:
        assert spark.table(f"{NAMESPACE}.{layer}_web_text").count() == reference[layer], layer
    gold = spark.table(f"{NAMESPACE}.gold_web_text")
    assert content_hash(gold) == reference["gold_hash"]
    operations = {r.operation for r in DeltaTable.forName(spark, f"{NAMESPACE}.gold_web_text").history().collect()}
    assert "CREATE OR REPLACE TABLE AS SELECT" not in operations  # overwritten by predicate, never replaced

    runs = spark.table(f"{NAMESPACE}.refinery_runs").where("status = 'ok' AND stage = 'publish'").first()
    assert (runs.input_table, runs.output_table) == ("silver_dedup/web_text", "gold/web_text")  # keys, not names
    release = spark.table(f"{NAMESPACE}.refinery_releases").first()
    assert (release.table, release.gold_table) == ("releases/web_text/r1", "gold/web_text")

    # The Spark-free loader reads the release through the pointer `release create` left under the lake root.
    pointer = json.loads((lake / "releases" / "web_text" / "r1.json").read_text())
    assert pointer["table"] == f"{NAMESPACE}.release_web_text_r1"
    copy = spark.table(f"{NAMESPACE}.release_web_text_r1")
    for split in ("train", "validation", "test"):
        loaded = sum(batch.num_rows for batch in iter_batches(str(lake), "web_text", "r1", split))
        assert loaded == copy.where(f"split = '{split}'").count()

    capsys.readouterr()
    assert main(["release", "show", "r1", *args]) == 0
    assert "gold_version: 1" in capsys.readouterr().out

    # Forget by name: the document leaves every catalog table and the release, which its pointer follows.
    forgotten = copy.where("copy = 0").orderBy("doc_id").first().doc_id
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", "a-key-of-at-least-16-bytes")
    assert main(["forget", "--doc-id", forgotten, *args]) == 0
    for table in [f"{layer}_web_text" for layer in PIPELINE_TABLES] + ["release_web_text_r1"]:
        assert not spark.table(f"{NAMESPACE}.{table}").where(f"doc_id = '{forgotten}'").count(), table
    pointer = json.loads((lake / "releases" / "web_text" / "r1.json").read_text())
    loaded = {
        d
        for s in ("train", "validation", "test")
        for b in iter_batches(str(lake), "web_text", "r1", s)
        for d in b.column("doc_id").to_pylist()
    }
    assert forgotten not in loaded and pointer["table_version"] > 0
