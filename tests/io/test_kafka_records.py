"""Kafka messages framed as raw records (no broker needed: the columns Spark's Kafka source gives)."""

import subprocess
import sys

import pytest
from chispa import assert_df_equality

from refinery.config import load_config
from refinery.errors import ConfigError
from refinery.io.kafka import message_records

MESSAGES = "topic string, partition int, offset bigint, value binary"
RECORDS = "_file string, _line bigint, value string, _reject_rule string, _reject_detail string"
KAFKA_ONLY = 'ingest.sources=[{name: events, format: kafka, kafka: {bootstrap_servers: "h:9092", topics: [t]}}]'


def test_each_message_is_a_record_named_by_topic_partition_and_offset(spark):
    messages = spark.createDataFrame(
        [
            ("docs", 0, 7, b'{"id": "a", "text": "fine"}'),
            ("docs", 1, 0, b'{"id": "b", "text": "x"} tail'),
            ("docs", 1, 1, None),
            ("docs.eu", 0, 3, b"\xff{}"),
        ],
        MESSAGES,
    )
    actual = message_records(messages)
    expected = spark.createDataFrame(
        [
            ("kafka:docs/0", 7, '{"id": "a", "text": "fine"}', None, None),
            (
                "kafka:docs/1",
                0,
                '{"id": "b", "text": "x"} tail',
                "malformed_json",
                "text after the JSON value at character 26",
            ),
            ("kafka:docs/1", 1, None, "empty_message", "the message has no value"),
            ("kafka:docs.eu/0", 3, "\ufffd{}", "invalid_utf8", "byte 0: invalid start byte"),
        ],
        RECORDS,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_kafka_source_needs_servers_and_topics():
    with pytest.raises(ConfigError, match="kafka.bootstrap_servers and kafka.topics"):
        load_config("web_text", "local", ["ingest.sources=[{name: events, format: kafka}]"])
    config = load_config("web_text", "local", [KAFKA_ONLY])
    assert [s.name for s in config.ingest.kafka_sources] == ["events"] and not config.ingest.file_sources


def test_batch_ingest_of_a_kafka_only_pipeline_is_refused_before_the_jvm_starts(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "refinery.cli", "ingest", "--lake", str(tmp_path), "--set", KAFKA_ONLY],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "refinery: error: pipeline 'web_text' has only Kafka sources: `refinery stream` ingests them, not `ingest`"
    ]
