"""Deduplication: exact (same content hash) and near (MinHash-LSH candidates, checked, clustered).

Both keep one deterministic representative per group: the order of `representative_order` decides,
never partitioning or row order. Protected rows (docs already published) are never removed: when a
group holds one, it is the representative and the new docs in the group are the duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from refinery.rejects import EXACT, MINHASH
from refinery.transforms.components import Checkpoint, connected_components, local_checkpoint
from refinery.transforms.minhash import MinHasher, set_jaccard, signature_agreement
from refinery.transforms.minhash_spark import add_pair_similarity, to_shingle_sets
from refinery.transforms.params import Keep, Verify
from refinery.transforms.rules import Rule, flag_rejects

PROTECTED = "_protected"  # boolean column: a published doc, never removed


def representative_order(df: DataFrame, keep: Keep) -> list[Column]:
    """Sort order whose first row is a group's representative: protected first, then `keep`, then doc_id.

    Requires: `doc_id`; for `longest` `n_chars` or `text`; optionally `_protected`.
    """
    order = [_protected(df).desc()]
    if keep == "longest":
        order.append(_length(df).desc())
    return [*order, F.col("doc_id").asc()]


def _length(df: DataFrame) -> Column:
    """A doc's length in characters: `n_chars` when the frame has it, else the text's length."""
    return F.col("n_chars") if "n_chars" in df.columns else F.length("text")


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
        EXACT.name,
        (F.col("doc_id") != F.col("_kept_doc_id")) & ~_protected(df),
        F.concat(F.lit("duplicate of "), F.col("_kept_doc_id")),
    )
    return flag_rejects(with_keeper, [rule]).drop("_kept_doc_id")


# ----------------------------------------------------------------------------- near duplicates
#
# The near-duplicate steps work on `doc_key`, a 64-bit hash of `doc_id`: shuffles of longs instead of
# strings. The stage checks that no two doc_ids share a key (key_collisions) and else takes another seed.

DOC_KEY = "doc_key"


def add_doc_key(df: DataFrame, seed: int = 0) -> DataFrame:
    """Add `doc_key` (bigint): a seeded 64-bit hash of `doc_id`. Requires: `doc_id`."""
    return df.withColumn(DOC_KEY, F.xxhash64(F.lit(seed), F.col("doc_id")))


def key_collisions(df: DataFrame) -> DataFrame:
    """The doc_keys that two different doc_ids share (empty but for a 2**-64-per-pair fluke).

    Requires: `doc_id`, `doc_key`. Only longs are shuffled; doc_ids are compared for repeated keys only.
    """
    repeated = df.groupBy(DOC_KEY).count().where(F.col("count") > 1).select(DOC_KEY)
    return (
        df.join(repeated, DOC_KEY, "left_semi")
        .groupBy(DOC_KEY)
        .agg(F.min("doc_id").alias("first"), F.max("doc_id").alias("last"))
        .where(F.col("first") != F.col("last"))
    )


def candidate_pairs(signed: DataFrame, *, max_bucket: int) -> DataFrame:
    """Pairs of docs that share an LSH band hash, found by a shuffle on (band, hash).

    Requires: `doc_key`, `bands`, optional `_protected`. Returns distinct (`key_a`, `key_b`), key_a < key_b.
    Each bucket's docs arrive sorted by key, and numpy lists a bucket's pairs. A bucket of up to
    `max_bucket` docs gives all its pairs; a bigger one (boilerplate copied thousands of times) links
    each doc to its smallest key only, which keeps the same clusters. Pairs of two protected docs are
    skipped: they were compared when they were published.
    """
    members = (
        _with_protected(signed)
        .where(F.size("bands") > 0)
        .select(DOC_KEY, PROTECTED, F.posexplode("bands").alias("band", "band_hash"))
        .repartition("band", "band_hash")
        .sortWithinPartitions("band", "band_hash", DOC_KEY)
    )

    def pairs(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _pairs_of_sorted_buckets(batches, max_bucket)

    return members.mapInArrow(pairs, "key_a bigint, key_b bigint").distinct()


def _pairs_of_sorted_buckets(batches: Iterator[pa.RecordBatch], max_bucket: int) -> Iterator[pa.RecordBatch]:
    """Pairs of (doc_key, _protected, band, band_hash) rows sorted by bucket; a bucket may span batches."""
    unfinished: pa.Table | None = None  # the last bucket seen, which the next batch may continue
    for batch in batches:
        rows = pa.Table.from_batches([batch])
        if unfinished is not None:
            rows = pa.concat_tables([unfinished, rows])
        pairs, unfinished = _bucket_pairs(rows.combine_chunks(), max_bucket, complete=False)
        if pairs.num_rows:
            yield pairs
    if unfinished is not None and unfinished.num_rows:
        pairs, _ = _bucket_pairs(unfinished.combine_chunks(), max_bucket, complete=True)
        if pairs.num_rows:
            yield pairs


def _bucket_pairs(rows: pa.Table, max_bucket: int, *, complete: bool) -> tuple[pa.RecordBatch, pa.Table]:
    """(pairs of the buckets in `rows`, the rows of its last bucket unless `complete`)."""
    keys = rows.column(0).to_numpy()
    protected = rows.column(1).to_numpy(zero_copy_only=False)
    band, band_hash = rows.column(2).to_numpy(), rows.column(3).to_numpy()
    new_bucket = np.ones(len(keys), dtype=bool)
    new_bucket[1:] = (band[1:] != band[:-1]) | (band_hash[1:] != band_hash[:-1])
    starts = np.flatnonzero(new_bucket)
    end = len(keys) if complete or len(starts) == 0 else int(starts[-1])
    starts = starts[starts < end]
    sizes = np.diff(np.append(starts, end))
    bucket = np.repeat(np.arange(len(starts)), sizes)
    size = sizes[bucket]
    rank = np.arange(end) - starts[bucket]
    # How many later docs of its bucket each doc pairs with: all of them, or in a big bucket only the first doc.
    partners = np.where(size > max_bucket, np.where(rank == 0, size - 1, 0), size - 1 - rank)
    first = np.repeat(np.arange(end), partners)
    second = first + 1 + np.arange(len(first)) - np.repeat(np.cumsum(partners) - partners, partners)
    wanted = ~(protected[first] & protected[second])
    pairs = pa.RecordBatch.from_arrays(
        [pa.array(keys[first[wanted]]), pa.array(keys[second[wanted]])], names=["key_a", "key_b"]
    )
    return pairs, rows.slice(end)


def _pair_with(pairs: DataFrame, values: DataFrame, column: str) -> DataFrame:
    """`pairs` with `<column>_a` and `<column>_b` looked up by doc_key in `values` (doc_key, column)."""
    for side in ("a", "b"):
        pairs = pairs.join(
            values.select(F.col(DOC_KEY).alias(f"key_{side}"), F.col(column).alias(f"{column}_{side}")), f"key_{side}"
        )
    return pairs


def shingle_sets_of_pairs(pairs: DataFrame, texts: DataFrame, hasher: MinHasher) -> DataFrame:
    """The shingle sets of the docs in `pairs`, for verify='exact' (persist it: both sides of a pair read it).

    Requires: pairs (`key_a`, `key_b`); texts (`doc_key`, `text`). Returns (`doc_key`, `shingle_set`).
    """
    in_pairs = pairs.select(F.col("key_a").alias(DOC_KEY)).union(pairs.select(F.col("key_b").alias(DOC_KEY)))
    return to_shingle_sets(texts.select(DOC_KEY, "text").join(in_pairs.distinct(), DOC_KEY, "left_semi"), hasher)


def similar_pairs(
    pairs: DataFrame,
    hasher: MinHasher,
    *,
    verify: Verify,
    signed: DataFrame | None = None,
    sets: DataFrame | None = None,
) -> DataFrame:
    """Candidate pairs checked against the threshold, with their `similarity`.

    Requires: pairs (`key_a`, `key_b`); signed (`doc_key`, `signature`) for verify='signature'; sets
    (`doc_key`, `shingle_set`, from shingle_sets_of_pairs) for verify='exact'. Returns (`key_a`, `key_b`,
    `similarity`): exact Jaccard of the shingle sets, the signature estimate, or null when verify='none'
    (every candidate is taken as similar).
    """
    if verify == "none":
        return pairs.withColumn("similarity", F.lit(None).cast("double"))
    if verify == "signature":
        if signed is None:
            raise ValueError("verify='signature' needs the signatures")
        scored = add_pair_similarity(
            _pair_with(pairs, signed, "signature"), "signature_a", "signature_b", signature_agreement
        )
    else:
        if sets is None:
            raise ValueError("verify='exact' needs the shingle sets")
        scored = add_pair_similarity(
            _pair_with(pairs, sets, "shingle_set"), "shingle_set_a", "shingle_set_b", set_jaccard
        )
    return scored.select("key_a", "key_b", "similarity").where(F.col("similarity") >= F.lit(hasher.threshold))


def near_duplicate_clusters(
    edges: DataFrame,
    docs: DataFrame,
    *,
    keep: Keep,
    max_rounds: int = 64,
    checkpoint: Checkpoint = local_checkpoint,
) -> tuple[DataFrame, int]:
    """Cluster docs linked by similar pairs and pick each cluster's representative.

    Requires: edges (`key_a`, `key_b`); docs (`doc_key`, `doc_id`, `n_chars` or `text` for
    keep='longest', optional `_protected`). Returns ((`doc_id`, `cluster`, `cluster_size`, `kept_doc_id`)
    for every doc in a cluster of two or more, rounds of connected components). `cluster` is the
    smallest doc_key of the cluster.
    """
    members, rounds = connected_components(
        edges, src="key_a", dst="key_b", max_rounds=max_rounds, checkpoint=checkpoint
    )
    length = [_length(docs).alias("n_chars")] if keep == "longest" else []
    attributes = _with_protected(docs).select(DOC_KEY, "doc_id", PROTECTED, *length)
    in_cluster = members.select(F.col("node").alias(DOC_KEY), F.col("component").alias("cluster")).join(
        attributes, DOC_KEY
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
        MINHASH.name,
        F.col("_near_kept").isNotNull() & ~_protected(df),
        F.format_string("near duplicate of %s (cluster of %d)", F.col("_near_kept"), F.col("_near_size")),
    )
    return flag_rejects(joined, [rule]).drop("_near_kept", "_near_size")
