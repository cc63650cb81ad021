"""Deduplication: exact (same content hash) and near (MinHash-LSH candidates, checked, clustered).

Both keep one deterministic representative per group: the order of `representative_order` decides,
never partitioning or row order. Protected rows (docs already published) are never removed: when a
group holds one, it is the representative and the new docs in the group are the duplicates.
"""

from __future__ import annotations

from typing import Literal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from refinery.transforms.components import Checkpoint, connected_components, local_checkpoint
from refinery.transforms.minhash import MinHasher, add_shingle_set, add_signature_agreement
from refinery.transforms.rules import Rule, flag_rejects

Keep = Literal["smallest_doc_id", "longest"]
Verify = Literal["exact", "signature", "none"]
PROTECTED = "_protected"  # boolean column: a published doc, never removed


def representative_order(df: DataFrame, keep: Keep) -> list[Column]:
    """Sort order whose first row is a group's representative: protected first, then `keep`, then doc_id.

    Requires: `doc_id`, `text` (for `longest`), optionally `_protected`.
    """
    order = [_protected(df).desc()]
    if keep == "longest":
        order.append(F.length("text").desc())
    return [*order, F.col("doc_id").asc()]


def _protected(df: DataFrame) -> Column:
    """The `_protected` column, or false for every row when the frame has none."""
    return F.col(PROTECTED) if PROTECTED in df.columns else F.lit(False)


def _with_protected(df: DataFrame) -> DataFrame:
    return df if PROTECTED in df.columns else df.withColumn(PROTECTED, F.lit(False))


def flag_exact_duplicates(df: DataFrame, keep: Keep = "smallest_doc_id") -> DataFrame:
    """Keep one doc per `content_hash`; flag the others (rule `exact`, detail names the kept doc).

    Requires: `doc_id`, `content_hash`, `text` when keep='longest', optional `_protected`.
    Adds: the reject flags. The representative depends only on the data, never on partitioning.
    """
    same_content = Window.partitionBy("content_hash").orderBy(*representative_order(df, keep))
    with_keeper = df.withColumn("_kept_doc_id", F.first("doc_id").over(same_content))
    rule = Rule(
        "exact",
        (F.col("doc_id") != F.col("_kept_doc_id")) & ~_protected(df),
        F.concat(F.lit("duplicate of "), F.col("_kept_doc_id")),
    )
    return flag_rejects(with_keeper, [rule]).drop("_kept_doc_id")


# ----------------------------------------------------------------------------- near duplicates


def candidate_pairs(signed: DataFrame, *, max_bucket: int) -> DataFrame:
    """Pairs of docs that share an LSH band hash, found by a shuffle on (band, hash).

    Requires: `doc_id`, `bands`, optional `_protected`. Returns distinct (`doc_a`, `doc_b`), doc_a < doc_b.
    A bucket of up to `max_bucket` docs gives all its pairs; a bigger one (boilerplate copied
    thousands of times) links each doc to its smallest doc only, which keeps the same clusters.
    Pairs of two protected docs are skipped: they were compared when they were published.
    """
    members = F.array_sort(F.collect_list(F.struct("doc_id", PROTECTED)))
    buckets = (
        _with_protected(signed)
        .where(F.size("bands") > 0)
        .select("doc_id", PROTECTED, F.posexplode("bands").alias("band", "band_hash"))
        .groupBy("band", "band_hash")
        .agg(members.alias("docs"))
        .where(F.size("docs") > 1)
    )
    n = F.size("docs")
    firsts = buckets.select("docs", F.posexplode("docs").alias("i", "a")).where(
        (F.col("i") == 0) | (F.size("docs") <= max_bucket)
    )
    pairs = firsts.select("a", F.explode(F.slice("docs", F.col("i") + 2, n - F.col("i") - 1)).alias("b"))
    return (
        pairs.where(~(F.col("a")[PROTECTED] & F.col("b")[PROTECTED]))
        .select(F.col("a.doc_id").alias("doc_a"), F.col("b.doc_id").alias("doc_b"))
        .distinct()
    )


def _jaccard(left: Column, right: Column) -> Column:
    return F.size(F.array_intersect(left, right)) / F.size(F.array_union(left, right))


def _pair_with(pairs: DataFrame, values: DataFrame, column: str) -> DataFrame:
    """`pairs` with `<column>_a` and `<column>_b` looked up by doc_id in `values` (doc_id, column)."""
    for side in ("a", "b"):
        pairs = pairs.join(
            values.select(F.col("doc_id").alias(f"doc_{side}"), F.col(column).alias(f"{column}_{side}")), f"doc_{side}"
        )
    return pairs


def similar_pairs(
    pairs: DataFrame, signed: DataFrame, hasher: MinHasher, *, verify: Verify, texts: DataFrame | None = None
) -> DataFrame:
    """Candidate pairs checked against the threshold, with their `similarity`.

    Requires: pairs (`doc_a`, `doc_b`); signed (`doc_id`, `signature`); texts (`doc_id`, `text`) for
    verify='exact'. Returns (`doc_a`, `doc_b`, `similarity`): exact Jaccard of the shingle sets,
    the signature estimate, or null when verify='none' (every candidate is taken as similar).
    """
    if verify == "none":
        return pairs.withColumn("similarity", F.lit(None).cast("double"))
    if verify == "signature":
        scored = add_signature_agreement(_pair_with(pairs, signed, "signature"), "signature_a", "signature_b")
    else:
        if texts is None:
            raise ValueError("verify='exact' needs the texts")
        in_pairs = pairs.select(F.col("doc_a").alias("doc_id")).union(pairs.select(F.col("doc_b").alias("doc_id")))
        sets = add_shingle_set(texts.join(in_pairs.distinct(), "doc_id", "left_semi").select("doc_id", "text"), hasher)
        scored = _pair_with(pairs, sets, "shingle_set").withColumn(
            "similarity", _jaccard(F.col("shingle_set_a"), F.col("shingle_set_b"))
        )
    return scored.select("doc_a", "doc_b", "similarity").where(F.col("similarity") >= F.lit(hasher.threshold))


def near_duplicate_clusters(
    edges: DataFrame,
    docs: DataFrame,
    *,
    keep: Keep,
    max_rounds: int = 64,
    checkpoint: Checkpoint = local_checkpoint,
) -> tuple[DataFrame, int]:
    """Cluster docs linked by similar pairs and pick each cluster's representative.

    Requires: edges (`doc_a`, `doc_b`); docs (`doc_id`, `text` for keep='longest', optional `_protected`).
    Returns ((`doc_id`, `cluster`, `cluster_size`, `kept_doc_id`) for every doc in a cluster of two
    or more, rounds of connected components).
    """
    members, rounds = connected_components(
        edges, src="doc_a", dst="doc_b", max_rounds=max_rounds, checkpoint=checkpoint
    )
    attributes = _with_protected(docs).select("doc_id", "text", PROTECTED)
    in_cluster = members.select(F.col("node").alias("doc_id"), F.col("component").alias("cluster")).join(
        attributes, "doc_id"
    )
    ordered = Window.partitionBy("cluster").orderBy(*representative_order(in_cluster, keep))
    whole = Window.partitionBy("cluster")
    clusters = in_cluster.select(
        "doc_id",
        "cluster",
        PROTECTED,
        F.count("*").over(whole).alias("cluster_size"),
        F.first("doc_id").over(ordered).alias("kept_doc_id"),
    )
    return clusters, rounds


def flag_near_duplicates(df: DataFrame, clusters: DataFrame) -> DataFrame:
    """Flag docs that a cluster did not keep (rule `minhash`, detail names the kept doc).

    Requires: df (`doc_id`, optional `_protected`); clusters (`doc_id`, `cluster_size`, `kept_doc_id`).
    Adds: the reject flags. Protected docs are never flagged.
    """
    removed = clusters.where(F.col("doc_id") != F.col("kept_doc_id")).select(
        "doc_id", F.col("kept_doc_id").alias("_near_kept"), F.col("cluster_size").alias("_near_size")
    )
    joined = df.join(removed, "doc_id", "left")
    rule = Rule(
        "minhash",
        F.col("_near_kept").isNotNull() & ~_protected(df),
        F.format_string("near duplicate of %s (cluster of %d)", F.col("_near_kept"), F.col("_near_size")),
    )
    return flag_rejects(joined, [rule]).drop("_near_kept", "_near_size")
