"""Publish: silver_dedup -> gold, split and sharded by keyed hashes, partitioned by split and lang."""

from __future__ import annotations

from pyspark.sql import functions as F

from refinery.stages.base import StageContext, StageResult
from refinery.transforms.split import add_token_count, assign_shard, assign_split

STAGE = "publish"


def run(ctx: StageContext) -> StageResult:
    """Publish the latest silver_dedup version into gold (full refresh)."""
    cfg = ctx.config.publish
    input_ref, input_version, docs = ctx.read_input("silver_dedup")
    gold = (
        docs.transform(assign_split, ratios=cfg.splits, group_key=cfg.group_key, salt=cfg.salt)
        .transform(assign_shard, num_shards=cfg.num_shards, salt=cfg.salt)
        .transform(add_token_count)
        .withColumn("_run_id", F.lit(ctx.run_id))
    )
    schema = ctx.schema("gold")
    # One writer task per (split, lang) partition keeps files few and large.
    written = ctx.lake.overwrite(ctx.table("gold"), gold.repartition(*schema.partition_by), schema)
    totals = (
        ctx.lake.read(ctx.table("gold"), written.version)
        .groupBy("split")
        .agg(F.count("*").alias("docs"), F.sum("n_tokens").alias("tokens"))
        .collect()
    )  # one row per split
    metrics = {}
    for row in totals:
        metrics[f"docs.{row['split']}"] = str(row["docs"])
        metrics[f"tokens.{row['split']}"] = str(row["tokens"])
    return StageResult(
        stage=STAGE,
        input_table=str(input_ref),
        input_version=input_version,
        output_table=str(ctx.table("gold")),
        output_version=written.version,
        rows_in=docs.count(),
        rows_out=written.rows_written,
        rows_rejected=0,
        metrics=metrics,
    )
