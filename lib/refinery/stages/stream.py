"""`refinery stream`: near-real-time raw -> bronze -> silver, with the batch path's transforms.

Every cycle ingests the new raw files (the incremental, exactly-once ingest stage) and then runs a
Structured Streaming query from bronze (Delta source, checkpoint under `_checkpoints/<pipeline>/curate`)
into silver: each micro-batch is curated by `curate_frame` and MERGEd into silver on `doc_id` (insert
only, so a retried or replayed batch adds nothing twice); its rejects are appended with a Delta
transaction id. Cycles repeat every `stream.trigger_seconds` until a stop is requested; a stop that
arrives during a micro-batch takes effect before the next one starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame

from refinery.faults import kill_point
from refinery.session import Persisted
from refinery.stages import ingest
from refinery.stages.base import StageContext, StageResult, execute, write_rejects
from refinery.stages.curate import curate_frame, pii_totals
from refinery.transforms.rules import kept_rows, rejected_rows

log = logging.getLogger(__name__)


class StopRequested(RuntimeError):
    """Raised at a micro-batch boundary to end the streaming query without processing that batch."""


def run_stream(new_context: Callable[[], StageContext], *, once: bool, stop: threading.Event) -> list[StageResult]:
    """Run cycles until `stop` is set (or one cycle with `once`); return every stage result."""
    results: list[StageResult] = []
    while not stop.is_set():
        ctx = new_context()
        results.append(execute(ctx, "ingest", ingest.run))
        results.extend(curate_new_bronze(ctx, stop))
        if once:
            break
        stop.wait(ctx.config.stream.trigger_seconds)
    return results


def curate_new_bronze(ctx: StageContext, stop: threading.Event) -> list[StageResult]:
    """Curate every bronze row the checkpoint has not seen yet, one ledgered micro-batch at a time."""
    bronze_ref, silver_ref = ctx.table("bronze"), ctx.table("silver")
    ctx.lake.ensure_table(bronze_ref, ctx.schema("bronze"))
    ctx.lake.ensure_table(silver_ref, ctx.schema("silver"))
    results: list[StageResult] = []

    def process(batch: DataFrame, batch_id: int) -> None:
        if stop.is_set():
            raise StopRequested("stop requested")
        results.append(execute(ctx, "curate", lambda c: _curate_batch(c, batch, batch_id)))

    source = ctx.lake.read_stream(
        bronze_ref, skipChangeCommits=True, maxFilesPerTrigger=ctx.config.stream.max_files_per_trigger
    )
    query = (
        source.writeStream.foreachBatch(process)
        .option("checkpointLocation", ctx.lake.checkpoint_path(ctx.pipeline, "curate"))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    except StreamingQueryException:
        if not stop.is_set():
            raise
        log.info("stream stopped at a micro-batch boundary")
    return results


def _curate_batch(ctx: StageContext, batch: DataFrame, batch_id: int) -> StageResult:
    with Persisted() as cache:
        curated = cache.keep(curate_frame(batch, ctx.config.curate))
        rows_in = curated.count()
        kept = kept_rows(curated)
        rows_out = kept.count()
        silver = ctx.lake.insert_new(ctx.table("silver"), kept, ctx.schema("silver"), key="doc_id")
        kill_point("stream:mid_batch")
        txn = (f"refinery-stream-curate-{ctx.pipeline}", batch_id)
        _, by_rule = write_rejects(ctx, "curate", rejected_rows(curated), txn=txn)
        metrics = pii_totals(curated)
    return StageResult(
        stage="curate",
        input=ctx.table("bronze"),
        input_version=None,
        output=ctx.table("silver"),
        output_version=silver.version,
        rows_in=rows_in,
        rows_out=rows_out,
        rows_rejected=rows_in - rows_out,
        rejected_by_rule=by_rule,
        metrics={**metrics, "mode": "stream", "batch": str(batch_id), "inserted": str(silver.rows_written)},
    )
