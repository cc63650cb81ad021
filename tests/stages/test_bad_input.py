"""The bad-input corpus (tests/data/make_bad.py): every case ends in bronze or rejects, and the run exits 0."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import functions as F

from refinery.cli import SUMMARY_WIDTH, main
from tests.data.make_bad import build

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"


def test_bad_input_is_survivable_and_explained(spark, tmp_path, capsys):
    expected = build(CORPUS)
    sources = (
        f"ingest.sources=[{{name: bad, format: jsonl, path: '{CORPUS}', glob: '*.jsonl*'}},"
        f"{{name: bad_csv, format: csv, path: '{CORPUS}', glob: '*.csv'}}]"
    )
    assert main(["ingest", "--lake", str(tmp_path), "--set", sources]) == 0
    summary = capsys.readouterr().out
    assert "  ingest rejected: " in summary  # the most frequent rules; the rest are counted (below: the table)
    assert max(len(line) for line in summary.splitlines()[1:]) <= SUMMARY_WIDTH

    bronze = spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text"))
    rejects = spark.read.format("delta").load(str(tmp_path / "rejects" / "web_text"))
    assert bronze.count() == expected["bronze"]
    by_rule = {r.rule: r["count"] for r in rejects.groupBy("rule").count().collect()}
    assert by_rule == expected["rejected"]
    longest = rejects.agg(F.max(F.length("record"))).first()[0]
    assert longest <= 10_000  # raw records in rejects are truncated

    run = spark.read.format("delta").load(str(tmp_path / "_refinery" / "runs")).where("status != 'running'").first()
    assert run.status == "ok"
    assert run.rows_in == expected["bronze"] + sum(expected["rejected"].values())
    assert run.rows_in == run.rows_out + run.rows_rejected
