"""Ingest: new raw files -> bronze (typed, with lineage); untypeable records -> rejects. Exactly once.

Each run takes the files no earlier batch committed, logs them as a `planned` batch in
`_refinery/ingest_files`, appends their records to bronze and rejects with Delta transaction ids
(app id per pipeline, version = batch number), then logs the files `committed` with per-file counts.
A run that died mid-way leaves a planned batch behind: the next run redoes exactly that batch, and
Delta skips whichever append had already been committed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery.config import SourceConfig
from refinery.faults import kill_point
from refinery.io.decode import CsvOptions
from refinery.io.listing import is_readable, list_files
from refinery.io.raw import BYTE_FORMATS, read_parquet_rows, read_records, relative_path
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.doc_ids import flag_duplicate_ids
from refinery.transforms.pii import redact_column
from refinery.transforms.records import RecordFields, parse_json_records, type_columns
from refinery.transforms.rules import REJECT_RULE, kept_rows, rejected_rows

STAGE = "ingest"
PLANNED, COMMITTED, SKIPPED = "planned", "committed", "skipped"  # statuses in _refinery/ingest_files
UNREADABLE = "unreadable_file"
_VANISHED = "file could not be opened or read after it was listed (deleted, renamed or unreadable)"
_HIDDEN_NOTE = "hidden name (starts with _ or .): Spark's readers never open it; rename it to ingest it"

log = logging.getLogger(__name__)


def add_lineage(df: DataFrame, *, run_id: str, ingested_at: datetime) -> DataFrame:
    """Requires: `id`, `source`, `_source_name`, `_file`, `_line`. Adds: `doc_id`, `_ingested_at`, `_run_id`.

    `doc_id` is the record's own id as a trimmed string (12345, "12345" and " 12345 " are one id), else a
    hash of its file (relative to the raw root) and position, so it is stable across reruns and lake moves.
    `source` defaults to the name of the configured source.
    """
    position = F.concat_ws(":", "_file", F.coalesce(F.col("_line").cast("string"), F.lit("file")))
    return df.withColumns(
        {
            "doc_id": F.coalesce(F.nullif(F.trim("id"), F.lit("")), F.substring(F.sha2(position, 256), 1, 32)),
            "source": F.coalesce(F.nullif(F.trim("source"), F.lit("")), F.col("_source_name")),
            "_ingested_at": F.lit(ingested_at),
            "_run_id": F.lit(run_id),
        }
    )


def run(ctx: StageContext) -> StageResult:
    """Ingest the raw files no earlier batch committed."""
    cfg = ctx.config.ingest
    raw_root = ctx.lake.raw_path(ctx.pipeline)
    files_ref, files_schema = ctx.lake.table("ingest_files"), ctx.schema("ingest_files")
    bronze_ref = ctx.table("bronze")
    ctx.lake.ensure_table(bronze_ref, ctx.schema("bronze"))
    ctx.lake.ensure_table(files_ref, files_schema)

    logged = ctx.lake.read(files_ref).where(F.col("pipeline") == ctx.pipeline)
    batches = _batches(logged)
    open_batches = sorted(number for number, committed in batches.items() if not committed)
    resumed = bool(open_batches)
    skipped = 0
    if resumed:
        batch, planned = open_batches[0], _planned_files(logged, open_batches[0])
    else:
        batch, planned, skipped = _plan_batch(ctx, logged, raw_root, batch=max(batches, default=0) + 1)
    if not planned:
        return _nothing_new(ctx, raw_root, skipped)

    records = _read_batch(ctx, planned, raw_root).transform(
        flag_duplicate_ids, known=_known_ids(ctx, bronze_ref, planned, raw_root)
    )
    # The raw record is needed only for rejects; caching it for kept rows would double the cache.
    records = records.withColumn("value", F.when(F.col(REJECT_RULE).isNotNull(), F.col("value")))
    records = records.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        per_file, by_rule = _counts(records)
        vanished = _vanished_files(ctx, planned, per_file, raw_root)
        for name in vanished:
            per_file[name] = {"records": 1, "bronze_rows": 0, "rejected_rows": 1}
            by_rule[UNREADABLE] = by_rule.get(UNREADABLE, 0) + 1
        rows_in = sum(row["records"] for row in per_file.values())
        rows_out = sum(row["bronze_rows"] for row in per_file.values())
        rows_rejected = rows_in - rows_out
        txn = (f"refinery-ingest-{ctx.pipeline}", batch)
        bronze = ctx.lake.append(bronze_ref, kept_rows(records), ctx.schema("bronze"), txn=txn)
        if bronze.skipped and rows_out and not resumed:
            # Only a resumed batch may find its append done already; a new batch number taken by another
            # writer must not log these files as committed (the lease makes this a should-not-happen).
            raise RuntimeError(f"ingest batch {batch} was committed by another writer; rerun to ingest these files")
        kill_point("ingest:after_bronze")
        rejects = None
        if rows_rejected:
            quarantined = rejected_rows(records).withColumn(
                "record", redact_column(F.substring("value", 1, cfg.reject_record_chars))
            )
            if vanished:
                unread = ctx.spark.createDataFrame(
                    [(name, UNREADABLE, _VANISHED) for name in vanished], "_file string, rule string, detail string"
                )
                quarantined = quarantined.unionByName(unread, allowMissingColumns=True)
            rejects, _ = write_rejects(ctx, STAGE, quarantined, txn=txn, counts=by_rule)
    finally:
        records.unpersist()

    committed = [
        {
            **row,
            "status": COMMITTED,
            "run_id": ctx.run_id,
            "at": ctx.started_at,
            **per_file.get(relative_path(row["path"], raw_root), {}),
        }
        for row in planned
    ]
    _log_files(ctx, [{"records": 0, "bronze_rows": 0, "rejected_rows": 0, **row} for row in committed])
    for write, expected in ((bronze, rows_out), (rejects, rows_rejected)):
        if write is not None and not write.skipped and write.rows_written != expected:
            raise RuntimeError(f"ingest batch {batch}: Delta wrote {write.rows_written} rows, expected {expected}")
    return StageResult(
        stage=STAGE,
        input_table=raw_root,
        input_version=None,
        output_table=str(bronze_ref),
        output_version=bronze.version,
        rows_in=rows_in,
        rows_out=rows_out,
        rows_rejected=rows_rejected,
        rejected_by_rule=by_rule,
        metrics={
            "batch": str(batch),
            "files": str(len(planned)),
            "resumed": str(resumed).lower(),
            "files.skipped_hidden": str(skipped),
            **{f"files.{s.name}": str(sum(r["source"] == s.name for r in planned)) for s in cfg.sources},
        },
    )


def _batches(files: DataFrame) -> dict[int, bool]:
    """Every batch in the file log and whether it was committed (one small row per ingest run)."""
    batches = files.where(F.col("status").isin(PLANNED, COMMITTED))
    rows = batches.groupBy("batch").agg(F.max(F.col("status") == COMMITTED).alias("committed")).collect()
    return {row["batch"]: row["committed"] for row in rows}


def _planned_files(files: DataFrame, batch: int) -> list[dict]:
    """The file rows of a batch that was planned but not committed (a run that did not finish)."""
    rows = files.where((F.col("batch") == batch) & (F.col("status") == PLANNED))
    return [row.asDict() for row in rows.select(*_PLAN_COLUMNS).orderBy("path").collect()]


_PLAN_COLUMNS = ("pipeline", "source", "path", "length", "modified_at", "batch")


def _plan_batch(ctx: StageContext, files: DataFrame, raw_root: str, *, batch: int) -> tuple[int, list[dict], int]:
    """List every source and log the files no batch committed as `batch`: (batch, planned rows, hidden skipped).

    Files with a hidden name (`_` or `.` below the source folder: Spark's readers never open them) are
    logged once as `skipped` with the reason, and counted, rather than passed over in silence.
    """
    cfg = ctx.config.ingest
    listed = [
        (source.name, f.path, f.length, f.modified_at, f.hidden)
        for source in cfg.sources
        for f in list_files(ctx.spark, _source_path(source, raw_root), glob=source.glob)
    ]
    if not listed:
        return batch, [], 0
    listing = ctx.spark.createDataFrame(
        listed, "source string, path string, length bigint, modified_at timestamp, hidden boolean"
    ).dropDuplicates(["path"])
    committed = files.where(F.col("status") == COMMITTED).select("path")
    known_skips = files.where(F.col("status") == SKIPPED).select("path", "length", "modified_at")
    new = listing.join(committed, "path", "left_anti")
    hidden = new.where("hidden").join(known_skips, ["path", "length", "modified_at"], "left_anti").collect()
    chosen = new.where(~F.col("hidden")).orderBy("path").limit(cfg.max_files_per_batch).collect()
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

    skips = [logged_row(row, 0, SKIPPED, _HIDDEN_NOTE) for row in hidden]
    planned = [logged_row(row, batch, PLANNED) for row in chosen]
    if skips:
        log.warning(
            "ingest: skipped %d file(s) with hidden names (see _refinery/ingest_files, status skipped)", len(skips)
        )
    if skips or planned:
        _log_files(ctx, skips + planned)
    return batch, [{k: row[k] for k in _PLAN_COLUMNS} for row in planned], len(skips)


def _vanished_files(ctx: StageContext, planned: list[dict], per_file: dict, raw_root: str) -> list[str]:
    """Planned files (relative names) of byte formats that gave no row at all and can no longer be opened:
    deleted, renamed or unreadable after they were listed. A file that can be read but holds no record
    (a CSV header alone) is fine; Parquet and WARC files report their own errors."""
    formats = {source.name: source.format for source in ctx.config.ingest.sources}
    vanished = []
    for row in planned:
        name = relative_path(row["path"], raw_root)
        if name in per_file or not row["length"] or formats.get(row["source"]) not in BYTE_FORMATS:
            continue
        if not is_readable(ctx.spark, row["path"]):
            vanished.append(name)
    if vanished:
        log.warning("ingest: %d planned file(s) could not be read; each is an unreadable_file reject", len(vanished))
    return vanished


def _read_batch(ctx: StageContext, planned: list[dict], raw_root: str) -> DataFrame:
    """Typed records of the planned files of every source, with lineage and reject flags."""
    cfg = ctx.config.ingest
    parts = []
    for source in cfg.sources:
        paths = [row["path"] for row in planned if row["source"] == source.name]
        if not paths:
            continue
        folder = _source_path(source, raw_root)
        limits = {
            "fields": RecordFields(**asdict(source.fields)),
            "max_record_chars": cfg.max_record_chars,
            "max_fields": cfg.max_fields,
        }
        if source.format == "parquet":
            rows = read_parquet_rows(ctx.spark, paths, root=raw_root)
            typed = rows.transform(type_columns, lineage=("_file", "_line"), **limits)
        else:
            raw = read_records(
                ctx.spark, paths, root=raw_root, folder=folder, fmt=source.format, csv_options=_csv_options(source)
            )
            typed = raw.transform(parse_json_records, **limits)
        parts.append(typed.withColumn("_source_name", F.lit(source.name)))
    records = parts[0]
    for part in parts[1:]:
        records = records.unionByName(part)
    return records.transform(add_lineage, run_id=ctx.run_id, ingested_at=ctx.started_at)


def _known_ids(ctx: StageContext, bronze_ref, planned: list[dict], raw_root: str) -> DataFrame:
    """Ids bronze already holds, less the rows of this batch's own files (a resumed batch wrote those)."""
    own_files = ctx.spark.createDataFrame([(relative_path(row["path"], raw_root),) for row in planned], "_file string")
    return ctx.lake.read(bronze_ref).select("doc_id", "_file", "_line").join(own_files, "_file", "left_anti")


def _counts(records: DataFrame) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Records read and kept per file (keyed by `_file`), and rejected records per rule: one small aggregate."""
    rows = records.groupBy("_file", REJECT_RULE).count().collect()  # one row per (file, rule broken or none)
    per_file: dict[str, dict[str, int]] = {}
    by_rule: dict[str, int] = {}
    for row in rows:
        counts = per_file.setdefault(row["_file"], {"records": 0, "bronze_rows": 0, "rejected_rows": 0})
        counts["records"] += row["count"]
        if row[REJECT_RULE] is None:
            counts["bronze_rows"] += row["count"]
        else:
            counts["rejected_rows"] += row["count"]
            by_rule[row[REJECT_RULE]] = by_rule.get(row[REJECT_RULE], 0) + row["count"]
    return per_file, by_rule


def _log_files(ctx: StageContext, rows: list[dict]) -> None:
    schema = ctx.schema("ingest_files")
    values = [Row(**{name: row.get(name) for name in schema.column_names}) for row in rows]
    ctx.lake.append(ctx.lake.table("ingest_files"), ctx.spark.createDataFrame(values, schema.struct), schema)


def _nothing_new(ctx: StageContext, raw_root: str, skipped: int) -> StageResult:
    bronze_ref = ctx.table("bronze")
    return StageResult(
        stage=STAGE,
        input_table=raw_root,
        input_version=None,
        output_table=str(bronze_ref),
        output_version=ctx.lake.version(bronze_ref),
        rows_in=0,
        rows_out=0,
        rows_rejected=0,
        metrics={"files": "0", "files.skipped_hidden": str(skipped)},
    )


def _source_path(source: SourceConfig, raw_root: str) -> str:
    if not source.path:
        return raw_root
    if "://" in source.path or source.path.startswith(("/", "dbfs:")):
        return source.path
    return f"{raw_root.rstrip('/')}/{source.path}"


def _csv_options(source: SourceConfig) -> CsvOptions:
    csv = source.csv
    return CsvOptions(
        header=csv.header,
        delimiter=csv.delimiter,
        quote=csv.quote,
        escape=csv.escape,
        column_names=tuple(csv.column_names),
    )
