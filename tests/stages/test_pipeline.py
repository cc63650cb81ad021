"""End to end on the bundled sample: real Delta tables under a temporary lake, counts reconcile exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from refinery.cli import main
from refinery.lake.ledger import final_rows
from refinery.lake.schemas import load_schema
from refinery.transforms.pii import redact_column

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "web_text"
MANIFEST = json.loads((SAMPLE / "MANIFEST.json").read_text())
EXPECTED = MANIFEST["expected"]
STAGES = ["ingest", "curate", "dedup", "publish"]


def seed_lake(lake: Path) -> Path:
    raw = lake / "raw" / "web_text"
    raw.mkdir(parents=True)
    for name in MANIFEST["files"]:
        shutil.copy(SAMPLE / name, raw / name)
    return lake


def table(spark, lake: Path, *parts: str):
    return spark.read.format("delta").load(str(lake.joinpath(*parts)))


@pytest.fixture(scope="module")
def lake(tmp_path_factory, spark):
    lake = seed_lake(tmp_path_factory.mktemp("lake"))
    assert main(["run", "--lake", str(lake), "-q"]) == 0
    return lake


def rejects_by_rule(spark, lake, stage):
    rows = table(spark, lake, "rejects", "web_text").where(F.col("stage") == stage).groupBy("rule").count().collect()
    return {r["rule"]: r["count"] for r in rows}


def test_layer_counts_match_what_the_sample_plants(spark, lake):
    assert table(spark, lake, "bronze", "web_text").count() == EXPECTED["bronze"]
    assert table(spark, lake, "silver", "web_text").count() == EXPECTED["silver"]
    assert table(spark, lake, "gold", "web_text").count() == EXPECTED["gold"]
    planted_ingest = {k.split(":", 1)[1]: v for k, v in MANIFEST["planted"].items() if k.startswith("ingest_reject:")}
    assert rejects_by_rule(spark, lake, "ingest") == planted_ingest
    curate_rules = rejects_by_rule(spark, lake, "curate")
    assert sum(curate_rules.values()) == EXPECTED["curate_rejected"]
    assert all(
        rule.split(":")[0] in ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb")
        for rule in curate_rules
    )
    rejected_ids = table(spark, lake, "rejects", "web_text").where("stage = 'curate'").select("doc_id")
    assert sorted(r.doc_id for r in rejected_ids.collect()) == EXPECTED["curate_rejected_ids"]
    assert rejects_by_rule(spark, lake, "dedup") == EXPECTED["dedup_rejected"]
    near = table(spark, lake, "rejects", "web_text").where("stage = 'dedup' AND rule = 'minhash'")
    assert sorted(r.doc_id for r in near.collect()) == EXPECTED["near_duplicate_ids"]
    assert rejects_by_rule(spark, lake, "publish") == EXPECTED["publish_rejected"]
    leaked = table(spark, lake, "rejects", "web_text").where("stage = 'publish'").orderBy("doc_id").collect()
    assert [r.doc_id for r in leaked] == EXPECTED["contaminated_ids"]
    assert {r.detail for r in leaked} == {"shares a 13-word n-gram with eval set reading_qa"}


def test_ledger_reconciles_every_stage_and_chains_versions(spark, lake):
    runs = final_rows(table(spark, lake, "_refinery", "runs")).orderBy("started_at").collect()
    assert [r.stage for r in runs] == STAGES
    assert {r.run_id for r in runs} == {runs[0].run_id}
    assert all(r.status == "ok" and r.error is None for r in runs)
    for r in runs:
        assert r.rows_in == r.rows_out + r.rows_rejected, r.stage
        assert sum(int(v) for k, v in r.metrics.items() if k.startswith("rejected.")) == r.rows_rejected
    assert runs[0].rows_in == EXPECTED["raw_lines"]
    for previous, current in zip(runs, runs[1:], strict=False):
        assert current.rows_in == previous.rows_out
        assert current.input_version == previous.output_version
    assert runs[1].metrics["pii.email"] == str(EXPECTED["pii"]["email"])
    assert runs[1].metrics["pii.phone"] == str(EXPECTED["pii"]["phone"])


def test_gold_is_partitioned_split_and_contract_shaped(spark, lake):
    gold_path = str(lake / "gold" / "web_text")
    detail = DeltaTable.forPath(spark, gold_path).detail().first()
    assert detail.partitionColumns == ["split", "lang"]
    gold = table(spark, lake, "gold", "web_text")
    assert gold.columns == load_schema("text/gold").column_names
    splits = {r.split: r["count"] for r in gold.groupBy("split").count().collect()}
    assert set(splits) == {"train", "validation", "test"}
    assert splits["train"] > splits["validation"] + splits["test"]
    assert gold.select("doc_id").distinct().count() == gold.count()
    assert {r.lang for r in gold.select("lang").distinct().collect()} == {"en", "de", "fr", "es"}


def test_gold_files_are_in_shuffle_order_with_equal_shards(spark, lake):
    gold = table(spark, lake, "gold", "web_text").withColumn("file", F.input_file_name())
    per_file = gold.groupBy("file").agg(
        F.collect_list("shuffle_key").alias("keys"), F.countDistinct("split", "lang").alias("partitions")
    )
    for row in per_file.collect():  # a dozen files on the sample
        assert row.keys == sorted(row.keys) and row.partitions == 1
    shards = gold.groupBy("split").agg(F.collect_list("shard").alias("shards")).collect()
    for row in shards:
        sizes = [row.shards.count(s) for s in range(8)]
        assert max(sizes) - min(sizes) <= 1, (row.split, sizes)
    runs = final_rows(table(spark, lake, "_refinery", "runs")).where("stage = 'publish'").first()
    tokens = gold.groupBy("split").agg(F.sum("n_tokens").alias("n")).collect()
    assert {f"tokens.{r.split}": str(r.n) for r in tokens}.items() <= runs.metrics.items()


def test_no_pii_reaches_gold_or_rejects(spark, lake):
    gold = table(spark, lake, "gold", "web_text")
    rejects = table(spark, lake, "rejects", "web_text")
    assert gold.where(redact_column(F.col("text")) != F.col("text")).count() == 0
    assert rejects.where(redact_column(F.col("record")) != F.col("record")).count() == 0
    assert rejects.where(F.col("record").contains("<EMAIL>")).count() == 1


def test_rerun_is_idempotent(spark, lake):
    def snapshot(layer):
        return table(spark, lake, layer, "web_text").drop("_run_id", "_ingested_at", "_at").localCheckpoint()

    gold_before, rejects_before = snapshot("gold"), snapshot("rejects")
    assert main(["run", "--lake", str(lake), "-q"]) == 0
    assert_df_equality(snapshot("gold"), gold_before, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(snapshot("rejects"), rejects_before, ignore_row_order=True, ignore_nullable=True)
    assert table(spark, lake, "bronze", "web_text").count() == EXPECTED["bronze"]
    runs = table(spark, lake, "_refinery", "runs")
    assert final_rows(runs).count() == 8 and runs.where("status = 'running'").count() == 8
    assert runs.select("run_id").distinct().count() == 2


def test_missing_raw_path_exits_2_naming_it(tmp_path, capsys):
    assert main(["ingest", "--lake", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert str(tmp_path / "raw" / "web_text") in err


def test_stage_without_its_input_exits_2(tmp_path, capsys):
    assert main(["curate", "--lake", str(tmp_path), "-q"]) == 2
    assert "bronze" in capsys.readouterr().err


def test_a_failing_stage_exits_1_and_ledgers_the_error(spark, tmp_path, capsys):
    lake = seed_lake(tmp_path)
    assert main(["ingest", "--lake", str(lake), "-q"]) == 0
    spark.range(3).write.format("delta").save(str(lake / "silver" / "web_text"))  # a table in silver's way
    assert main(["curate", "--lake", str(lake), "-q"]) == 1
    assert "stage curate failed" in capsys.readouterr().err
    failed = table(spark, lake, "_refinery", "runs").where("stage = 'curate'").orderBy("ended_at").collect()
    assert [r.status for r in failed] == ["running", "failed"]
    assert failed[-1].error and len(failed[-1].error) <= 500
