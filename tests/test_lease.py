"""The pipeline writer lease: a live holder makes a command wait, then fail in one line; an expired one is taken."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from refinery.cli import main
from refinery.config import LakeConfig
from refinery.lake.lease import PipelineLease
from refinery.lake.schemas import load_schema
from refinery.lake.store import Lake


def plant_holder(spark, lake_root, *, expires_in_seconds: int) -> None:
    """A lease row held by another run of a live process on this host (this test's own pid)."""
    lake = Lake(spark, LakeConfig(root=str(lake_root)))
    schema = load_schema("leases")
    now = datetime.now(UTC)
    row = ("web_text", "other-run", socket.gethostname(), os.getpid(), now, now + timedelta(seconds=expires_in_seconds))
    lake.append(lake.table("leases"), spark.createDataFrame([row], schema.struct), schema)


def test_a_live_holder_makes_a_second_command_fail_with_one_line(spark, tmp_path, capsys):
    (tmp_path / "raw" / "web_text").mkdir(parents=True)
    plant_holder(spark, tmp_path, expires_in_seconds=600)
    assert main(["ingest", "--lake", str(tmp_path), "-q", "--set", "lake.lease_wait_seconds=1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "being written by run other-run" in err
    assert not (tmp_path / "bronze").exists()  # nothing was written


def test_an_expired_lease_is_taken_over(spark, tmp_path):
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    (raw / "a.jsonl").write_text('{"id": "a", "text": "one"}\n')
    plant_holder(spark, tmp_path, expires_in_seconds=-5)
    assert main(["ingest", "--lake", str(tmp_path), "-q", "--set", "lake.lease_wait_seconds=0"]) == 0
    leases = spark.read.format("delta").load(str(tmp_path / "_refinery" / "leases"))
    assert leases.count() == 0  # taken, then released at the end
    assert spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text")).count() == 1


def test_the_lease_is_renewed_while_a_job_holds_every_core(spark, tmp_path):
    """A job keeps every core busy in short tasks until the lease has been renewed: under the session's FAIR
    scheduler (conf/base.yaml) each of the renewal's Spark jobs takes the next free core, so the renewal lands
    while the job runs; under FIFO it would wait for the whole job (300 tasks of 0.5 s: over a minute) and the
    test fails. Nothing here depends on how fast the machine is: the job ends when the renewal is seen."""
    renewed = tmp_path / "renewed"

    def short_task_until_renewed(_):
        deadline = time.monotonic() + 0.5
        while not renewed.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    lake = Lake(spark, LakeConfig(root=str(tmp_path)))
    with PipelineLease(lake, "web_text", "busy-run", ttl_seconds=6, wait_seconds=0) as lease:
        job = threading.Thread(
            target=lambda: spark.sparkContext.parallelize(range(300), 300).foreach(short_task_until_renewed)
        )
        job.start()
        while not spark.sparkContext.statusTracker().getActiveStageIds():  # the job holds the cores from here on
            time.sleep(0.05)
        taken = lease._valid_until
        while lease._valid_until == taken and job.is_alive():
            time.sleep(0.1)
        renewed_while_busy = job.is_alive()
        renewed.touch()
        job.join()
    assert renewed_while_busy and lease._valid_until > taken
