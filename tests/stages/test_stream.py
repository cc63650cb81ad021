"""`refinery stream`: the same transforms as batch, exactly once across cycles, stops at a batch boundary."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from chispa import assert_df_equality

from refinery.cli import main
from refinery.config import load_config
from refinery.lake.store import Lake
from refinery.stages.base import StageContext
from refinery.stages.stream import run_stream
from tests.helpers import comparable

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "web_text"


def silver(spark, lake: Path):
    return spark.read.format("delta").load(str(lake / "silver" / "web_text"))


def test_stream_once_cycles_pick_up_new_files_and_match_batch_curation(spark, tmp_path):
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    shutil.copy(SAMPLE / "web-2026-10-01.jsonl", raw)
    assert main(["stream", "--once", "--lake", str(tmp_path), "-q"]) == 0
    first = silver(spark, tmp_path).count()
    assert first > 0

    shutil.copy(SAMPLE / "web-2026-10-02.jsonl", raw)
    assert main(["stream", "--once", "--lake", str(tmp_path), "-q"]) == 0
    streamed = comparable(silver(spark, tmp_path)).localCheckpoint()
    assert streamed.count() > first
    assert streamed.select("doc_id").distinct().count() == streamed.count()

    assert main(["stream", "--once", "--lake", str(tmp_path), "-q"]) == 0  # nothing new: nothing added
    assert silver(spark, tmp_path).count() == streamed.count()

    assert main(["curate", "--lake", str(tmp_path), "-q"]) == 0  # the batch path over the same bronze
    batch = comparable(silver(spark, tmp_path))
    assert_df_equality(batch, streamed, ignore_row_order=True, ignore_nullable=True)

    runs = spark.read.format("delta").load(str(tmp_path / "_refinery" / "runs")).where("status != 'running'").collect()
    stream_batches = [r for r in runs if r.stage == "curate" and r.metrics.get("mode") == "stream"]
    assert len(stream_batches) == 2
    assert all(r.rows_in == r.rows_out + r.rows_rejected for r in runs)


def test_a_stop_request_ends_the_loop_between_cycles(spark, tmp_path):
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    shutil.copy(SAMPLE / "mixed-quality.jsonl", raw)
    config = load_config("web_text", "local", [f"lake.root={tmp_path}", "stream.trigger_seconds=1"])
    lake = Lake(spark, config.lake)
    stop = threading.Event()
    cycles = []

    def new_context():
        cycles.append(time.monotonic())
        return StageContext(spark=spark, config=config, lake=lake)

    worker = threading.Thread(target=run_stream, args=(new_context,), kwargs={"once": False, "stop": stop})
    worker.start()
    deadline = time.monotonic() + 240
    while len(cycles) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    stop.set()
    worker.join(timeout=240)
    assert not worker.is_alive()
    assert len(cycles) >= 2
    assert silver(spark, tmp_path).count() == 8  # the eight well-formed forum posts, once
