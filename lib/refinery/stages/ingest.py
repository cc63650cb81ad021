"""Ingest: new raw files -> bronze (typed, with lineage); untypeable records -> rejects. Exactly once.

Each run takes the files no earlier batch committed, logs them as a `planned` batch in
`_refinery/ingest_files`, appends their records to bronze and rejects with Delta transaction ids
(app id per pipeline, version = batch number), then logs the files `committed` with per-file counts.
A run that died mid-way leaves a planned batch behind: the next run redoes exactly that batch, and
Delta skips whichever append had already been committed.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery.config import SourceConfig
from refinery.io.decode import CsvOptions
from refinery.io.raw import list_files, read_parquet_rows, read_records, relative_path
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.pii import redact_column
from refinery.transforms.records import RecordFields, parse_json_records, type_columns
from refinery.transforms.rules import REJECT_RULE, kept_rows, rejected_rows

STAGE = "ingest"


def add_lineage(df: DataFrame, *, run_id: str, ingested_at: datetime) -> DataFrame:
    """Requires: `id`, `source`, `_source_name`, `_file`, `_line`. Adds: `doc_id`, `_ingested_at`, `_run_id`.

    `doc_id` is the record's own id, else a hash of its file (relative to the raw root) and position, so
    it is stable across reruns and lake moves. `source` defaults to the name of the configured source.
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
    if resumed:
        batch, planned = open_batches[0], _planned_files(logged, open_batches[0])
    else:
        batch, planned = _plan_batch(ctx, logged, raw_root, batch=max(batches, default=0) + 1)
    if not planned:
        return _nothing_new(ctx, raw_root)

    records = _read_batch(ctx, planned, raw_root)
    # The raw record is needed only for rejects; caching it for kept rows would double the cache.
    records = records.withColumn("value", F.when(F.col(REJECT_RULE).isNotNull(), F.col("value")))
    records = records.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        per_file, by_rule = _counts(records)
        rows_in = sum(row["records"] for row in per_file.values())
        rows_out = sum(row["bronze_rows"] for row in per_file.values())
        rows_rejected = rows_in - rows_out
        txn = (f"refinery-ingest-{ctx.pipeline}", batch)
        bronze = ctx.lake.append(bronze_ref, kept_rows(records), ctx.schema("bronze"), txn=txn)
        if bronze.skipped and rows_out and not resumed:
            # Only a resumed batch may find its append done already; a new batch number taken by another
            # writer must not log these files as committed (the lease makes this a should-not-happen).
            raise RuntimeError(f"ingest batch {batch} was committed by another writer; rerun to ingest these files")
        rejects = None
        if rows_rejected:
            quarantined = rejected_rows(records).withColumn(
                "record", redact_column(F.substring("value", 1, cfg.reject_record_chars))
            )
            rejects, _ = write_rejects(ctx, STAGE, quarantined, txn=txn, counts=by_rule)
    finally:
        records.unpersist()

    committed = [
        {
            **row,
            "status": "committed",
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
            **{f"files.{s.name}": str(sum(r["source"] == s.name for r in planned)) for s in cfg.sources},
        },
    )


def _batches(files: DataFrame) -> dict[int, bool]:
    """Every batch in the file log and whether it was committed (one small row per ingest run)."""
    rows = files.groupBy("batch").agg(F.max(F.col("status") == "committed").alias("committed")).collect()
    return {row["batch"]: row["committed"] for row in rows}


def _planned_files(files: DataFrame, batch: int) -> list[dict]:
    """The file rows of a batch that was planned but not committed (a run that did not finish)."""
    rows = files.where((F.col("batch") == batch) & (F.col("status") == "planned"))
    return [row.asDict() for row in rows.select(*_PLAN_COLUMNS).orderBy("path").collect()]


_PLAN_COLUMNS = ("pipeline", "source", "path", "length", "modified_at", "batch")


def _plan_batch(ctx: StageContext, files: DataFrame, raw_root: str, *, batch: int) -> tuple[int, list[dict]]:
    """List every source, keep files no batch committed (per the file log `files`), log them as `batch`."""
    cfg = ctx.config.ingest
    seen = files.where(F.col("status") == "committed").select("path")
    listings = [
        list_files(ctx.spark, _source_path(source, raw_root), glob=source.glob).withColumn("source", F.lit(source.name))
        for source in cfg.sources
    ]
    listing = listings[0]
    for other in listings[1:]:
        listing = listing.unionByName(other)
    new = (
        listing.dropDuplicates(["path"])
        .join(seen, "path", "left_anti")
        .orderBy("path")
        .limit(cfg.max_files_per_batch)
        .collect()
    )  # a file listing (paths and sizes), bounded by max_files_per_batch
    if not new:
        return batch, []
    planned = [
        {
            "pipeline": ctx.pipeline,
            "source": row["source"],
            "path": row["path"],
            "length": row["length"],
            "modified_at": row["modificationTime"],
            "batch": batch,
        }
        for row in new
    ]
    _log_files(ctx, [{**row, "status": "planned", "run_id": ctx.run_id, "at": ctx.started_at} for row in planned])
    return batch, planned


def _read_batch(ctx: StageContext, planned: list[dict], raw_root: str) -> DataFrame:
    """Typed records of the planned files of every source, with lineage and reject flags."""
    cfg = ctx.config.ingest
    parts = []
    for source in cfg.sources:
        paths = [row["path"] for row in planned if row["source"] == source.name]
        if not paths:
            continue
        limits = {
            "fields": RecordFields(**asdict(source.fields)),
            "max_record_chars": cfg.max_record_chars,
            "max_fields": cfg.max_fields,
        }
        if source.format == "parquet":
            rows = read_parquet_rows(ctx.spark, paths, root=raw_root)
            typed = rows.transform(type_columns, lineage=("_file", "_line"), **limits)
        else:
            raw = read_records(ctx.spark, paths, root=raw_root, fmt=source.format, csv_options=_csv_options(source))
            typed = raw.transform(parse_json_records, **limits)
        parts.append(typed.withColumn("_source_name", F.lit(source.name)))
    records = parts[0]
    for part in parts[1:]:
        records = records.unionByName(part)
    return records.transform(add_lineage, run_id=ctx.run_id, ingested_at=ctx.started_at)


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


def _nothing_new(ctx: StageContext, raw_root: str) -> StageResult:
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
        metrics={"files": "0"},
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
