"""Dedup: silver -> silver_dedup. Exact duplicates, then MinHash near duplicates; removed docs -> rejects.

With `dedup.incremental`, the docs kept by earlier runs (their signatures are in the `signatures`
table, which is what publish puts in gold) always stay and their signatures are reused; only new docs
are signed, and a new doc that duplicates a published one is removed in favour of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.config import DedupConfig
from refinery.faults import kill_point
from refinery.lake.store import WriteResult
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult
from refinery.stages.skeleton import Flagged, rebuild
from refinery.transforms.components import local_checkpoint
from refinery.transforms.dedup import (
    PROTECTED,
    add_doc_key,
    candidate_pairs,
    flag_exact_duplicates,
    flag_near_duplicates,
    key_collisions,
    near_duplicate_clusters,
    shingle_sets_of_pairs,
    similar_pairs,
)
from refinery.transforms.minhash import MinHasher
from refinery.transforms.minhash_spark import add_minhash
from refinery.transforms.rules import flag_rejects, kept_rows, rejected_rows

CLUSTER_SIZE_BUCKETS = ((2, 2), (3, 5), (6, 10), (11, 100), (101, None))


@dataclass
class NearDuplicates:
    """What the MinHash pass found: the per-doc signatures, the clusters, and its counts for the ledger."""

    signed: DataFrame
    clusters: DataFrame | None
    metrics: dict[str, str]


def _published(ctx: StageContext) -> DataFrame | None:
    """The signatures table (docs kept by earlier runs), or None when there is none or dedup is not incremental."""
    ref = ctx.table("signatures")
    if not ctx.config.dedup.incremental or not ctx.lake.exists(ref):
        return None
    return ctx.lake.read(ref)


def _sign(survivors: DataFrame, published: DataFrame | None, hasher: MinHasher) -> DataFrame:
    """Signatures of the surviving docs (without their text): reused from the signatures table when made
    with the same params."""
    columns = ["doc_id", "content_hash", F.length("text").cast("int").alias("n_chars"), "text", PROTECTED]
    if published is None:
        return add_minhash(survivors.select(*columns), hasher, keep_text=False)
    reusable = published.where(F.col("minhash_params") == hasher.params).select(
        "doc_id", "n_shingles", "signature", "bands"
    )
    reused = survivors.select(*columns).drop("text").join(reusable, "doc_id")
    fresh = add_minhash(survivors.select(*columns).join(reusable, "doc_id", "left_anti"), hasher, keep_text=False)
    return reused.unionByName(fresh)


def _with_unique_keys(signed: DataFrame, attempts: int = 4) -> tuple[DataFrame, int]:
    """(`signed` keyed with the first seed under which no two doc_ids share a key, that seed).

    `signed` comes keyed with seed 0, which is taken but for a 2**-64-per-pair fluke.
    """
    keyed = signed
    for seed in range(attempts):
        if seed:
            keyed = add_doc_key(signed, seed)
        if key_collisions(keyed).isEmpty():
            return keyed, seed
    raise RuntimeError(f"doc_key collisions under {attempts} seeds: this is not chance, check the doc_id column")


def find_near_duplicates(
    cfg: DedupConfig, survivors: DataFrame, published: DataFrame | None, hasher: MinHasher, cache: Persisted
) -> NearDuplicates:
    """Sign the survivors of exact dedup, find similar pairs and cluster them; what the result refers to
    stays in `cache`.

    Requires: survivors (`doc_id`, `content_hash`, `text`, `_protected`).
    """
    m = cfg.minhash
    signed, seed = _with_unique_keys(cache.keep(add_doc_key(_sign(survivors, published, hasher))))
    candidates = cache.keep(candidate_pairs(signed, max_bucket=m.max_bucket))
    sets = None
    if m.verify == "exact":
        texts = add_doc_key(survivors.select("doc_id", "text"), seed)
        sets = cache.keep(shingle_sets_of_pairs(candidates, texts, hasher))
    edges = cache.keep(similar_pairs(candidates, hasher, verify=m.verify, signed=signed, sets=sets))
    similar = edges.count()
    metrics = {
        "minhash.params": hasher.params,
        "minhash.candidate_pairs": str(candidates.count()),
        "minhash.similar_pairs": str(similar),
    }
    cache.release(candidates)
    if sets is not None:
        cache.release(sets)
    clusters = None
    if similar:
        clusters, rounds = near_duplicate_clusters(
            edges, signed, keep=cfg.keep, max_rounds=m.max_rounds, checkpoint=local_checkpoint
        )
        clusters = cache.keep(clusters)
        metrics["minhash.rounds"] = str(rounds)
        metrics.update(_cluster_stats(clusters))
    cache.release(edges)
    return NearDuplicates(signed=signed, clusters=clusters, metrics=metrics)


def _cluster_stats(clusters: DataFrame) -> dict[str, str]:
    """Cluster count and a size histogram (one small row per size bucket)."""
    sizes = clusters.select("cluster", "cluster_size").distinct()
    bucket = F.lit(None).cast("string")
    for low, high in reversed(CLUSTER_SIZE_BUCKETS):
        label = f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")
        inside = F.col("cluster_size") >= low if high is None else F.col("cluster_size").between(low, high)
        bucket = F.when(inside, F.lit(label)).otherwise(bucket)
    rows = sizes.groupBy(bucket.alias("bucket")).count().collect()
    stats = {f"minhash.cluster_size.{row['bucket']}": str(row["count"]) for row in rows}
    stats["minhash.clusters"] = str(sum(row["count"] for row in rows))
    return stats


def flag(ctx: StageContext, silver: DataFrame, cache: Persisted) -> Flagged:
    """Exact, then near duplicates of silver flagged; afterwards the newly kept docs' signatures are recorded."""
    cfg = ctx.config.dedup
    hasher = MinHasher(cfg.minhash) if cfg.minhash.enabled else None
    published = _published(ctx)
    docs = silver.withColumn(PROTECTED, F.lit(False))
    if published is not None:
        known = published.select("doc_id", F.lit(True).alias(PROTECTED))
        docs = silver.join(known, "doc_id", "left").fillna(False, subset=[PROTECTED])
    exact = docs.transform(flag_exact_duplicates, keep=cfg.keep) if cfg.exact else flag_rejects(docs, [])
    exact = flagged = cache.keep(exact)
    counts = exact.agg(F.count("*").alias("rows"), F.count_if(F.col(PROTECTED)).alias("published")).first()
    rows_in = counts["rows"]
    metrics = {"signatures.published": str(counts["published"])}
    near = None
    if hasher is not None:
        near = find_near_duplicates(cfg, kept_rows(exact), published, hasher, cache)
        metrics.update(near.metrics)
        if near.clusters is not None:
            flagged = exact.transform(flag_near_duplicates, near.clusters)

    def after(rejects: WriteResult) -> dict[str, str]:
        kill_point("dedup:before_signatures")
        recorded = {"dup_rate": f"{rejects.rows_written / rows_in:.4f}" if rows_in else "0"}
        if near is not None:
            recorded["signatures.added"] = str(_record_signatures(ctx, near.signed, flagged, hasher))
        return recorded

    return Flagged(kept_rows(flagged).drop(PROTECTED), rejected_rows(flagged), rows_in, metrics=metrics, after=after)


def run(ctx: StageContext) -> StageResult:
    """Deduplicate the latest silver version into silver_dedup (full refresh of the output)."""
    return rebuild(ctx, flag)


def _record_signatures(ctx: StageContext, signed: DataFrame, flagged: DataFrame, hasher: MinHasher) -> int:
    """Add the signatures of newly kept docs to the signatures table (replace it when not incremental)."""
    kept_ids = kept_rows(flagged).select("doc_id")
    rows = (
        signed.join(kept_ids, "doc_id", "left_semi")
        .where(~F.col(PROTECTED))
        .select(
            "doc_id",
            "content_hash",
            "n_chars",
            F.lit(hasher.params).alias("minhash_params"),
            "n_shingles",
            "signature",
            "bands",
            F.lit(ctx.run_id).alias("_run_id"),
        )
    )
    ref, schema = ctx.table("signatures"), ctx.schema("signatures")
    if not ctx.config.dedup.incremental:
        return ctx.lake.overwrite(ref, rows, schema).rows_written
    return ctx.lake.insert_new(ref, rows, schema, key="doc_id").rows_written
