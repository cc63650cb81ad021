"""Ingest: new raw files -> bronze (typed, with lineage); untypeable records -> rejects. Exactly once.

Each run takes the files no earlier batch committed, logs them as a `planned` batch in
`_refinery/ingest_files`, appends their records to bronze and rejects with Delta transaction ids
(app id per pipeline, version = batch number), then logs the files `committed` with per-file counts.
A run that died mid-way leaves a planned batch behind: the next run redoes exactly that batch, and
Delta skips whichever append had already been committed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery import paths
from refinery.deletion import drop_forgotten
from refinery.faults import kill_point
from refinery.io.listing import is_readable, list_files
from refinery.io.raw import BYTE_FORMATS, read_parquet_rows, read_records, relative_path_column
from refinery.lake import TableRef, WriteResult
from refinery.paths import below_or_absolute
from refinery.preflight import require_file_sources
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.doc_ids import duplicate_id_losers, flag_losers
from refinery.transforms.pii import lineage_safe, lineage_safe_column, redact_column
from refinery.transforms.records import parse_json_records, type_columns
from refinery.transforms.rules import REJECT_RULE, kept_rows, rejected_rows
from refinery.transforms.tabular_records import tabular_typing

STAGE = "ingest"
PLANNED, COMMITTED, SKIPPED = "planned", "committed", "skipped"  # statuses in _refinery/ingest_files
UNREADABLE = "unreadable_file"
_VANISHED = "file could not be opened or read after it was listed (deleted, renamed or unreadable)"
_HIDDEN_NOTE = "hidden name (starts with _ or .): Spark's readers never open it; rename it to ingest it"
_BROADCAST_LOSERS = 1_000_000  # an id's losers (position and reason) up to this many are broadcast to the records
_TYPED_FIELDS = ("doc_id", "text", "url", "source", "meta")  # a text record's fields, as typing made them

log = logging.getLogger(__name__)


def add_lineage(df: DataFrame, *, run_id: str, ingested_at: datetime) -> DataFrame:
    """Requires: `id`, `source`, `_source_name`, `_file`, `_line`. Adds: `doc_id`, `_ingested_at`, `_run_id`.

    `doc_id` is the record's own id as a trimmed string (12345, "12345" and " 12345 " are one id) with any PII
    in it (an e-mail address as an id) turned into a token, else a hash of its file (relative to the raw root)
    and position, so it is stable across reruns and lake moves. `source` defaults to the configured source's name.
    """
    position = F.concat_ws(":", "_file", F.coalesce(F.col("_line").cast("string"), F.lit("file")))
    given = lineage_safe_column(F.nullif(F.trim("id"), F.lit("")))
    return df.withColumns(
        {
            "doc_id": F.coalesce(given, F.substring(F.sha2(position, 256), 1, 32)),
            "source": F.coalesce(F.nullif(F.trim("source"), F.lit("")), F.col("_source_name")),
            "_ingested_at": F.lit(ingested_at),
            "_run_id": F.lit(run_id),
        }
    )


@dataclass
class Batch:
    """The files one ingest run takes: `number` (the Delta transaction version), the planned file rows, and
    whether it resumes a batch a killed run left planned. A row's `location` is the file's name relative to
    the raw root (absolute for a source outside it); its `path`, the name lineage and the file log use, is
    that name with any PII in it turned into a token (`logged_name`): the same name for any other file."""

    number: int
    files: list[dict]
    resumed: bool
    skipped_hidden: int = 0


@dataclass
class BatchCounts:
    """Records read, kept and rejected per file (by its `path`) and rejected records per rule."""

    per_file: dict[str, dict[str, int]]
    by_rule: dict[str, int]

    @property
    def rows_in(self) -> int:
        return sum(row["records"] for row in self.per_file.values())

    @property
    def rows_out(self) -> int:
        return sum(row["bronze_rows"] for row in self.per_file.values())

    def stage_result(self, ctx: StageContext, *, read: TableRef, version: int | None, metrics: dict) -> StageResult:
        """The ingest ledger row of these counts: `read` into bronze, which is at `version` afterwards."""
        return StageResult(
            stage=STAGE,
            input=read,
            input_version=None,
            output=ctx.table("bronze"),
            output_version=version,
            rows_in=self.rows_in,
            rows_out=self.rows_out,
            rows_rejected=self.rows_in - self.rows_out,
            rejected_by_rule=self.by_rule,
            metrics=metrics,
        )


def run(ctx: StageContext) -> StageResult:
    """Ingest the raw files no earlier batch committed: plan the batch, write it, commit it in the file log."""
    require_file_sources(ctx.config)
    raw = ctx.lake.raw(ctx.pipeline)
    ctx.lake.ensure_table(ctx.table("bronze"), ctx.schema("bronze"))
    ctx.lake.ensure_table(ctx.lake.table("ingest_files"), ctx.schema("ingest_files"))
    batch = plan_batch(ctx, raw.path)
    if not batch.files:
        return _result(ctx, raw, ctx.lake.version(ctx.table("bronze")), BatchCounts({}, {}), batch)
    ctx.size_shuffles(lambda: sum(file["length"] for file in batch.files))
    bronze, counts = write_batch(ctx, batch, raw.path)
    commit_batch(ctx, batch, counts)
    return _result(ctx, raw, bronze.version, counts, batch)


def plan_batch(ctx: StageContext, raw_root: str) -> Batch:
    """The batch a killed run left planned, else the files no batch committed, logged as a new planned batch."""
    logged = _file_log(ctx, raw_root)
    batches = _batches(logged)
    open_batches = sorted(number for number, committed in batches.items() if not committed)
    if open_batches:
        planned = _planned_files(logged, open_batches[0])
        return Batch(open_batches[0], _located(ctx, planned, raw_root), resumed=True)
    return _plan_new_batch(ctx, logged, raw_root, number=max(batches, default=0) + 1)


def write_batch(ctx: StageContext, batch: Batch, raw_root: str) -> tuple[WriteResult, BatchCounts]:
    """Append the batch's typed records to bronze and its untypeable ones to rejects, each at most once."""
    cfg = ctx.config.ingest
    records = drop_forgotten(_read_batch(ctx, batch.files, raw_root), ctx.lake, ctx.pipeline, ctx.config.privacy)
    # The raw record is kept for the records typing rejected; caching it for the others would double the cache
    # (an id's losers get their typed record in rejects instead).
    records = records.withColumn("value", F.when(F.col(REJECT_RULE).isNotNull(), F.col("value")))
    with Persisted() as cache:
        typed = cache.keep(records)
        losers = cache.keep(duplicate_id_losers(typed, known=_known_ids(ctx, batch.files)))
        records = flag_losers(typed, F.broadcast(losers) if losers.count() <= _BROADCAST_LOSERS else losers)
        counts = count_records(records)
        vanished = _vanished_files(ctx, batch.files, counts.per_file, raw_root)
        for name in vanished:
            counts.per_file[name] = {"records": 1, "bronze_rows": 0, "rejected_rows": 1}
            counts.by_rule[UNREADABLE] = counts.by_rule.get(UNREADABLE, 0) + 1
        txn = (f"refinery-ingest-{ctx.pipeline}", batch.number)
        bronze = ctx.lake.append(ctx.table("bronze"), kept_rows(records), ctx.schema("bronze"), txn=txn)
        if bronze.skipped and counts.rows_out and not batch.resumed:
            # Only a resumed batch may find its append done already; a new batch number taken by another
            # writer must not log these files as committed (the lease makes this a should-not-happen).
            raise RuntimeError(f"ingest batch {batch.number} was committed by another writer; rerun to ingest")
        kill_point("ingest:after_bronze")
        rejects = None
        if counts.rows_in - counts.rows_out:
            quarantined = quarantine(records, cfg.reject_record_chars)
            if vanished:
                unread = ctx.spark.createDataFrame(
                    [(name, UNREADABLE, _VANISHED) for name in vanished], "_file string, rule string, detail string"
                )
                quarantined = quarantined.unionByName(unread, allowMissingColumns=True)
            rejects, _ = write_rejects(ctx, STAGE, quarantined, txn=txn, counts=counts.by_rule)
    check_written(f"ingest batch {batch.number}", counts, bronze, rejects)
    return bronze, counts


def quarantine(records: DataFrame, record_chars: int) -> DataFrame:
    """The rejected records, each with its raw `record` (or the `record` typing made of it: record data
    without its identifiers; or, where the raw record was not kept, its typed fields as JSON) PII-redacted and
    truncated to `record_chars` (none for a forgotten subject's: `write_rejects` withholds it)."""
    if "record" in records.columns:
        raw = F.col("record")
    else:
        typed = [name for name in _TYPED_FIELDS if name in records.columns]
        raw = F.coalesce(F.col("value"), F.to_json(F.struct(*typed))) if typed else F.col("value")
    return rejected_rows(records).withColumn("record", redact_column(F.substring(raw, 1, record_chars)))


def check_written(what: str, counts: BatchCounts, bronze: WriteResult, rejects: WriteResult | None) -> None:
    """Raise when a commit holds other than the counted rows (a write that made no commit is a replay)."""
    for write, expected in ((bronze, counts.rows_out), (rejects, counts.rows_in - counts.rows_out)):
        if write is not None and not write.skipped and write.rows_written != expected:
            raise RuntimeError(f"{what}: Delta wrote {write.rows_written} rows, expected {expected}")


def commit_batch(ctx: StageContext, batch: Batch, counts: BatchCounts) -> None:
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
            **counts.per_file.get(row["path"], {}),
        }
        for row in batch.files
    ]
    _log_files(ctx, committed)


def _result(ctx: StageContext, raw, version: int | None, counts: BatchCounts, batch: Batch) -> StageResult:
    metrics = {"files": str(len(batch.files)), "files.skipped_hidden": str(batch.skipped_hidden)}
    if batch.files:
        metrics["batch"] = str(batch.number)
        metrics["resumed"] = str(batch.resumed).lower()
        for source in ctx.config.ingest.file_sources:
            metrics[f"files.{source.name}"] = str(sum(row["source"] == source.name for row in batch.files))
    return counts.stage_result(ctx, read=raw, version=version, metrics=metrics)


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


def _planned_files(files: DataFrame, batch: int) -> list[dict]:
    """The file rows of a batch that was planned but not committed (a run that did not finish)."""
    rows = files.where((F.col("batch") == batch) & (F.col("status") == PLANNED))
    return [row.asDict() for row in rows.select(*_PLAN_COLUMNS).orderBy("path").collect()]


_AUTHORITY = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*")
_PLAN_COLUMNS = ("pipeline", "source", "path", "length", "modified_at", "batch")


def _plan_new_batch(ctx: StageContext, files: DataFrame, raw_root: str, *, number: int) -> Batch:
    """List every source and log the files no batch committed as batch `number`.

    Files with a hidden name (`_` or `.` below the source folder: Spark's readers never open them) are
    logged once as `skipped` with the reason, and counted, rather than passed over in silence.
    """
    cfg = ctx.config.ingest
    listed = [(source, logged_name(name), name, *rest) for source, name, *rest in _listing(ctx, raw_root)]
    if not listed:
        return Batch(number, [], resumed=False)
    listing = ctx.spark.createDataFrame(
        listed, "source string, path string, location string, length bigint, modified_at timestamp, hidden boolean"
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
    planned = [logged_row(row, number, PLANNED) for row in chosen]
    if skips:
        log.warning(
            "ingest: skipped %d file(s) with hidden names (see _refinery/ingest_files, status skipped)", len(skips)
        )
    if skips or planned:
        _log_files(ctx, skips + planned)
    files = [
        {**{k: row[k] for k in _PLAN_COLUMNS}, "location": file["location"]}
        for row, file in zip(planned, chosen, strict=True)
    ]
    return Batch(number, files, False, len(skips))


def _listing(ctx: StageContext, raw_root: str) -> list[tuple]:
    """(source, name relative to the raw root, length, modified_at, hidden) of every file of every source."""
    return [
        (source.name, below_or_absolute(f.path, raw_root), f.length, f.modified_at, f.hidden)
        for source in ctx.config.ingest.file_sources
        for f in list_files(ctx.spark, source.folder(raw_root), glob=source.glob)
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


def _vanished_files(ctx: StageContext, planned: list[dict], per_file: dict, raw_root: str) -> list[str]:
    """Planned files (relative names) of byte formats that gave no row at all and can no longer be opened:
    deleted, renamed or unreadable after they were listed. A file that can be read but holds no record
    (a CSV header alone) is fine; Parquet and WARC files report their own errors."""
    formats = {source.name: source.format for source in ctx.config.ingest.sources}
    vanished = []
    for row in planned:
        name = row["path"]
        if name in per_file or not row["length"] or formats.get(row["source"]) not in BYTE_FORMATS:
            continue
        if not is_readable(ctx.spark, file_location(row["location"], raw_root)):
            vanished.append(name)
    if vanished:
        log.warning("ingest: %d planned file(s) could not be read; each is an unreadable_file reject", len(vanished))
    return vanished


def _read_batch(ctx: StageContext, planned: list[dict], raw_root: str) -> DataFrame:
    """Typed records of the planned files of every source, with lineage and reject flags."""
    cfg = ctx.config.ingest
    parts = []
    for source in cfg.file_sources:
        files = [file_location(row["location"], raw_root) for row in planned if row["source"] == source.name]
        if not files:
            continue
        folder = source.folder(raw_root)
        limits = {
            "fields": source.fields,
            "max_record_chars": cfg.max_record_chars,
            "max_fields": cfg.max_fields,
        }
        if source.format == "parquet" and ctx.config.kind == "text":
            rows = read_parquet_rows(ctx.spark, files, root=raw_root)
            typed = rows.transform(type_columns, lineage=("_file", "_line"), **limits)
        else:
            raw = read_records(
                ctx.spark, files, root=raw_root, folder=folder, fmt=source.format, csv_options=source.csv
            )
            typed = raw.transform(_typing(ctx, limits))
        parts.append(typed.withColumn("_source_name", F.lit(source.name)))
    records = parts[0]
    for part in parts[1:]:
        records = records.unionByName(part)
    renamed = {row["location"]: row["path"] for row in planned if row["location"] != row["path"]}
    if renamed:  # lineage names the files as the file log does
        records = records.replace(renamed, subset=["_file"])
    return records.transform(add_lineage, run_id=ctx.run_id, ingested_at=ctx.started_at)


def _typing(ctx: StageContext, limits: dict):
    """The transform that types raw records for the pipeline's kind: text documents, or record data."""
    if ctx.config.kind == "text":
        return lambda raw: parse_json_records(raw, **limits)
    return tabular_typing(ctx.config.tabular, ctx.schema("bronze"), limits["max_record_chars"])


def _known_ids(ctx: StageContext, planned: list[dict]) -> DataFrame:
    """Ids bronze already holds, less the rows of this batch's own files (a resumed batch wrote those)."""
    own_files = ctx.spark.createDataFrame([(row["path"],) for row in planned], "_file string")
    bronze = ctx.lake.read(ctx.table("bronze"))
    return bronze.select("doc_id", "_file", "_line").join(own_files, "_file", "left_anti")


def count_records(records: DataFrame) -> BatchCounts:
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
    return BatchCounts(per_file, by_rule)


def _log_files(ctx: StageContext, rows: list[dict]) -> None:
    schema = ctx.schema("ingest_files")
    values = [Row(**{name: row.get(name) for name in schema.column_names}) for row in rows]
    ctx.lake.append(ctx.lake.table("ingest_files"), ctx.spark.createDataFrame(values, schema.struct), schema)


def file_location(name: str, raw_root: str) -> str:
    """Where a logged file is, as Spark's file sources spell it (names below the raw root are relative)."""
    return name if paths.is_absolute(name) else paths.as_uri(paths.join(raw_root, name))
