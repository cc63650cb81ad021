"""Curate: bronze -> silver (normalized, PII-redacted, long enough); dropped rows -> rejects."""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import functions as F

from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.pii import redact_pii
from refinery.transforms.rules import kept_rows, rejected_rows
from refinery.transforms.text import add_declared_language, add_text_signals, flag_short_docs, normalize_text

STAGE = "curate"


def run(ctx: StageContext) -> StageResult:
    """Curate the latest bronze version into silver (full refresh)."""
    cfg = ctx.config.curate
    bronze_ref, bronze_version, bronze = ctx.read_input("bronze")
    pii_actions = {"email": cfg.pii.email, "phone": cfg.pii.phone}
    curated = (
        bronze.transform(normalize_text)
        .transform(redact_pii, actions=pii_actions)
        .transform(add_text_signals)
        .transform(add_declared_language, meta_key=cfg.lang_meta_key)
        .transform(flag_short_docs, min_words=cfg.min_words)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        rows_in = bronze.count()
        silver = ctx.lake.overwrite(ctx.table("silver"), kept_rows(curated), ctx.schema("silver"))
        rejects, by_rule = write_rejects(ctx, STAGE, rejected_rows(curated))
        pii_totals = (
            kept_rows(curated)
            .select(F.explode("pii").alias("kind", "n"))
            .groupBy("kind")
            .agg(F.sum("n").alias("n"))
            .collect()
        )  # one row per PII kind
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
        metrics={f"pii.{row['kind']}": str(row["n"]) for row in pii_totals},
    )
