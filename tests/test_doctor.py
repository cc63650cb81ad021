"""Torn Delta commits (issue 34, defect 6): refused in one line before anything commits on top, listed and
rolled back by `refinery doctor`, after which Spark and an independent reader (delta-rs) read the table."""

from __future__ import annotations

from pathlib import Path

import deltalake

from refinery.cli import main

LOG = "_delta_log"


def commit_file(table: Path, version: int) -> Path:
    return table / LOG / f"{version:020d}.json"


def tear(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # cut mid-line, as a full disk or a stopped copy leaves it


def test_a_torn_commit_is_refused_listed_and_rolled_back(spark, tmp_path, capsys):
    lake = tmp_path / "lake"
    bronze, runs = lake / "bronze" / "web_text", lake / "_refinery" / "runs"
    for part in range(3):  # versions 0, 1, 2 of ten rows each
        spark.range(part * 10, part * 10 + 10).write.format("delta").mode("append").save(str(bronze))
    for part in range(3):
        spark.range(part, part + 1).write.format("delta").mode("append").save(str(runs))
    tear(commit_file(bronze, 2))
    tear(commit_file(runs, 1))  # with version 2 committed on top of it
    (lake / "raw" / "web_text").mkdir(parents=True)
    (lake / "raw" / "web_text" / "new.jsonl").write_text('{"text": "a document waiting to be ingested"}\n')
    capsys.readouterr()

    assert main(["doctor", "--lake", str(lake)]) == 1
    out = capsys.readouterr().out
    assert f"torn commit bronze/web_text/{LOG}/{2:020d}.json: line" in out
    assert f"torn commit _refinery/runs/{LOG}/{1:020d}.json: line" in out

    assert main(["ingest", "--lake", str(lake)]) == 1  # refused before the JVM: nothing commits on top
    err = capsys.readouterr().err
    assert "Traceback" not in err and "refinery doctor --repair" in err
    assert not commit_file(bronze, 3).exists()

    assert main(["doctor", "--repair", "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert "repaired bronze/web_text: back at version 1; commits 2..2 set aside in _refinery/doctor/" in out
    assert "repaired _refinery/runs: back at version 0; commits 1..2 set aside in _refinery/doctor/" in out
    assert spark.read.format("delta").load(str(bronze)).count() == 20
    assert deltalake.DeltaTable(str(bronze)).version() == 1 and deltalake.DeltaTable(str(runs)).version() == 0
    assert len(deltalake.DeltaTable(str(runs)).to_pyarrow_table()) == 1
    assert main(["doctor", "--lake", str(lake)]) == 0
    assert "no torn commit" in capsys.readouterr().out
    spark.range(5).write.format("delta").mode("append").save(str(bronze))  # writable again, at version 2
    assert deltalake.DeltaTable(str(bronze)).version() == 2
