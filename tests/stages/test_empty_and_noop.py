"""Data unlike the sample: empty input, stages that remove nothing, stages that remove everything.

Each case runs the real CLI on a real lake and checks that every stage's ledger row reconciles and
that rejects hold exactly the rows some stage removed (issue 14, defect 1: a stage that removed
nothing used to take an earlier stage's rejects commit as its own and fail the run).
"""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import functions as F

from refinery.cli import main
from refinery.lake.ledger import final_rows
from tests.helpers import WORDS

# Curation that keeps any long enough document: one quality rule (min_doc_words) so some docs can fail it.
PERMISSIVE = [
    "curate.language.keep=[]",
    "curate.language.min_score=0",
    "curate.gopher_repetition.enabled=false",
    "curate.c4.enabled=false",
    "curate.fineweb.enabled=false",
    "curate.gopher_quality.stop_words={}",
    "curate.gopher_quality.min_doc_words=10",
    "publish.decontamination.eval_sets=[]",
]
STAGES = ["ingest", "curate", "dedup", "publish"]


def unique_doc(i: int) -> dict:
    """A 40-word document that shares no 5-word shingle with any other i (words picked by i's digits)."""
    words = [WORDS[(i * 7 + k * k * (i + 3)) % len(WORDS)] + str((i * 31 + k) % 97) for k in range(40)]
    return {"id": f"u{i:04d}", "text": " ".join(words) + "."}


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def run(lake: Path, *extra: str) -> int:
    overrides = [arg for setting in PERMISSIVE for arg in ("--set", setting)]
    return main(["run", "--lake", str(lake), "-q", *overrides, *extra])


def ledger(spark, lake: Path) -> dict[str, object]:
    """The last final ledger row of each stage."""
    rows = final_rows(spark.read.format("delta").load(str(lake / "_refinery" / "runs"))).orderBy("ended_at").collect()
    return {row.stage: row for row in rows}


def rejects_by_stage(spark, lake: Path) -> dict[str, int]:
    rejects = spark.read.format("delta").load(str(lake / "rejects" / "web_text"))
    return {r.stage: r["count"] for r in rejects.groupBy("stage").count().collect()}


def count(spark, lake: Path, layer: str) -> int:
    return spark.read.format("delta").load(str(lake / layer / "web_text")).count()


def assert_reconciles(rows) -> None:
    for stage in STAGES:
        row = rows[stage]
        assert row.status == "ok", (stage, row.error)
        assert row.rows_in == row.rows_out + row.rows_rejected, stage


def test_dedup_and_publish_that_remove_nothing(spark, tmp_path):
    docs = [unique_doc(i) for i in range(40)]
    short = [{"id": f"s{i}", "text": "too short"} for i in range(5)]
    write_jsonl(tmp_path / "raw" / "web_text" / "docs.jsonl", docs + short)
    assert run(tmp_path) == 0
    rows = ledger(spark, tmp_path)
    assert_reconciles(rows)
    assert [rows[s].rows_rejected for s in STAGES] == [0, 5, 0, 0]
    assert rows["publish"].rows_out == 40 == count(spark, tmp_path, "gold")
    assert rejects_by_stage(spark, tmp_path) == {"curate": 5}

    assert run(tmp_path) == 0  # the rerun: nothing new, nothing removed, the same tables
    rows = ledger(spark, tmp_path)
    assert_reconciles(rows)
    assert rows["ingest"].rows_in == 0 and rows["dedup"].rows_rejected == 0
    assert count(spark, tmp_path, "gold") == 40
    assert rejects_by_stage(spark, tmp_path) == {"curate": 5}


def test_curate_that_removes_everything(spark, tmp_path):
    write_jsonl(tmp_path / "raw" / "web_text" / "short.jsonl", [{"id": f"s{i}", "text": "two words"} for i in range(7)])
    assert run(tmp_path) == 0
    rows = ledger(spark, tmp_path)
    assert_reconciles(rows)
    assert [(rows[s].rows_in, rows[s].rows_out) for s in STAGES] == [(7, 7), (7, 0), (0, 0), (0, 0)]
    assert count(spark, tmp_path, "silver_dedup") == 0 and count(spark, tmp_path, "gold") == 0
    assert rejects_by_stage(spark, tmp_path) == {"curate": 7}


def test_a_stage_whose_rejects_empty_out_commits_the_removal(spark, tmp_path):
    """Dedup removed a copy on the first run; after the copy is gone upstream its rejects must go too."""
    docs = [unique_doc(i) for i in range(10)]
    write_jsonl(tmp_path / "raw" / "web_text" / "docs.jsonl", docs + [{**docs[0], "id": "copy-of-u0000"}])
    assert run(tmp_path) == 0
    assert rejects_by_stage(spark, tmp_path) == {"dedup": 1}
    # make curate drop the copy: now dedup removes nothing and must replace its old rejects by none
    assert run(tmp_path, "--set", "curate.gopher_quality.max_doc_words=39") == 0
    rows = ledger(spark, tmp_path)
    assert_reconciles(rows)
    assert rows["dedup"].rows_rejected == 0
    assert rejects_by_stage(spark, tmp_path) == {"curate": 11}


def test_empty_input(spark, tmp_path):
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    (raw / "empty.jsonl").write_bytes(b"")
    assert run(tmp_path) == 0
    rows = ledger(spark, tmp_path)
    assert_reconciles(rows)
    assert all(rows[s].rows_in == 0 for s in STAGES)
    assert count(spark, tmp_path, "gold") == 0


def test_ingest_that_rejects_everything(spark, tmp_path):
    write_jsonl(tmp_path / "raw" / "web_text" / "bad.jsonl", [{"id": "n", "text": 5}])
    (tmp_path / "raw" / "web_text" / "bad.jsonl").open("a").write("{not json\n")
    assert run(tmp_path) == 0
    rows = ledger(spark, tmp_path)
    assert_reconciles(rows)
    assert (rows["ingest"].rows_in, rows["ingest"].rows_out) == (2, 0)
    rejects = spark.read.format("delta").load(str(tmp_path / "rejects" / "web_text"))
    assert sorted(r.rule for r in rejects.select("rule").collect()) == ["malformed_json", "wrong_type:text"]
    assert rejects.where(F.col("stage") != "ingest").count() == 0
