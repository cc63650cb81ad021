"""Ingest on real Delta: several formats in one pipeline, incremental pickup, exactly-once after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import refinery.stages.ingest_files as ingest_files
from refinery.cli import main

SOURCES = (
    "ingest.sources=["
    "{name: web, format: jsonl, glob: '*.jsonl*'},"
    "{name: sheets, format: csv, path: csv, glob: '*.csv', fields: {id: key, text: body}},"
    "{name: dumps, format: parquet, path: parquet, glob: '*.parquet'},"
    "{name: notes, format: text, path: notes, glob: '*.txt'},"
    "{name: arrays, format: json, path: arrays, glob: '*.json'}]"
)


def jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def ingest(lake: Path, *extra: str) -> int:
    return main(["ingest", "--lake", str(lake), "-q", "--set", SOURCES, *extra])


def read(spark, lake: Path, *parts: str):
    return spark.read.format("delta").load(str(lake.joinpath(*parts)))


def last_ingest_run(spark, lake: Path):
    runs = read(spark, lake, "_refinery", "runs").where("stage = 'ingest' AND status != 'running'")
    return runs.orderBy(F.desc("started_at")).first()


@pytest.fixture
def lake(spark, tmp_path):
    raw = tmp_path / "raw" / "web_text"
    jsonl(raw / "a.jsonl", [{"id": "a1", "text": "first doc", "extra": {"k": 1}}, {"text": "no id"}])
    (raw / "csv").mkdir()
    (raw / "csv" / "s.csv").write_text('key,body,url\nc1,"csv, quoted",https://x.example.com\nc2\n')
    (raw / "notes").mkdir()
    (raw / "notes" / "n.txt").write_text("A plain text note.")
    (raw / "arrays").mkdir()
    (raw / "arrays" / "r.json").write_text(json.dumps([{"id": "j1", "text": "in array"}, {"id": "j2", "text": 7}]))
    spark.createDataFrame([("p1", "parquet text")], "id string, text string").coalesce(1).write.parquet(
        str(raw / "parquet")
    )
    return tmp_path


def test_every_format_lands_in_bronze_or_rejects_with_lineage(spark, lake):
    assert ingest(lake) == 0
    bronze = read(spark, lake, "bronze", "web_text")
    docs = {r.doc_id: r for r in bronze.collect()}
    hashed = {r.text: k for k, r in docs.items() if r.text in ("no id", "A plain text note.")}
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in hashed.values())  # file + position hash without an id
    assert sorted(r.text for r in docs.values()) == sorted(
        ["first doc", "no id", "csv, quoted", "A plain text note.", "in array", "parquet text"]
    )
    assert docs["a1"].meta == {"extra": '{"k":1}'}  # schema drift kept in meta
    assert docs["c1"].url == "https://x.example.com" and docs["c1"].source == "sheets"
    assert (docs["a1"]._file, docs["a1"]._line) == ("a.jsonl", 1)
    assert docs["j1"]._file == "arrays/r.json"
    rejects = {(r.rule, r._file, r._line) for r in read(spark, lake, "rejects", "web_text").collect()}
    assert rejects == {("ragged_row", "csv/s.csv", 3), ("wrong_type:text", "arrays/r.json", 2)}

    run = last_ingest_run(spark, lake)
    assert (run.rows_in, run.rows_out, run.rows_rejected) == (8, 6, 2)
    files = read(spark, lake, "_refinery", "ingest_files").where("status = 'committed'").collect()
    assert len(files) == 5
    assert not any(f.path.startswith(("/", "file:")) for f in files)  # logged below the raw root, not absolute
    assert sum(f.records for f in files) == 8
    assert all(f.records == f.bronze_rows + f.rejected_rows for f in files)


def test_new_files_only_are_picked_up_and_reruns_ingest_nothing(spark, lake):
    assert ingest(lake) == 0
    before = read(spark, lake, "bronze", "web_text").count()
    assert ingest(lake) == 0
    assert last_ingest_run(spark, lake).rows_in == 0
    jsonl(lake / "raw" / "web_text" / "b.jsonl", [{"id": "b1", "text": "late arrival"}])
    assert ingest(lake) == 0
    run = last_ingest_run(spark, lake)
    assert (run.rows_in, run.rows_out, run.metrics["files"], run.metrics["batch"]) == (1, 1, "1", "2")
    assert read(spark, lake, "bronze", "web_text").count() == before + 1


def test_a_crash_after_the_bronze_commit_is_resumed_exactly_once(spark, lake, monkeypatch):
    real_log = ingest_files._log_files

    def crash_on_commit(ctx, rows):
        if rows and rows[0]["status"] == "committed":
            raise OSError("simulated crash before the batch was logged committed")
        real_log(ctx, rows)

    monkeypatch.setattr(ingest_files, "_log_files", crash_on_commit)
    assert ingest(lake) == 1
    crashed_bronze = read(spark, lake, "bronze", "web_text").count()
    assert crashed_bronze == 6  # bronze was committed, the file log was not

    monkeypatch.setattr(ingest_files, "_log_files", real_log)
    jsonl(lake / "raw" / "web_text" / "late.jsonl", [{"id": "late", "text": "arrived during the outage"}])
    assert ingest(lake) == 0
    resumed = last_ingest_run(spark, lake)
    assert resumed.metrics["resumed"] == "true" and resumed.metrics["batch"] == "1"
    assert read(spark, lake, "bronze", "web_text").count() == 6  # the retried append was skipped
    assert read(spark, lake, "rejects", "web_text").count() == 2
    assert ingest(lake) == 0  # the file that arrived meanwhile comes in the next batch
    assert read(spark, lake, "bronze", "web_text").where("doc_id = 'late'").count() == 1
    statuses = read(spark, lake, "_refinery", "runs").where("stage = 'ingest'").orderBy("started_at", "ended_at")
    assert [r.status for r in statuses.collect()] == ["running", "failed", "running", "ok", "running", "ok"]
