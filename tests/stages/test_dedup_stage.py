"""The dedup stage on a hand-made silver table: exact and near duplicates, and incremental runs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from pyspark.sql import functions as F

from refinery.cli import main
from refinery.config import load_config
from refinery.lake.schemas import load_schema
from refinery.lake.store import Lake


def words(seed: int, n: int = 150) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"w{int(i)}" for i in rng.integers(0, 100_000, size=n)]


def near_copy(text_words: list[str]) -> str:
    """One word repeated in the middle: Jaccard about 0.93 on word 5-grams."""
    middle = len(text_words) // 2
    return " ".join(text_words[:middle] + [text_words[middle]] + text_words[middle:])


def write_silver(spark, lake_root, docs: dict[str, str]) -> None:
    rows = [
        (
            doc_id,
            text,
            "web",
            None,
            {},
            "f.jsonl",
            i,
            datetime(2026, 11, 1, tzinfo=UTC),
            "r0",
            "en",
            0.99,
            len(text.split()),
            {},
            text.lower(),
        )
        for i, (doc_id, text) in enumerate(sorted(docs.items()))
    ]
    schema = load_schema("text/silver")
    lake = Lake(spark, load_config("web_text", "local", [f"lake.root={lake_root}"]).lake)
    lake.overwrite(lake.table("silver", "web_text"), spark.createDataFrame(rows, schema.struct), schema)


def dedup_rejects(spark, lake_root) -> dict[str, str]:
    rejects = spark.read.format("delta").load(str(lake_root / "rejects" / "web_text")).where("stage = 'dedup'")
    return {r.doc_id: f"{r.rule}: {r.detail}" for r in rejects.collect()}


def last_dedup_metrics(spark, lake_root) -> dict[str, str]:
    runs = spark.read.format("delta").load(str(lake_root / "_refinery" / "runs")).where("stage = 'dedup'")
    return runs.orderBy(F.col("ended_at").desc()).first().metrics


def test_exact_then_near_duplicates_with_ledger_stats(spark, tmp_path):
    base = words(1)
    write_silver(
        spark,
        tmp_path,
        {
            "d1": " ".join(base),
            "d2": " ".join(base),
            "d3": near_copy(base),
            "d4": " ".join(words(2)),
        },
    )
    assert main(["dedup", "--lake", str(tmp_path), "-q"]) == 0
    assert dedup_rejects(spark, tmp_path) == {
        "d2": "exact: duplicate of d1",
        "d3": "minhash: near duplicate of d1 (cluster of 2)",
    }
    metrics = last_dedup_metrics(spark, tmp_path)
    assert metrics["minhash.clusters"] == "1"
    assert metrics["minhash.cluster_size.2"] == "1"
    assert metrics["dup_rate"] == "0.5000"
    assert metrics["signatures.added"] == "2"


def test_incremental_run_keeps_published_docs_and_drops_new_near_copies(spark, tmp_path):
    published, other = words(3), words(4)
    write_silver(spark, tmp_path, {"m_published": " ".join(published), "n_other": " ".join(other)})
    assert main(["dedup", "--lake", str(tmp_path), "-q"]) == 0
    assert dedup_rejects(spark, tmp_path) == {}

    # New docs sort before the published one: without the signatures table, they would be kept instead.
    write_silver(
        spark,
        tmp_path,
        {
            "m_published": " ".join(published),
            "n_other": " ".join(other),
            "a_new_copy": near_copy(published),
            "b_new_exact": " ".join(published),
            "c_new": " ".join(words(5)),
        },
    )
    assert main(["dedup", "--lake", str(tmp_path), "-q"]) == 0
    assert dedup_rejects(spark, tmp_path) == {
        "a_new_copy": "minhash: near duplicate of m_published (cluster of 2)",
        "b_new_exact": "exact: duplicate of m_published",
    }
    metrics = last_dedup_metrics(spark, tmp_path)
    assert metrics["signatures.published"] == "2"
    assert metrics["signatures.added"] == "1"  # c_new
    kept = spark.read.format("delta").load(str(tmp_path / "silver_dedup" / "web_text"))
    assert sorted(r.doc_id for r in kept.collect()) == ["c_new", "m_published", "n_other"]
    signatures = spark.read.format("delta").load(str(tmp_path / "signatures" / "web_text"))
    assert sorted(r.doc_id for r in signatures.collect()) == ["c_new", "m_published", "n_other"]

    assert main(["dedup", "--lake", str(tmp_path), "-q"]) == 0  # a rerun changes nothing
    assert dedup_rejects(spark, tmp_path)["a_new_copy"].startswith("minhash: near duplicate of m_published")
    assert last_dedup_metrics(spark, tmp_path)["added_of"] == "0 of 5"  # nothing new to judge
