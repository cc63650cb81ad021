"""The ingest file log (`_refinery/ingest_files`): which raw file went into which ingest batch.

A run lists every source, logs the files no batch committed as a `planned` batch, and, once bronze and rejects
hold their records, logs them `committed` with per-file counts; a batch a killed run left planned is the next
run's batch, exactly. A file is a version: its path, length and modification time; one changed since a batch
took it (appended to, rewritten, or still being written when it was read) is taken again, whole, by the next
batch. Files not read (hidden names, symbolic links not followed) are logged once as `skipped`, with the
reason. Names are stored
relative to the raw root, with any PII in them turned into a token (`logged_name`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery.io.listing import list_files
from refinery.io.raw import relative_path_column
from refinery.paths import below_or_absolute
from refinery.stages.base import StageContext
from refinery.transforms.pii import lineage_safe

PLANNED, COMMITTED, SKIPPED = "planned", "committed", "skipped"  # statuses in _refinery/ingest_files

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """The files one ingest run takes: `number` (the Delta transaction version), the planned file rows, and
    whether it resumes a batch a killed run left planned. A row's `location` is the file's name relative to
    the raw root (absolute for a source outside it); its `path`, the name lineage and the file log use, is
    that name with any PII in it turned into a token (`logged_name`): the same name for any other file."""

    number: int
    files: list[dict]
    resumed: bool
    planned_at: datetime  # when the plan was logged: bronze rows of its files from then on are its own
    skipped: int = 0
    changed: int = 0  # files a batch committed before, changed since (listed with another length or time)


def plan_batch(ctx: StageContext, raw_root: str) -> Batch:
    """The batch a killed run left planned, else the files no batch committed, logged as a new planned batch."""
    logged = _file_log(ctx, raw_root)
    batches = _batches(logged)
    open_batches = sorted(number for number, committed in batches.items() if not committed)
    if open_batches:
        planned, planned_at = _planned_files(logged, open_batches[0])
        return Batch(open_batches[0], _located(ctx, planned, raw_root), True, planned_at or ctx.started_at)
    return _plan_new_batch(ctx, logged, raw_root, number=max(batches, default=0) + 1)


def commit_batch(ctx: StageContext, batch: Batch, per_file: dict[str, dict[str, int]]) -> None:
    """Log the batch's files `committed`, with their counts: no later run takes them again."""
    committed = [
        {
            "records": 0,
            "bronze_rows": 0,
            "rejected_rows": 0,
            **row,
            "status": COMMITTED,
            "run_id": ctx.run_id,
            "at": ctx.started_at,
            **per_file.get(row["path"], {}),
        }
        for row in batch.files
    ]
    _log_files(ctx, committed)


def _file_log(ctx: StageContext, raw_root: str) -> DataFrame:
    """The pipeline's rows of the file log, `path` relative to the raw root (rows logged before names were
    stored relative hold the full path: they are read as the same name)."""
    logged = ctx.lake.read(ctx.lake.table("ingest_files")).where(F.col("pipeline") == ctx.pipeline)
    return logged.withColumn("path", relative_path_column(F.col("path"), raw_root))


def _batches(files: DataFrame) -> dict[int, bool]:
    """Every batch in the file log and whether it was committed (one small row per ingest run)."""
    batches = files.where(F.col("status").isin(PLANNED, COMMITTED))
    rows = batches.groupBy("batch").agg(F.max(F.col("status") == COMMITTED).alias("committed")).collect()
    return {row["batch"]: row["committed"] for row in rows}


def _planned_files(files: DataFrame, batch: int) -> tuple[list[dict], datetime | None]:
    """The file rows of a batch that was planned but not committed (a run that did not finish), and when."""
    rows = files.where((F.col("batch") == batch) & (F.col("status") == PLANNED)).orderBy("path").collect()
    return [{key: row[key] for key in _PLAN_COLUMNS} for row in rows], min((row["at"] for row in rows), default=None)


_AUTHORITY = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*")
_PLAN_COLUMNS = ("pipeline", "source", "path", "length", "modified_at", "batch")


def _plan_new_batch(ctx: StageContext, files: DataFrame, raw_root: str, *, number: int) -> Batch:
    """List every source and log the files no batch committed as batch `number`.

    Files the listing skips (a hidden name: Spark's readers never open it; a symbolic link not followed) are
    logged once as `skipped` with the reason, and counted, rather than passed over in silence.
    """
    cfg = ctx.config.ingest
    listed = [(source, logged_name(name), name, *rest) for source, name, *rest in _listing(ctx, raw_root)]
    if not listed:
        return Batch(number, [], False, ctx.started_at)
    listing = ctx.spark.createDataFrame(
        listed, "source string, path string, location string, length bigint, modified_at timestamp, skip string"
    ).dropDuplicates(["path"])
    version = ["path", "length", "modified_at"]  # a file changed since a batch took it is a new version
    committed = files.where(F.col("status") == COMMITTED).select(*version)
    known_skips = files.where(F.col("status") == SKIPPED).select(*version)
    new = listing.join(committed, version, "left_anti")
    seen = committed.select("path").distinct().withColumn("seen", F.lit(True))
    new = new.join(seen, "path", "left").withColumn("seen", F.coalesce("seen", F.lit(False)))
    skipped = new.where(F.col("skip").isNotNull()).join(known_skips, version, "left_anti").collect()
    chosen = new.where(F.col("skip").isNull()).orderBy("path").limit(cfg.max_files_per_batch).collect()
    # both are file listings (paths and sizes), the second bounded by max_files_per_batch

    def logged_row(row: Row, number: int, status: str, note: str | None = None) -> dict:
        return {
            "pipeline": ctx.pipeline,
            "source": row["source"],
            "path": row["path"],
            "length": row["length"],
            "modified_at": row["modified_at"],
            "batch": number,
            "status": status,
            "run_id": ctx.run_id,
            "at": ctx.started_at,
            "note": note,
        }

    skips = [logged_row(row, 0, SKIPPED, row["skip"]) for row in skipped]
    planned = [logged_row(row, number, PLANNED) for row in chosen]
    if skips:
        log.warning(
            "ingest: skipped %d file(s): hidden names or links not followed (_refinery/ingest_files, status skipped)",
            len(skips),
        )
    changed = sum(row["seen"] for row in chosen)
    if changed:
        log.warning(
            "ingest: %d file(s) changed since a batch took them: read again whole (records bronze has already "
            "are duplicate_id rejects)",
            changed,
        )
    if skips or planned:
        _log_files(ctx, skips + planned)
    files = [
        {**{k: row[k] for k in _PLAN_COLUMNS}, "location": file["location"]}
        for row, file in zip(planned, chosen, strict=True)
    ]
    return Batch(number, files, False, ctx.started_at, len(skips), changed)


def _listing(ctx: StageContext, raw_root: str) -> list[tuple]:
    """(source, name relative to the raw root, length, modified_at, skip reason) of every file of every source."""
    cfg = ctx.config.ingest
    return [
        (source.name, below_or_absolute(f.path, raw_root), f.length, f.modified_at, f.skip)
        for source in cfg.file_sources
        for f in list_files(ctx.spark, source.folder(raw_root), glob=source.glob, follow_links=cfg.follow_links)
    ]


def logged_name(name: str) -> str:
    """The name lineage and the file log give a raw file: `lineage_safe` of its name, but an absolute URI
    keeps its scheme and authority (`abfss://container@account...` names storage, not a person)."""
    authority = _AUTHORITY.match(name)
    head = authority.group(0) if authority else ""
    return head + lineage_safe(name[len(head) :])


def raw_locations(ctx: StageContext, raw_root: str) -> dict[str, str]:
    """Every listed raw file's location (relative to the raw root, or absolute) by the name the file log and
    lineage give it."""
    return {logged_name(name): name for _, name, *_ in _listing(ctx, raw_root)}


def _located(ctx: StageContext, planned: list[dict], raw_root: str) -> list[dict]:
    """Planned rows of a resumed batch with their `location`, found by listing the sources again (a file gone
    since keeps its logged name and is reported unreadable)."""
    locations = raw_locations(ctx, raw_root)
    return [{**row, "location": locations.get(row["path"], row["path"])} for row in planned]


def _log_files(ctx: StageContext, rows: list[dict]) -> None:
    schema = ctx.schema("ingest_files")
    values = [Row(**{name: row.get(name) for name in schema.column_names}) for row in rows]
    ctx.lake.append(ctx.lake.table("ingest_files"), ctx.spark.createDataFrame(values, schema.struct), schema)
