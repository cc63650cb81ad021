"""Exact deduplication: one deterministic representative per content hash."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from refinery.transforms.rules import Rule, flag_rejects


def flag_exact_duplicates(df: DataFrame) -> DataFrame:
    """Keep the smallest `doc_id` of each `content_hash`; flag the others (rule `exact`).

    Requires: `doc_id`, `content_hash`. Adds: the reject flags (detail names the kept doc).
    The representative depends only on the data, never on partitioning or row order.
    """
    same_content = Window.partitionBy("content_hash")
    with_keeper = df.withColumn("_kept_doc_id", F.min("doc_id").over(same_content))
    rule = Rule(
        "exact",
        F.col("doc_id") != F.col("_kept_doc_id"),
        F.concat(F.lit("duplicate of "), F.col("_kept_doc_id")),
    )
    return flag_rejects(with_keeper, [rule]).drop("_kept_doc_id")
