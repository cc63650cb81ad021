"""`refinery stream`: near-real-time raw -> bronze -> silver, with the batch path's transforms.

Every cycle ingests what is new and then curates the new bronze rows:
- file sources: the new raw files (the incremental, exactly-once ingest stage);
- Kafka sources (`format: kafka`): a Structured Streaming query per source over the messages its
  checkpoint (`_checkpoints/<pipeline>/kafka-<source>`) has not seen, each micro-batch appended to bronze
  and rejects exactly once (`refinery.stages.kafka_ingest`);
- then a query from bronze (Delta source, checkpoint `_checkpoints/<pipeline>/curate`) into silver: each
  micro-batch is curated by `curate_frame` and MERGEd into silver on `doc_id` (insert only, so a retried or
  replayed batch adds nothing twice), with curate's settings when silver was made under them
  (`refinery.stages.increments`); its rejects are appended with a Delta transaction id.
Each query runs until it has processed what its source held when it started (`availableNow`). Cycles repeat
every `stream.trigger_seconds` until a stop is requested; a stop that arrives during a micro-batch takes
effect before the next one starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame

from refinery.config import SourceConfig
from refinery.faults import kill_point
from refinery.io.kafka import read_messages
from refinery.session import Persisted
from refinery.stages import increments, ingest
from refinery.stages.base import StageContext, StageResult, execute, write_rejects
from refinery.stages.curate import curation, pii_totals
from refinery.stages.kafka_ingest import checkpoint_name, ingest_messages
from refinery.transforms.rules import kept_rows, rejected_rows

log = logging.getLogger(__name__)


class StopRequested(RuntimeError):
    """Raised at a micro-batch boundary to end the streaming query without processing that batch."""


def run_stream(new_context: Callable[[], StageContext], *, once: bool, stop: threading.Event) -> list[StageResult]:
    """Run cycles until `stop` is set (or one cycle with `once`); return every stage result."""
    results: list[StageResult] = []
    while not stop.is_set():
        ctx = new_context()
        if ctx.config.ingest.file_sources:
            results.append(execute(ctx, "ingest", ingest.run))
        for source in ctx.config.ingest.kafka_sources:
            results.extend(ingest_topics(ctx, source, stop))
        results.extend(curate_new_bronze(ctx, stop))
        if once:
            break
        stop.wait(ctx.config.stream.trigger_seconds)
    return results


def ingest_topics(ctx: StageContext, source: SourceConfig, stop: threading.Event) -> list[StageResult]:
    """Ingest every message of the source's topics its checkpoint has not seen, one ledgered batch at a time."""
    results: list[StageResult] = []

    def process(batch: DataFrame, batch_id: int) -> None:
        results.append(execute(ctx, "ingest", lambda c: ingest_messages(c, source, batch, batch_id)))

    _drain(ctx, read_messages(ctx.spark, source.kafka), checkpoint_name(source), process, stop)
    return results


def curate_new_bronze(ctx: StageContext, stop: threading.Event) -> list[StageResult]:
    """Curate every bronze row the checkpoint has not seen yet, one ledgered micro-batch at a time."""
    bronze_ref, silver_ref = ctx.table("bronze"), ctx.table("silver")
    ctx.lake.ensure_table(bronze_ref, ctx.schema("bronze"))
    ctx.lake.ensure_table(silver_ref, ctx.schema("silver"))
    results: list[StageResult] = []
    metadata = increments.stored(increments.settings_to_store(ctx, "curate"))  # once per cycle, not per batch

    def process(batch: DataFrame, batch_id: int) -> None:
        results.append(execute(ctx, "curate", lambda c: _curate_batch(c, batch, batch_id, metadata)))

    source = ctx.lake.read_stream(
        bronze_ref, skipChangeCommits=True, maxFilesPerTrigger=ctx.config.stream.max_files_per_trigger
    )
    _drain(ctx, source, "curate", process, stop)
    return results


def _drain(
    ctx: StageContext,
    source: DataFrame,
    checkpoint: str,
    process: Callable[[DataFrame, int], None],
    stop: threading.Event,
) -> None:
    """Run `process` on each micro-batch of what `source` holds now (checkpoint `checkpoint` below the
    pipeline's), stopping before the next batch once `stop` is set."""

    def guarded(batch: DataFrame, batch_id: int) -> None:
        if stop.is_set():
            raise StopRequested("stop requested")
        process(batch, batch_id)

    query = (
        source.writeStream.foreachBatch(guarded)
        .option("checkpointLocation", ctx.lake.checkpoint_path(ctx.pipeline, checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    except StreamingQueryException:
        if not stop.is_set():
            raise
        log.info("stream stopped at a micro-batch boundary")


def _curate_batch(ctx: StageContext, batch: DataFrame, batch_id: int, metadata: dict[str, str] | None) -> StageResult:
    with Persisted() as cache:
        curated = cache.keep(curation(ctx)(batch))
        rows_in = curated.count()
        kept = kept_rows(curated)
        rows_out = kept.count()
        silver = ctx.lake.insert_new(ctx.table("silver"), kept, ctx.schema("silver"), key="doc_id", metadata=metadata)
        kill_point("stream:mid_batch")
        txn = (f"refinery-stream-curate-{ctx.pipeline}", batch_id)
        _, by_rule = write_rejects(ctx, "curate", rejected_rows(curated), txn=txn)
        metrics = pii_totals(curated)
    return StageResult.of_counts(
        "curate",
        read=(ctx.table("bronze"), None),
        output=ctx.table("silver"),
        output_version=silver.version,
        rows_in=rows_in,
        rows_out=rows_out,
        rejected_by_rule=by_rule,
        metrics={**metrics, "mode": "stream", "batch": str(batch_id), "inserted": str(silver.rows_written)},
    )
