"""Maintain: compact small files, VACUUM what no kept version needs, checkpoint the Delta log.

For each table of the pipeline and each system table: OPTIMIZE (compaction), VACUUM with
`maintain.retention_hours` (the retention override applies to this operation only), then a log
checkpoint, after which Delta drops log entries older than `delta.logRetentionDuration`. A table made
before its personal columns were kept out of data-skipping statistics first gets the declared properties.

What maintain never breaks:
- gold and release tables are not compacted: their files are the training layout (rows in shuffle
  order, equal shards), which OPTIMIZE would merge away;
- a release table is vacuumed only while the version its record pins is its latest one;
- bronze keeps every file while a stopped stream's checkpoint has not read bronze to its end;
- it runs under the pipeline's lease, so no stage or stream is writing or reading meanwhile.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from refinery.faults import killed_during_write
from refinery.io.listing import list_files
from refinery.lake.releases import last_write
from refinery.lake.store import TableRef
from refinery.paths import is_local, local_path
from refinery.stages.base import StageContext, StageResult
from refinery.tables import PIPELINE_TABLES, SYSTEM_TABLES

STAGE = "maintain"
_NO_COMPACTION = ("gold",)  # plus every release table
_STATS_COLUMNS = "delta.dataSkippingStatsColumns"

log = logging.getLogger(__name__)


def run(ctx: StageContext) -> StageResult:
    """Maintain every table of the pipeline; the metrics hold files and bytes before and after per table."""
    metrics: dict[str, str] = {}
    for label, ref, pinned, declared in _tables(ctx):
        if not ctx.lake.exists(ref):
            continue
        files_before, bytes_before = storage_usage(ctx.spark, ref)
        notes = _declare_statistics(ctx, ref, declared, pinned) + _maintain_table(ctx, label, ref, pinned)
        files_after, bytes_after = storage_usage(ctx.spark, ref)
        metrics[f"table.{label}"] = (
            f"files {files_before} -> {files_after}, bytes {bytes_before:,} -> {bytes_after:,}"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    metrics["retention_hours"] = str(ctx.config.maintain.retention_hours)
    return StageResult.of_counts(STAGE, metrics=metrics)


def _tables(ctx: StageContext) -> list[tuple[str, TableRef, int | None, str]]:
    """(label, table, pinned release version or None, registry name) for every table maintain looks after."""
    tables = [(layer, ctx.table(layer), None, layer) for layer in PIPELINE_TABLES]
    tables += [(f"_refinery.{name}", ctx.lake.table(name), None, name) for name in SYSTEM_TABLES]
    releases = ctx.lake.table("releases")
    if ctx.lake.exists(releases):
        for row in ctx.lake.read(releases).where(F.col("pipeline") == ctx.pipeline).collect():  # one row a release
            ref = ctx.lake.release_table(ctx.pipeline, row["name"])
            tables.append((f"release.{row['name']}", ref, row["table_version"], "release"))
    return tables


def _declare_statistics(ctx: StageContext, ref: TableRef, declared: str, pinned: int | None) -> list[str]:
    """Give a table made before its personal columns were kept out of data-skipping statistics the declared
    properties: files written from now on (compaction's too) carry no min/max of those columns in the log.
    Returns a note when it did; the log entries of older files keep theirs until Delta's log cleanup. A
    release is never altered (a new version would unpin it): the note says so."""
    wanted = ctx.schema(declared).table_properties
    current = ctx.lake.delta_table(ref).detail().first()["properties"] or {}
    if all(current.get(key) == value for key, value in wanted.items()):
        return []
    if pinned is not None:
        return ["its Delta log has statistics of personal columns (a release is not altered)"]
    table = ref.name or f"delta.`{ref.path}`"
    properties = ", ".join(f"'{key}' = '{value}'" for key, value in wanted.items())
    ctx.spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ({properties})")
    if _STATS_COLUMNS in current and _STATS_COLUMNS not in wanted:  # it would win over the declared count
        ctx.spark.sql(f"ALTER TABLE {table} UNSET TBLPROPERTIES ('{_STATS_COLUMNS}')")
    return ["statistics now skip its personal columns (older log entries keep theirs until log cleanup)"]


def _maintain_table(ctx: StageContext, label: str, ref: TableRef, pinned: int | None) -> list[str]:
    """OPTIMIZE, VACUUM and checkpoint one table where that is safe; return notes on what was held back."""
    cfg, table, notes = ctx.config.maintain, ctx.lake.delta_table(ref), []
    held_by_stream = label == "bronze" and _stream_behind(ctx)
    compact = cfg.optimize and label not in _NO_COMPACTION and pinned is None and not held_by_stream
    if compact:
        with killed_during_write(ref.path, "optimize"):
            table.optimize().executeCompaction()
    elif cfg.optimize:
        notes.append(
            "not compacted: " + ("a stream has not read it to the end" if held_by_stream else "training layout")
        )
    written = last_write(ctx.lake, ref) if pinned is not None else None  # VACUUM's own commits are no rows
    if held_by_stream:
        notes.append("not vacuumed: a stream has not read it to the end")
    elif pinned is not None and pinned != written:
        notes.append(f"not vacuumed: the release pins version {pinned}, its rows are at version {written}")
    else:
        ctx.lake.vacuum(ref, cfg.retention_hours)
    ctx.lake.checkpoint(ref)
    return notes


def _stream_behind(ctx: StageContext) -> bool:
    """Whether the stream's checkpoint still has bronze versions to read (then bronze keeps its files)."""
    checkpoint = ctx.lake.checkpoint_path(ctx.pipeline, "curate")
    if not is_local(checkpoint):
        return True  # cannot look: keep bronze's files
    folder = Path(local_path(checkpoint))
    done = sorted((int(p.name) for p in (folder / "commits").glob("[0-9]*") if p.name.isdigit()), reverse=True)
    if not done:
        return (folder / "offsets").exists()  # started, nothing committed yet: it still reads from the start
    # The last line of a batch's offsets file is the Delta source's offset: it has read every version before it.
    offset = json.loads((folder / "offsets" / str(done[0])).read_text().splitlines()[-1])
    bronze_version = ctx.lake.version(ctx.table("bronze"))
    return bronze_version is not None and int(offset.get("reservoirVersion", 0)) <= bronze_version


def storage_usage(spark: SparkSession, ref: TableRef) -> tuple[int, int]:
    """Data files under a table's folder and their bytes, whatever version refers to them."""
    location = ref.path or spark.sql(f"DESCRIBE DETAIL {ref.name}").first()["location"]
    files = [f for f in list_files(spark, location, glob="*.parquet") if "/_delta_log/" not in f.path]
    return len(files), sum(f.length for f in files)
