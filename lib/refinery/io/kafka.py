"""Kafka topics as raw records: Spark's Kafka source, one JSON object per message value.

A message's lineage is its topic, partition and offset: `_file` is `kafka:<topic>/<partition>` and `_line`
the offset, so bronze and rejects name the exact message, and a message without an id gets a `doc_id`
hashed from that position (stable across replays). Values are framed like JSONL lines
(`refinery.io.raw.json_lines_batch`): invalid UTF-8, text after the JSON value and messages without a value
are flagged for rejects here; parsing and typing are the file path's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from refinery.config import KafkaOptions
from refinery.errors import ConfigError
from refinery.io.raw import RAW_RECORD_SCHEMA, json_lines_batch

LINEAGE_PREFIX = "kafka:"
_FROM_ENVIRONMENT = "env:"  # an option value `env:NAME` is read from the environment variable NAME


def read_messages(spark: SparkSession, options: KafkaOptions) -> DataFrame:
    """A streaming DataFrame of the topics' messages (Spark's Kafka source columns)."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", options.bootstrap_servers)
        .option("subscribe", ",".join(options.topics))
        .option("startingOffsets", options.starting_offsets)
        .option("maxOffsetsPerTrigger", str(options.max_offsets_per_trigger))
        .option("failOnDataLoss", str(options.fail_on_data_loss).lower())
    )
    for key, value in options.options.items():
        reader = reader.option(key, _option_value(key, value))
    return reader.load()


def _option_value(key: str, value: str) -> str:
    """The value, or for `env:NAME` the environment variable's (credentials stay out of config files)."""
    if not value.startswith(_FROM_ENVIRONMENT):
        return value
    name = value.removeprefix(_FROM_ENVIRONMENT)
    if name not in os.environ:
        raise ConfigError(f"kafka option {key}: environment variable {name} is not set")
    return os.environ[name]


def message_records(messages: DataFrame) -> DataFrame:
    """Requires: the Kafka source's `topic`, `partition`, `offset`, `value`. Returns RAW_RECORD columns."""
    positioned = messages.select(
        F.format_string(f"{LINEAGE_PREFIX}%s/%d", "topic", "partition").alias("_file"),
        F.col("offset").alias("_line"),
        F.col("value"),
    )
    return positioned.mapInArrow(_frame_messages, RAW_RECORD_SCHEMA)


def _frame_messages(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if batch.num_rows:
            yield json_lines_batch(batch.column("_file"), batch.column("_line"), batch.column("value"))
