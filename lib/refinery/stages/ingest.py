"""Ingest: raw JSONL files -> bronze (typed, with lineage); untypeable records -> rejects."""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.io.lines import read_lines
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.pii import redact_column
from refinery.transforms.records import RecordFields, parse_json_records
from refinery.transforms.rules import kept_rows, rejected_rows

STAGE = "ingest"


def add_lineage(df: DataFrame, *, run_id: str, ingested_at) -> DataFrame:
    """Requires: `id`, `source`, `_file`, `_line`. Adds: `doc_id`, `_ingested_at`, `_run_id`; fills `source`.

    `doc_id` is the record's own id, else a hash of its file (relative to the raw root) and line, so it
    is stable across reruns and lake moves. `source` defaults to the first component of the file path.
    """
    position_id = F.substring(F.sha2(F.concat_ws(":", "_file", F.col("_line").cast("string")), 256), 1, 32)
    default_source = F.regexp_extract("_file", r"^([^/.]+)", 1)
    return df.withColumns(
        {
            "doc_id": F.coalesce(F.nullif(F.trim("id"), F.lit("")), position_id),
            "source": F.coalesce(F.nullif(F.trim("source"), F.lit("")), default_source),
            "_ingested_at": F.lit(ingested_at),
            "_run_id": F.lit(run_id),
        }
    )


def ingest(ctx: StageContext) -> StageResult:
    """Read every raw file of the pipeline, type its records, and replace bronze and the ingest rejects."""
    cfg = ctx.config.ingest
    raw_path = cfg.path or ctx.lake.raw_path(ctx.pipeline)
    fields = RecordFields(
        id=cfg.id_field, text=cfg.text_field, url=cfg.url_field, source=cfg.source_field, meta=cfg.meta_field
    )
    records = (
        read_lines(ctx.spark, raw_path, glob=cfg.glob)
        .transform(parse_json_records, fields=fields, max_record_chars=cfg.max_record_chars)
        .transform(add_lineage, run_id=ctx.run_id, ingested_at=ctx.started_at)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        rows_in = records.count()
        files = records.select("_file").distinct().count()
        bronze = ctx.lake.overwrite(ctx.table("bronze"), kept_rows(records), ctx.schema("bronze"))
        quarantined = rejected_rows(records).withColumn(
            "record", redact_column(F.substring("value", 1, cfg.reject_record_chars))
        )
        rejects, by_rule = write_rejects(ctx, STAGE, quarantined)
    finally:
        records.unpersist()
    return StageResult(
        stage=STAGE,
        input_table=raw_path,
        input_version=None,
        output_table=str(ctx.table("bronze")),
        output_version=bronze.version,
        rows_in=rows_in,
        rows_out=bronze.rows_written,
        rows_rejected=rejects.rows_written,
        rejected_by_rule=by_rule,
        metrics={"files": str(files)},
    )
