"""Two real `refinery` processes on one lake at once (issue 14, defect 2): nothing lost, nothing doubled.

A command that finds the pipeline's lease taken waits for it (lib/refinery/lake/lease.py), so the second
run sees the first one's commits and every raw record ends up in bronze or rejects exactly once.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from pyspark.sql import functions as F

from tests.processes import lake_state, refinery, seed, start


def together(*runs: tuple[Path, tuple[str, ...]]) -> list[subprocess.CompletedProcess]:
    """Start the commands at the same moment (one thread each) and wait for all."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(runs)) as pool:
        return list(pool.map(lambda run: refinery(run[0], *run[1]), runs))


def write_docs(path: Path, prefix: str, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps({"id": f"{prefix}-{i}", "text": f"doc {i} of {prefix}"}) + "\n" for i in range(n))
    )


def assert_ok(process: subprocess.CompletedProcess) -> None:
    assert process.returncode == 0, process.stderr[-3000:]


def test_two_runs_on_a_fresh_lake(spark, tmp_path, sample_lakes):
    """Two ingests of the same files on a fresh lake first, then every stage twice at once."""
    lake = seed(tmp_path / "lake")
    for process in together((lake, ("run",)), (lake, ("run",))):
        assert_ok(process)
    state = lake_state(spark, lake)
    reference = {key: sample_lakes.reference[key] for key in state}
    assert state == reference  # same counts and gold content as one uninterrupted run; no doubled rows


def test_two_ingests_of_different_new_files_on_an_existing_lake(spark, sample_lakes):
    """The first ingest plans its files under the lease; files that land meanwhile go to the second."""
    lake = sample_lakes.restore("ingest")
    raw = lake / "raw" / "web_text"
    write_docs(raw / "new-a.jsonl", "a", 40)
    one = start(lake, "ingest")
    deadline = time.monotonic() + 300
    while not _lease_taken(spark, lake) and one.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    write_docs(raw / "new-b.jsonl", "b", 30)
    two = refinery(lake, "ingest")
    _, stderr = one.communicate(timeout=600)
    assert one.returncode == 0, stderr[-3000:]
    assert_ok(two)
    bronze = spark.read.format("delta").load(str(lake / "bronze" / "web_text"))
    assert bronze.count() == sample_lakes.reference["bronze"] + 70 == bronze.select("doc_id").distinct().count()
    files = spark.read.format("delta").load(str(lake / "_refinery" / "ingest_files")).where("status = 'committed'")
    assert files.count() == files.select("path").distinct().count()
    assert files.where(F.col("path").endswith("new-b.jsonl")).count() == 1


def _lease_taken(spark, lake: Path) -> bool:
    leases = lake / "_refinery" / "leases"
    try:
        return spark.read.format("delta").load(str(leases)).count() > 0
    except Exception:  # the first ingest has not created the table yet
        return False
