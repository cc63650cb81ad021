"""Dedup: silver -> silver_dedup. Exact duplicates, then MinHash near duplicates; removed docs -> rejects.

With `dedup.incremental`, the docs kept by earlier runs (their signatures are in the `signatures`
table, which is what publish puts in gold) always stay and their signatures are reused; only new docs
are signed, and a new doc that duplicates a published one is removed in favour of it. Then a run with the
same settings reads only the silver rows it has not deduplicated (`refinery.stages.increments`) and adds
the ones it keeps to silver_dedup.
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
from refinery.stages.increments import pinned
from refinery.stages.skeleton import Flagged, refresh
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
    return pinned(ctx.lake, ref)  # the stage adds to it: what it read before must not grow


def _sign(survivors: DataFrame, published: DataFrame | None, hasher: MinHasher) -> DataFrame:
    """Signatures of the surviving docs (without their text): reused from the signatures table when made
    with the same params."""
    length = F.col("n_chars") if "n_chars" in survivors.columns else F.length("text")
    columns = ["doc_id", "content_hash", length.cast("int").alias("n_chars"), "text", PROTECTED]
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
    cfg: DedupConfig,
    survivors: DataFrame,
    published: DataFrame | None,
    hasher: MinHasher,
    cache: Persisted,
    texts: DataFrame | None = None,
) -> NearDuplicates:
    """Sign the survivors of exact dedup, find similar pairs and cluster them; what the result refers to
    stays in `cache`.

    Requires: survivors (`doc_id`, `content_hash`, `text`, `_protected`; `n_chars` where a published doc comes
    without its text); `texts` (`doc_id`, `text`) of every survivor when the survivors' own are not all there.
    """
    m = cfg.minhash
    signed, seed = _with_unique_keys(cache.keep(add_doc_key(_sign(survivors, published, hasher))))
    candidates = cache.keep(candidate_pairs(signed, max_bucket=m.max_bucket))
    sets = None
    if m.verify == "exact":
        texts = add_doc_key((survivors if texts is None else texts).select("doc_id", "text"), seed)
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
    """Exact, then near duplicates of silver flagged; the newly kept docs' signatures are recorded before
    silver_dedup is written."""
    return _flag(ctx, silver, cache, adding=False)


def flag_new(ctx: StageContext, new: DataFrame, cache: Persisted) -> Flagged:
    """The silver rows not deduplicated yet flagged against each other and against the docs kept before (the
    signatures table, without their text but for the pairs to verify), which all stay."""
    return _flag(ctx, new, cache, adding=True)


def _flag(ctx: StageContext, silver: DataFrame, cache: Persisted, *, adding: bool) -> Flagged:
    cfg = ctx.config.dedup
    hasher = MinHasher(cfg.minhash) if cfg.minhash.enabled else None
    published = _published(ctx)
    docs = silver.withColumn(PROTECTED, F.lit(False))
    texts = None
    if adding:  # a doc signed by an attempt killed before its output was written is judged again, as new
        kept_before = published.join(silver.select("doc_id"), "doc_id", "left_anti")
        kept_before = kept_before.select("doc_id", "content_hash", "n_chars", F.lit(True).alias(PROTECTED))
        docs = docs.withColumn("n_chars", F.length("text").cast("int"))
        docs = docs.unionByName(kept_before, allowMissingColumns=True)
        kept_texts = pinned(ctx.lake, ctx.table("silver_dedup")).select("doc_id", "text")
        texts = silver.select("doc_id", "text").unionByName(kept_texts)
    elif published is not None:
        known = published.select("doc_id", F.lit(True).alias(PROTECTED))
        docs = silver.join(known, "doc_id", "left").fillna(False, subset=[PROTECTED])
    exact = docs.transform(flag_exact_duplicates, keep=cfg.keep) if cfg.exact else flag_rejects(docs, [])
    exact = flagged = cache.keep(exact)
    counts = exact.agg(F.count("*").alias("rows"), F.count_if(F.col(PROTECTED)).alias("published")).first()
    rows_in = counts["rows"] - (counts["published"] if adding else 0)
    metrics = {"signatures.published": str(counts["published"])}
    near = None
    if hasher is not None:
        near = find_near_duplicates(cfg, kept_rows(exact), published, hasher, cache, texts)
        metrics.update(near.metrics)
        if near.clusters is not None:
            flagged = exact.transform(flag_near_duplicates, near.clusters)

    def record_signatures() -> dict[str, str]:
        """Before the output: then the signatures hold every doc of silver_dedup, whatever kill comes after."""
        if near is None:
            return {}
        added = _record_signatures(ctx, near.signed, flagged, hasher)
        kill_point("dedup:after_signatures")
        return {"signatures.added": str(added)}

    def after(rejects: WriteResult) -> dict[str, str]:
        return {"dup_rate": f"{rejects.rows_written / rows_in:.4f}" if rows_in else "0"}

    kept = kept_rows(flagged)
    if adding:
        kept = kept.where(~F.col(PROTECTED)).drop("n_chars")
    return Flagged(
        kept.drop(PROTECTED),
        rejected_rows(flagged),
        rows_in,
        metrics=metrics,
        after=after,
        before_output=record_signatures,
    )


def cannot_add(ctx: StageContext) -> str | None:
    """Why dedup must rebuild silver_dedup rather than add to it (None: it may add). Adding keeps every doc kept
    before, as `dedup.incremental` does, and finds them by their signatures."""
    cfg = ctx.config.dedup
    if not cfg.incremental:
        return "dedup.incremental is off: every run chooses among all docs"
    if not cfg.minhash.enabled:
        return "dedup.minhash is off: no signatures of the docs kept before"
    if not ctx.lake.exists(ctx.table("signatures")):
        return "no signatures table yet"
    return None


def run(ctx: StageContext) -> StageResult:
    """Deduplicate the silver rows not deduplicated yet into silver_dedup, against the docs kept before; all of
    silver when the settings changed, when `cannot_add` says so, or with --full-refresh."""
    return refresh(ctx, flag, add=flag_new, cannot_add=cannot_add(ctx))


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
