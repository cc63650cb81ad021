"""Storage failures (issue 34, defect 6) are answers, not traces. A full disk mid-stage: one line naming the
table and the cause, a `failed` ledger row, the Spark log's path; the rerun recovers. A torn Delta commit:
refused in one line before anything commits on top, listed and rolled back by `refinery doctor`, after which
Spark and an independent reader (delta-rs) read the table."""

from __future__ import annotations

import json
import random
import shlex
import string
import subprocess
from pathlib import Path

import deltalake

from refinery.cli import main
from tests.processes import PROJECT, refinery_command

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


def test_a_full_disk_mid_stage_is_one_line_and_a_failed_ledger_row_and_the_rerun_recovers(spark, tmp_path):
    lake = tmp_path / "lake"
    raw = lake / "raw" / "web_text"
    raw.mkdir(parents=True)
    (lake / "bronze").mkdir()
    rng = random.Random(3)  # text that does not compress: 9 MB of it cannot fit in 2 MB
    letters = string.ascii_letters + " "
    documents = [{"id": f"d{i}", "text": "".join(rng.choices(letters, k=3000))} for i in range(3000)]
    (raw / "big.jsonl").write_text("".join(json.dumps(d) + "\n" for d in documents))
    command, env = refinery_command(lake, "ingest")
    full = f"mount -t tmpfs -o size=2m tmpfs {shlex.quote(str(lake / 'bronze'))} && exec {shlex.join(command)}"
    process = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", full],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert process.returncode == 1, process.stderr[-2000:]
    said = process.stderr.splitlines()
    assert "Traceback" not in process.stderr and not [line for line in said if line.startswith(("\tat ", "at "))]
    [failure] = [line for line in said if "No space left on device" in line]
    assert failure.startswith("refinery: stage ingest failed: ") and "bronze/web_text" in failure
    assert said[-1].startswith("refinery: Spark's own log: ")
    runs = spark.read.format("delta").load(str(lake / "_refinery" / "runs"))
    [failed] = runs.where("stage = 'ingest' AND status = 'failed'").collect()
    assert "No space left on device" in failed.error

    assert main(["ingest", "--lake", str(lake), "-q"]) == 0  # the space is back (the tmpfs is gone)
    assert spark.read.format("delta").load(str(lake / "bronze" / "web_text")).count() == len(documents)
