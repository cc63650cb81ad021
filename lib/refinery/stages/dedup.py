"""Dedup: silver -> silver_dedup, one representative per exact content hash; duplicates -> rejects."""

from __future__ import annotations

from pyspark import StorageLevel

from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.dedup import flag_exact_duplicates
from refinery.transforms.rules import flag_rejects, kept_rows, rejected_rows

STAGE = "dedup"


def run(ctx: StageContext) -> StageResult:
    """Deduplicate the latest silver version into silver_dedup (full refresh)."""
    silver_ref, silver_version, silver = ctx.read_input("silver")
    flagged = (silver.transform(flag_exact_duplicates) if ctx.config.dedup.exact else flag_rejects(silver, [])).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        rows_in = silver.count()
        output = ctx.lake.overwrite(ctx.table("silver_dedup"), kept_rows(flagged), ctx.schema("silver_dedup"))
        rejects, by_rule = write_rejects(ctx, STAGE, rejected_rows(flagged))
    finally:
        flagged.unpersist()
    return StageResult(
        stage=STAGE,
        input_table=str(silver_ref),
        input_version=silver_version,
        output_table=str(ctx.table("silver_dedup")),
        output_version=output.version,
        rows_in=rows_in,
        rows_out=output.rows_written,
        rows_rejected=rejects.rows_written,
        rejected_by_rule=by_rule,
        metrics={"dup_rate": f"{rejects.rows_written / rows_in:.4f}" if rows_in else "0"},
    )
