"""Ingest: new raw files -> bronze (typed, with lineage); untypeable records -> rejects. Exactly once.

Each run takes the files no earlier batch committed, logs them as a `planned` batch in
`_refinery/ingest_files`, appends their records to bronze and rejects with Delta transaction ids
(app id per pipeline, version = batch number), then logs the files `committed` with per-file counts.
A run that died mid-way leaves a planned batch behind: the next run redoes exactly that batch, and
Delta skips whichever append had already been committed. The file log is `refinery.stages.ingest_files`.

A kind's ingest differs only in how it types a source's raw records (`Typing`): text documents here (`run`),
record data in `refinery.stages.tabular.ingest`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery import paths
from refinery.config import SourceConfig
from refinery.config.checks import require_file_sources
from refinery.faults import kill_point
from refinery.io.decode import ReadLimits
from refinery.io.listing import is_readable
from refinery.io.raw import BYTE_FORMATS, read_parquet_rows, read_records
from refinery.lake.store import TableRef, WriteResult
from refinery.privacy.deletion import drop_forgotten
from refinery.rejects import UNREADABLE_FILE
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.stages.ingest_files import Batch, commit_batch, plan_batch
from refinery.transforms.doc_ids import duplicate_id_losers, flag_losers
from refinery.transforms.params import DOCUMENT_COLUMNS
from refinery.transforms.pii import lineage_safe_column, redact_column
from refinery.transforms.records import parse_json_records, type_columns
from refinery.transforms.rules import REJECT_RULE, kept_rows, rejected_rows

STAGE = "ingest"
UNREADABLE = UNREADABLE_FILE.name
# How a kind types one source's raw records: (context, source) -> a transform of RAW_RECORD rows (refinery.io.raw)
# into typed records with reject flags.
Typing = Callable[[StageContext, SourceConfig], Callable[[DataFrame], DataFrame]]
_VANISHED = "file could not be opened or read after it was listed (deleted, renamed or unreadable)"
_BROADCAST_LOSERS = 1_000_000  # an id's losers (position and reason) up to this many are broadcast to the records

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
        return StageResult.of_counts(
            STAGE,
            read=(read, None),
            output=ctx.table("bronze"),
            output_version=version,
            rows_in=self.rows_in,
            rows_out=self.rows_out,
            rejected_by_rule=self.by_rule,
            metrics=metrics,
        )


def document_typing(ctx: StageContext, source: SourceConfig) -> Callable[[DataFrame], DataFrame]:
    """Text records: a JSON object per record, its fields named by the source (`parse_json_records`)."""
    cfg = ctx.config.ingest
    return lambda raw: parse_json_records(
        raw, fields=source.fields, max_record_chars=cfg.max_record_chars, max_fields=cfg.max_fields
    )


def run(ctx: StageContext) -> StageResult:
    """Ingest the new raw files of a text pipeline."""
    return ingest(ctx, document_typing)


def ingest(ctx: StageContext, typing: Typing) -> StageResult:
    """Ingest the raw files no earlier batch committed: plan the batch, write it, commit it in the file log."""
    require_file_sources(ctx.config)
    raw = ctx.lake.raw(ctx.pipeline)
    ctx.lake.ensure_table(ctx.table("bronze"), ctx.schema("bronze"))
    ctx.lake.ensure_table(ctx.lake.table("ingest_files"), ctx.schema("ingest_files"))
    batch = plan_batch(ctx, raw.path)
    if not batch.files:
        return _result(ctx, raw, ctx.lake.version(ctx.table("bronze")), BatchCounts({}, {}), batch)
    ctx.size_shuffles(lambda: sum(file["length"] for file in batch.files))
    bronze, counts = write_batch(ctx, batch, raw.path, typing)
    commit_batch(ctx, batch, counts.per_file)
    result = _result(ctx, raw, bronze.version, counts, batch)
    empty = [row["path"] for row in batch.files if not counts.per_file.get(row["path"], {}).get("records")]
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        result.warnings.append(f"{len(empty)} file(s) yielded no record: {shown}")
    return result


def write_batch(ctx: StageContext, batch: Batch, raw_root: str, typing: Typing) -> tuple[WriteResult, BatchCounts]:
    """Append the batch's typed records to bronze and its untypeable ones to rejects, each at most once."""
    cfg = ctx.config.ingest
    read = _read_batch(ctx, batch.files, raw_root, typing)
    records = drop_forgotten(read, ctx.lake, ctx.pipeline, ctx.config.privacy)
    # The raw record is kept for the records typing rejected; caching it for the others would double the cache
    # (an id's losers get their typed record in rejects instead).
    records = records.withColumn("value", F.when(F.col(REJECT_RULE).isNotNull(), F.col("value")))
    with Persisted() as cache:
        typed = cache.keep(records)
        losers = cache.keep(duplicate_id_losers(typed, known=_known_ids(ctx, batch)))
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
        typed = [name for name in DOCUMENT_COLUMNS if name in records.columns]
        raw = F.coalesce(F.col("value"), F.to_json(F.struct(*typed))) if typed else F.col("value")
    return rejected_rows(records).withColumn("record", redact_column(F.substring(raw, 1, record_chars)))


def check_written(what: str, counts: BatchCounts, bronze: WriteResult, rejects: WriteResult | None) -> None:
    """Raise when a commit holds other than the counted rows (a write that made no commit is a replay)."""
    for write, expected in ((bronze, counts.rows_out), (rejects, counts.rows_in - counts.rows_out)):
        if write is not None and not write.skipped and write.rows_written != expected:
            raise RuntimeError(f"{what}: Delta wrote {write.rows_written} rows, expected {expected}")


def _result(ctx: StageContext, raw, version: int | None, counts: BatchCounts, batch: Batch) -> StageResult:
    metrics = {"files": str(len(batch.files)), "files.skipped": str(batch.skipped), "files.changed": str(batch.changed)}
    if batch.files:
        metrics["batch"] = str(batch.number)
        metrics["resumed"] = str(batch.resumed).lower()
        for source in ctx.config.ingest.file_sources:
            metrics[f"files.{source.name}"] = str(sum(row["source"] == source.name for row in batch.files))
    return counts.stage_result(ctx, read=raw, version=version, metrics=metrics)


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


def _read_batch(ctx: StageContext, planned: list[dict], raw_root: str, typing: Typing) -> DataFrame:
    """Typed records of the planned files of every source, with lineage and reject flags."""
    cfg = ctx.config.ingest
    parts = []
    for source in cfg.file_sources:
        files = [file_location(row["location"], raw_root) for row in planned if row["source"] == source.name]
        if not files:
            continue
        if source.format == "parquet":  # typed already: its columns are checked (only text pipelines read it)
            rows = read_parquet_rows(ctx.spark, files, root=raw_root)
            limits = {"max_record_chars": cfg.max_record_chars, "max_fields": cfg.max_fields}
            typed = rows.transform(type_columns, fields=source.fields, lineage=("_file", "_line"), **limits)
        else:
            folder = source.folder(raw_root)
            bounds = ReadLimits.of(cfg.max_record_chars, cfg.max_inflation)
            raw = read_records(
                ctx.spark,
                files,
                root=raw_root,
                folder=folder,
                fmt=source.format,
                csv_options=source.csv,
                limits=bounds,
                encoding=source.encoding,
                check_digests=source.check_digests,
            )
            typed = raw.transform(typing(ctx, source))
        parts.append(typed.withColumn("_source_name", F.lit(source.name)))
    records = parts[0]
    for part in parts[1:]:
        records = records.unionByName(part)
    renamed = {row["location"]: row["path"] for row in planned if row["location"] != row["path"]}
    if renamed:  # lineage names the files as the file log does
        records = records.replace(renamed, subset=["_file"])
    return records.transform(add_lineage, run_id=ctx.run_id, ingested_at=ctx.started_at)


def _known_ids(ctx: StageContext, batch: Batch) -> DataFrame:
    """Ids bronze already holds, less the rows of this batch's files ingested since it was planned (its own: a
    resumed batch may find its append there). An earlier version of a changed file is known: its records stay,
    the new copies lose."""
    own_files = ctx.spark.createDataFrame([(row["path"], True) for row in batch.files], "_file string, own boolean")
    bronze = ctx.lake.read(ctx.table("bronze")).join(own_files, "_file", "left")
    own = F.coalesce(F.col("own"), F.lit(False)) & (F.col("_ingested_at") >= F.lit(batch.planned_at))
    return bronze.where(~own).select("doc_id", "_file", "_line")


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


def file_location(name: str, raw_root: str) -> str:
    """Where a logged file is, as Spark's file sources spell it (names below the raw root are relative)."""
    return name if paths.is_absolute(name) else paths.as_uri(paths.join(raw_root, name), resolve_links=False)
