"""`refinery stream` on a real Kafka broker: every message in bronze or rejects exactly once, across a kill -9.

The broker is a real KRaft node on 127.0.0.1 (`tests.kafka_broker`). The stream is a real `refinery` process:
the first one is killed (SIGKILL, with its JVM) right after its first micro-batch's bronze append and
before that batch's rejects and checkpoint commit; more messages are produced; a second process resumes
from the checkpoint and is stopped with SIGTERM once it has caught up.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from refinery.config import load_config
from refinery.lake.store import Lake
from refinery.privacy.deletion import Request, record_tombstones
from tests.kafka_broker import KafkaBroker
from tests.processes import SAMPLE, refinery, start

TOPIC = "web-docs"
KEY = "a-key-of-at-least-16-bytes"
PER_BATCH = 100  # maxOffsetsPerTrigger: each delivery takes two micro-batches
BAD_MESSAGES = {  # value -> the rule that rejects it
    b"not json at all": "malformed_json",
    b'{"id": "bad-type", "text": 7}': "wrong_type:text",
    b'{"id": "trailing", "text": "a b c"} and more': "malformed_json",
    b"\xff\xfe{}": "invalid_utf8",
    None: "empty_message",
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with KafkaBroker(tmp_path_factory.mktemp("kafka")) as running:
        running.create_topic(TOPIC)
        yield running


def source_setting(broker: KafkaBroker) -> str:
    kafka = {"bootstrap_servers": broker.bootstrap, "topics": [TOPIC], "max_offsets_per_trigger": PER_BATCH}
    return "ingest.sources=" + json.dumps([{"name": "events", "format": "kafka", "kafka": kafka}])


def produce(broker: KafkaBroker, values: list[bytes | None]) -> list[tuple[str, int]]:
    """Send each value; return each message's (`kafka:<topic>/<partition>`, offset)."""
    producer = broker.producer()
    futures = [producer.send(TOPIC, value=value, key=str(i).encode()) for i, value in enumerate(values)]
    producer.flush()
    producer.close()
    return [(f"kafka:{TOPIC}/{meta.partition}", meta.offset) for meta in (f.get(timeout=30) for f in futures)]


def sample_lines(name: str) -> list[bytes]:
    return [line for line in (SAMPLE / name).read_bytes().splitlines() if line.strip()]


def layer(spark, lake: Path, name: str):
    """A layer of the lake; an empty one while the stream has not written it yet."""
    path = lake / name / "web_text"
    if not (path / "_delta_log").is_dir():
        return spark.createDataFrame([], "doc_id string, _file string, _line bigint, stage string, rule string")
    return spark.read.format("delta").load(str(path))


def message_positions(spark, lake: Path):
    """(`_file`, `_line`, where) of every message that reached bronze or ingest's rejects."""
    bronze = layer(spark, lake, "bronze").select("_file", "_line", "doc_id", F.lit("bronze").alias("where"))
    rejects = layer(spark, lake, "rejects").where("stage = 'ingest'")
    return bronze.unionByName(rejects.select("_file", "_line", "doc_id", F.col("rule").alias("where")))


def rows(lake: Path, name: str, stage: str | None = None) -> int:
    """Rows of a layer (of one stage's rejects), read without Spark while the stream runs (0 before it exists)."""
    path = lake / name / "web_text"
    if not any((path / "_delta_log").glob("*.json")):  # not created yet, or its first commit not written yet
        return 0
    dataset = DeltaTable(str(path)).to_pyarrow_dataset()
    return dataset.count_rows(filter=None if stage is None else pc.field("stage") == stage)


def ingested(lake: Path) -> int:
    return rows(lake, "bronze") + rows(lake, "rejects", stage="ingest")


def curated(lake: Path) -> int:
    return rows(lake, "silver") + rows(lake, "rejects", stage="curate")


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    raise TimeoutError(f"{what} within {timeout:.0f}s")


def test_every_message_lands_exactly_once_across_a_kill(spark, broker, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    setting = ("--set", source_setting(broker), "--set", "stream.trigger_seconds=1")
    first = sample_lines("web-2026-10-01.jsonl")
    sent = produce(broker, first + list(BAD_MESSAGES))

    killed = refinery(lake, "stream", *setting, kill_at="kafka:after_bronze", timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert layer(spark, lake, "bronze").count() > 0  # the append was made, its rejects not
    assert layer(spark, lake, "rejects").count() == 0

    again = first[:3]  # ids bronze holds already: rejected as duplicate_id
    # A subject forgotten meanwhile: its late message is rejected as `forgotten`, with no id kept.
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", KEY)
    config = load_config("web_text", "local", [f"lake.root={lake}"])
    record_tombstones(Lake(spark, config.lake), "web_text", [Request("doc_id", "late-subject")], KEY.encode(), "t")
    late = json.dumps({"id": "late-subject", "text": "A late message about a subject who asked to be forgotten."})
    later = sample_lines("web-2026-10-02.jsonl") + again + [late.encode()]
    sent += produce(broker, later)

    stream = start(lake, "stream", *setting)
    try:
        wait_for(lambda: ingested(lake) >= len(sent), 600, "the stream did not ingest every message")
        wait_for(lambda: curated(lake) == rows(lake, "bronze"), 300, "silver did not catch up with bronze")
    finally:
        stream.send_signal(signal.SIGTERM)
        _, stderr = stream.communicate(timeout=300)
    assert stream.returncode == 0, stderr[-2000:]

    landed = message_positions(spark, lake)
    assert landed.count() == len(sent)  # nothing doubled ...
    assert {(row._file, row._line) for row in landed.collect()} == set(sent)  # ... nothing lost
    rules = {row.where: row["count"] for row in landed.groupBy("where").count().collect()}
    expected_rules = {}
    for rule in BAD_MESSAGES.values():
        expected_rules[rule] = expected_rules.get(rule, 0) + 1
    assert rules == {
        "bronze": len(sent) - len(BAD_MESSAGES) - len(again) - 1,
        **expected_rules,
        "duplicate_id": 3,
        "forgotten": 1,
    }
    assert landed.where("where = 'forgotten'").first().doc_id is None

    runs = spark.read.format("delta").load(str(lake / "_refinery" / "runs")).where("stage = 'ingest' AND status = 'ok'")
    assert runs.where("metrics['replayed'] = 'true'").count() == 1  # the killed batch, redone without doubling
    assert runs.agg(F.max(F.col("metrics")["offsets"])).first()[0].startswith(f"{TOPIC}/")
