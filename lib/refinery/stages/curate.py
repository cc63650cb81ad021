"""Curate: bronze -> silver (normalized, PII-redacted, long enough); dropped rows -> rejects."""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.config import CurateConfig
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.pii import redact_pii
from refinery.transforms.rules import kept_rows, rejected_rows
from refinery.transforms.text import add_declared_language, add_text_signals, flag_short_docs, normalize_text

STAGE = "curate"


def curate_frame(bronze: DataFrame, cfg: CurateConfig) -> DataFrame:
    """The curation transforms, shared by the batch stage and the stream: bronze rows with reject flags."""
    return (
        bronze.transform(normalize_text)
        .transform(redact_pii, actions={"email": cfg.pii.email, "phone": cfg.pii.phone})
        .transform(add_text_signals)
        .transform(add_declared_language, meta_key=cfg.lang_meta_key)
        .transform(flag_short_docs, min_words=cfg.min_words)
    )


def pii_totals(curated: DataFrame) -> dict[str, str]:
    """PII matches by kind over the kept rows, as ledger metrics (one small row per kind)."""
    rows = kept_rows(curated).select(F.explode("pii").alias("kind", "n")).groupBy("kind").agg(F.sum("n").alias("n"))
    return {f"pii.{row['kind']}": str(row["n"]) for row in rows.collect()}


def run(ctx: StageContext) -> StageResult:
    """Curate the latest bronze version into silver (full refresh)."""
    bronze_ref, bronze_version, bronze = ctx.read_input("bronze")
    curated = curate_frame(bronze, ctx.config.curate).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows_in = bronze.count()
        silver = ctx.lake.overwrite(ctx.table("silver"), kept_rows(curated), ctx.schema("silver"))
        rejects, by_rule = write_rejects(ctx, STAGE, rejected_rows(curated))
        metrics = pii_totals(curated)
    finally:
        curated.unpersist()
    return StageResult(
        stage=STAGE,
        input_table=str(bronze_ref),
        input_version=bronze_version,
        output_table=str(ctx.table("silver")),
        output_version=silver.version,
        rows_in=rows_in,
        rows_out=silver.rows_written,
        rows_rejected=rejects.rows_written,
        rejected_by_rule=by_rule,
        metrics=metrics,
    )
