"""kill -9 at each risky point of a real `refinery` process, then a rerun: the tables of an uninterrupted run.

The states of the sample lake are built once per test session (in this process) and restored for each
test. The killed command is a real process in a session of its own, killed with SIGKILL together
with its Spark JVM by a failpoint (`refinery.faults`); the rerun is the command a user would type.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from refinery.cli import main
from refinery.lake.ledger import interrupted_attempts
from refinery.loader import iter_batches
from tests.processes import RELEASE, SAMPLE, lake_state, refinery, release_rows

EXPECTED = json.loads((SAMPLE / "MANIFEST.json").read_text())["expected"]


def in_process(lake: Path, *args: str) -> int:
    return main([*args, "--lake", str(lake), "-q"])


@pytest.fixture(scope="module")
def lakes(sample_lakes):
    return sample_lakes


def assert_killed(process) -> None:
    assert process.returncode == -signal.SIGKILL, (process.returncode, process.stderr[-2000:])


def assert_rerun_gives_the_reference(spark, lakes, lake: Path) -> None:
    """`refinery run` again: every table's row count and gold's content as in the uninterrupted run, none doubled."""
    assert in_process(lake, "run") == 0
    state = lake_state(spark, lake)
    assert state == {key: lakes.reference[key] for key in state}


def assert_interrupted_attempt_in_ledger(spark, lake: Path, stage: str) -> None:
    runs = spark.read.format("delta").load(str(lake / "_refinery" / "runs"))
    assert stage in {row.stage for row in interrupted_attempts(runs).collect()}


# Where `refinery run` is killed, in pipeline order, and the stage the ledger then shows as interrupted. Each
# rerun first recovers from the kill before (a write begun and lost, or a commit made without its
# bookkeeping), then is killed at the next point; the last rerun must give the uninterrupted tables. (A
# crash between bronze's commit and the ingest file log is resumed in tests/stages/test_ingest.py.)
KILL_POINTS = [
    ("write:/bronze/", "ingest"),  # during the bronze write
    ("write:/silver/", "curate"),  # during curate's silver write
    ("dedup:after_signatures", "dedup"),  # between dedup's signatures and its output
    ("write:/gold/", "publish"),  # during the gold write
]


def test_killed_at_every_risky_point_in_turn_then_rerun_gives_the_uninterrupted_tables(spark, lakes):
    lake = lakes.restore("raw")
    for kill_at, stage in KILL_POINTS:
        process = refinery(lake, "run", kill_at=kill_at)
        assert process.returncode == -signal.SIGKILL, (kill_at, process.returncode, process.stderr[-2000:])
        assert_interrupted_attempt_in_ledger(spark, lake, stage)
    assert_rerun_gives_the_reference(spark, lakes, lake)


def test_kill_during_a_release_copy(spark, lakes):
    lake = lakes.restore("publish")
    assert_killed(refinery(lake, "release", "create", RELEASE, kill_at="write:/releases/"))
    assert in_process(lake, "release", "create", RELEASE) == 0
    releases = spark.read.format("delta").load(str(lake / "_refinery" / "releases")).where(f"name = '{RELEASE}'")
    assert releases.count() == 1
    assert release_rows(spark, lake) == lakes.reference["release_rows"]


def test_stream_killed_mid_micro_batch(spark, lakes):
    lake = lakes.restore("raw")
    assert_killed(refinery(lake, "stream", "--once", kill_at="stream:mid_batch"))
    assert_interrupted_attempt_in_ledger(spark, lake, "curate")
    assert in_process(lake, "stream", "--once") == 0
    for layer in ("bronze", "silver"):
        df = spark.read.format("delta").load(str(lake / layer / "web_text"))
        assert df.count() == lakes.reference[layer] == df.select("doc_id").distinct().count()
    rejects = spark.read.format("delta").load(str(lake / "rejects" / "web_text"))
    for stage in ("ingest", "curate"):
        stage_rejects = rejects.where(f"stage = '{stage}'")
        assert stage_rejects.count() == stage_rejects.select("rule", "doc_id", "_file", "_line").distinct().count()
    assert rejects.where("stage = 'curate'").count() == EXPECTED["curate_rejected"]


def test_maintain_killed_inside_optimize_then_rerun_gives_the_same_tables(spark, lakes):
    lake = lakes.restore("publish")
    assert_killed(refinery(lake, "maintain", kill_at="optimize:/bronze/"))
    assert_interrupted_attempt_in_ledger(spark, lake, "maintain")
    assert in_process(lake, "maintain") == 0
    state = lake_state(spark, lake)
    assert state == {key: lakes.reference[key] for key in state}


# Where a forget is killed, in its order: after its table deletes (the layers are clean; gold, the release and the
# raw files are not), between a release's new copy and its record's amendment, and after the first table's purge
# and vacuum. Each rerun is killed at the next point; the last one must leave no byte of the subject anywhere, and
# no older version that holds it.
FORGET_KILL_POINTS = ["forget:after_deletes", "forget:release_copied", "forget:mid_purge"]


def test_a_forget_killed_at_every_step_in_turn_is_finished_by_its_rerun(spark, lakes, tmp_path, monkeypatch):
    from tests.stages.test_forget import EMAIL, KEY, files_holding

    monkeypatch.setenv("REFINERY_PRIVACY_KEY", KEY)
    lake = lakes.restore("released", at=tmp_path / "lake")
    release = lake / "releases" / "web_text" / RELEASE
    by_id = spark.read.format("delta").load(str(release)).where("doc_id LIKE 'doc-%'").orderBy("doc_id").first()
    by_email = spark.read.format("delta").load(str(lake / "bronze" / "web_text")).where(f"text LIKE '%{EMAIL}%'")
    subjects = {by_id.doc_id, by_email.first().doc_id}
    planted = [by_id.doc_id, EMAIL]
    bronze_versions = DeltaTable.forPath(spark, str(lake / "bronze" / "web_text")).history().count()
    args = ("forget", "--doc-id", by_id.doc_id, "--contains", EMAIL)
    for point in FORGET_KILL_POINTS:
        assert_killed(refinery(lake, *args, kill_at=point))
        assert_interrupted_attempt_in_ledger(spark, lake, "forget")
    assert in_process(lake, *args) == 0  # the same command again: it finishes what every killed attempt began

    assert files_holding(lake, planted) == []  # tables, old versions' files, Delta logs, raw files, the ledger
    for layer in ("bronze", "silver", "silver_dedup", "gold"):
        df = spark.read.format("delta").load(str(lake / layer / "web_text"))
        assert df.where(F.col("doc_id").isin(list(subjects))).count() == 0, layer
    for version in range(bronze_versions):  # time travel: every older version is gone or holds neither subject
        try:
            old = spark.read.format("delta").option("versionAsOf", version).load(str(lake / "bronze" / "web_text"))
            assert old.where(F.col("doc_id").isin(list(subjects))).count() == 0
        except Exception as exc:  # noqa: BLE001 - the version's files were vacuumed
            assert "not found" in str(exc).lower() or "does not exist" in str(exc).lower(), str(exc)[:300]
    record = spark.read.format("delta").load(str(lake / "_refinery" / "releases")).first()
    assert record.settings["amended_by_forget"]
    served = {
        d
        for b in iter_batches(str(lake), "web_text", RELEASE, "train", columns=["doc_id"])
        for d in b["doc_id"].to_pylist()
    }
    assert not subjects & served
    forget_log = spark.read.format("delta").load(str(lake / "_refinery" / "forget_log"))
    assert forget_log.where("kind = 'done'").count() == len(FORGET_KILL_POINTS) + 1  # every killed run, and the last
    assert forget_log.where("kind = 'document'").count() == 0  # ended: no hash of a document it removed is kept
