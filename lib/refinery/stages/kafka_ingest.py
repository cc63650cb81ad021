"""Kafka messages -> bronze and rejects, exactly once: the body of `refinery stream`'s query per Kafka source.

Each micro-batch of a source's topics is typed like a raw file's records (the same rules; `_file` is
`kafka:<topic>/<partition>`, `_line` the offset) and appended to bronze and rejects with a Delta
transaction id: app id per pipeline and source, version = the query's batch id. The query's checkpoint
holds the offsets each batch id covers, so a batch replayed after a crash reads the same messages and
finds whichever append it had committed already: nothing is written twice, nothing is skipped.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.config import SourceConfig
from refinery.faults import kill_point
from refinery.io.kafka import LINEAGE_PREFIX, message_records
from refinery.lake.store import TableRef
from refinery.privacy.deletion import drop_forgotten
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.stages.ingest import STAGE, BatchCounts, add_lineage, check_written, count_records, quarantine
from refinery.transforms.doc_ids import flag_duplicate_ids
from refinery.transforms.records import parse_json_records
from refinery.transforms.rules import REJECT_RULE, kept_rows


def checkpoint_name(source: SourceConfig) -> str:
    """The folder below `_checkpoints/<pipeline>/` holding the source's offsets."""
    return f"kafka-{source.name}"


def topics_ref(source: SourceConfig) -> TableRef:
    """What the ledger names as the input of a Kafka batch."""
    return TableRef(key=LINEAGE_PREFIX + ",".join(source.kafka.topics))


def ingest_messages(ctx: StageContext, source: SourceConfig, messages: DataFrame, batch_id: int) -> StageResult:
    """Append one micro-batch of Kafka messages to bronze (typed) and rejects (with their reasons)."""
    cfg = ctx.config.ingest
    bronze_ref = ctx.table("bronze")
    ctx.lake.ensure_table(bronze_ref, ctx.schema("bronze"))
    with Persisted() as cache:
        typed = cache.keep(
            message_records(messages)
            .transform(
                parse_json_records,
                fields=source.fields,
                max_record_chars=cfg.max_record_chars,
                max_fields=cfg.max_fields,
            )
            .withColumn("_source_name", F.lit(source.name))
            .transform(add_lineage, run_id=ctx.run_id, ingested_at=ctx.started_at)
            .transform(drop_forgotten, ctx.lake, ctx.pipeline, ctx.config.privacy)
        )
        # Ids bronze holds already, less this batch's own messages (a replayed batch may have written them).
        known = (
            ctx.lake.read(bronze_ref)
            .select("doc_id", "_file", "_line")
            .join(typed.select("_file", "_line"), ["_file", "_line"], "left_anti")
        )
        records = cache.keep(
            typed.transform(flag_duplicate_ids, known=known).withColumn(
                "value", F.when(F.col(REJECT_RULE).isNotNull(), F.col("value"))
            )
        )
        counts = count_records(records)
        if not counts.rows_in:
            return _result(ctx, source, batch_id, counts, ctx.lake.version(bronze_ref), replayed=False, offsets="")
        txn = (f"refinery-kafka-{ctx.pipeline}-{source.name}", batch_id)
        bronze = ctx.lake.append(bronze_ref, kept_rows(records), ctx.schema("bronze"), txn=txn)
        kill_point("kafka:after_bronze")
        rejects = None
        if counts.rows_in - counts.rows_out:
            rejects, _ = write_rejects(
                ctx, STAGE, quarantine(records, cfg.reject_record_chars), txn=txn, counts=counts.by_rule
            )
        offsets = _offset_ranges(records)
    check_written(f"kafka batch {batch_id} of source {source.name}", counts, bronze, rejects)
    replayed = (bronze.skipped and counts.rows_out > 0) or (rejects is not None and rejects.skipped)
    return _result(ctx, source, batch_id, counts, bronze.version, replayed=replayed, offsets=offsets)


def _result(
    ctx: StageContext,
    source: SourceConfig,
    batch_id: int,
    counts: BatchCounts,
    version: int | None,
    *,
    replayed: bool,
    offsets: str,
) -> StageResult:
    """The batch's ledger row; `replayed` says a crashed attempt had committed (some of) its writes."""
    metrics = {
        "mode": "stream",
        "source": source.name,
        "batch": str(batch_id),
        "replayed": str(replayed).lower(),
        "offsets": offsets,
    }
    return counts.stage_result(ctx, read=topics_ref(source), version=version, metrics=metrics)


def _offset_ranges(records: DataFrame) -> str:
    """`topic/partition:first-last` for each partition in the batch (one small row per partition)."""
    rows = records.groupBy("_file").agg(F.min("_line").alias("first"), F.max("_line").alias("last")).collect()
    ranges = sorted(f"{row['_file'].removeprefix(LINEAGE_PREFIX)}:{row['first']}-{row['last']}" for row in rows)
    return " ".join(ranges)
