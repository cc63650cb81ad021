"""`refinery maintain` with retention 0 on a lake whose gold was republished: files go, content and releases stay."""

from __future__ import annotations

from pathlib import Path

from refinery.cli import main
from refinery.lake.ledger import final_rows
from refinery.loader import iter_batches
from tests.processes import RELEASE, gold_hash, release_rows


def data_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts)


def loader_rows(lake: Path) -> int:
    return sum(
        batch.num_rows
        for split in ("train", "validation", "test")
        for batch in iter_batches(str(lake), "web_text", RELEASE, split, 0, 1, 0, 1, batch_size=64)
    )


def test_maintain_with_retention_0_keeps_gold_content_and_releases_readable(spark, sample_lakes, capsys):
    lake = sample_lakes.restore("publish")
    assert main(["release", "create", RELEASE, "--lake", str(lake), "-q"]) == 0
    assert main(["publish", "--lake", str(lake), "-q"]) == 0  # gold's first files are now unreferenced
    gold_before, gold_files_before = gold_hash(spark, lake), data_files(lake / "gold" / "web_text")
    silver = f"delta.`{lake / 'silver' / 'web_text'}`"  # as a table made before statistics skipped content
    spark.sql(f"ALTER TABLE {silver} UNSET TBLPROPERTIES ('delta.dataSkippingStatsColumns')")
    capsys.readouterr()

    assert main(["maintain", "--lake", str(lake), "-q", "--set", "maintain.retention_hours=0"]) == 0
    summary = capsys.readouterr().out
    assert "maintain gold: files" in summary and "not compacted: training layout" in summary
    assert "statistics now skip its personal columns" in summary
    properties = spark.sql(f"DESCRIBE DETAIL {silver}").first().properties
    assert "text" not in properties["delta.dataSkippingStatsColumns"].split(",")

    assert gold_hash(spark, lake) == gold_before == sample_lakes.reference["gold_hash"]
    assert data_files(lake / "gold" / "web_text") == gold_files_before // 2  # the replaced version's files went
    assert release_rows(spark, lake) == loader_rows(lake) == sample_lakes.reference["release_rows"]
    assert list((lake / "gold" / "web_text" / "_delta_log").glob("*.checkpoint.parquet"))
    run = final_rows(spark.read.format("delta").load(str(lake / "_refinery" / "runs"))).where("stage = 'maintain'")
    assert [r.status for r in run.collect()] == ["ok"]
    # Maintain's own VACUUM commits do not unpin the release: the next maintain still looks after it.
    assert main(["maintain", "--lake", str(lake), "-q", "--set", "maintain.retention_hours=0"]) == 0
    assert "not vacuumed: the release pins" not in capsys.readouterr().out
    assert main(["run", "--lake", str(lake), "-q"]) == 0  # the lake goes on working after maintain
    assert gold_hash(spark, lake) == gold_before
