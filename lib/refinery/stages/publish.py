"""Publish: silver_dedup -> gold, laid out for training.

Decontamination against evaluation sets, group-aware splits, mixture weights, BPE token counts, then
the layout: partitioned by split and lang, files of about `target_file_mb`, rows inside each file in
shuffle-key order, and a `shard` column dealing each split into equal parts. Dropped docs -> rejects.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.config import DecontaminationConfig, PublishConfig, project_path
from refinery.io.eval_sets import read_eval_texts
from refinery.lake.gold import gold_totals, pack_files_into_partitions, parquet_row_groups, publish_settings
from refinery.lake.schemas import TableSchema
from refinery.lake.store import TableRef, WriteResult
from refinery.privacy.deletion import drop_forgotten
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult
from refinery.stages.skeleton import Flagged, rebuild
from refinery.transforms.decontamination import EvalNgrams, flag_contaminated
from refinery.transforms.rules import REJECT_RULE, kept_rows, rejected_rows
from refinery.transforms.split import (
    add_file_bucket,
    add_partition_position,
    add_shuffle_key,
    assign_balanced_shard,
    assign_split,
    expand_copies,
    flag_mixture,
    shard_offsets,
)
from refinery.transforms.tokens import add_token_count

# Parquet (snappy) stores prose in about half its UTF-8 size; measured on the sample and bench corpora.
FILE_BYTES_PER_TEXT_BYTE = 0.5


def flag(ctx: StageContext, docs: DataFrame, cache: Persisted) -> Flagged:
    """Docs decontaminated, split and sampled, laid out as gold; gold is written before its rejects (a crash
    between the two leaves gold's own commit whole, and a rerun redoes both)."""
    cfg = ctx.config.publish
    eval_ngrams = load_eval_ngrams(ctx, cfg.decontamination)
    docs = drop_forgotten(docs, ctx.lake, ctx.pipeline, ctx.config.privacy)  # requests made since dedup ran
    flagged = cache.keep(flag_docs(docs, cfg, eval_ngrams))
    per_rule = flagged.groupBy(REJECT_RULE).count().collect()  # rows in and rejects by rule in one job
    counts = {r[REJECT_RULE]: r["count"] for r in per_rule if r[REJECT_RULE] is not None}
    gold, metrics = lay_out(kept_rows(flagged), cfg, cache)
    if eval_ngrams is not None:
        metrics["decontamination.eval_ngrams"] = str(len(eval_ngrams))

    def write(ref: TableRef, rows: DataFrame, schema: TableSchema) -> WriteResult:
        with parquet_row_groups(ctx.spark, cfg.row_group_mb):
            return ctx.lake.overwrite(ref, rows, schema, metadata=publish_settings(cfg))

    rows_in = sum(r["count"] for r in per_rule)
    docs_out = int(metrics["docs"])  # distinct docs; `rows` counts mixture repeats too
    return Flagged(gold, rejected_rows(flagged), rows_in, counts, metrics, rows_out=docs_out, write=write)


def run(ctx: StageContext) -> StageResult:
    """Publish the latest silver_dedup version into gold (full refresh): flag, lay out, write."""
    return rebuild(ctx, flag)


def flag_docs(docs: DataFrame, cfg: PublishConfig, eval_ngrams: EvalNgrams | None) -> DataFrame:
    """Docs with their split and mixture copies, flagged when contaminated or sampled away."""
    if eval_ngrams is not None:
        docs = docs.transform(flag_contaminated, eval_ngrams)
    mixture = cfg.mixture
    return docs.transform(assign_split, ratios=cfg.splits, group_key=cfg.group_key, salt=cfg.salt).transform(
        flag_mixture,
        by=mixture.by,
        weights=mixture.weights,
        default_weight=mixture.default_weight,
        splits=mixture.splits,
        salt=cfg.salt,
    )


def lay_out(kept: DataFrame, cfg: PublishConfig, cache: Persisted) -> tuple[DataFrame, dict[str, str]]:
    """Gold rows in the training layout (copies, tokens, files, shards, shuffle order) and gold's totals."""
    rows = (
        kept.transform(expand_copies)
        .transform(add_token_count, encoding_name=cfg.tokenizer)
        .transform(add_shuffle_key, salt=cfg.salt)
    )
    placed, files = _place_files(rows, cfg, cache)
    gold = placed.transform(assign_balanced_shard, _offsets(placed), num_shards=cfg.num_shards)
    metrics = {**gold_totals(placed), "files.planned": str(files)}
    return gold.sortWithinPartitions("split", "lang", "shuffle_key"), metrics  # the writer keeps this order


def load_eval_ngrams(ctx: StageContext, cfg: DecontaminationConfig) -> EvalNgrams | None:
    """The n-grams of every configured eval set (None when decontamination is off or lists none).

    Eval sets are small (thousands of examples): their texts are read on the driver (`read_eval_texts`)
    and their n-gram hashes go to the executors inside the task closure. A relative path is relative to
    the project folder.
    """
    if not cfg.enabled or not cfg.eval_sets:
        return None
    texts_by_set = [
        (s.name, read_eval_texts(ctx.spark, s.name, project_path(s.path), s.format, s.fields)) for s in cfg.eval_sets
    ]
    return EvalNgrams.from_texts(cfg.ngram, texts_by_set)


def _place_files(rows: DataFrame, cfg: PublishConfig, cache: Persisted) -> tuple[DataFrame, int]:
    """Rows spread over the planned gold files, each file whole in one Spark partition, sorted by shuffle
    key, persisted.

    Each (split, lang) gets ceil(estimated bytes / target) files. Files are never merged by hash collisions
    nor split; small ones share a partition (a write task) up to the largest file's size
    (`pack_files_into_partitions`), so a language of a few hundred documents costs no task of its own.
    """
    sizes = rows.groupBy("split", "lang").agg(F.sum(F.octet_length("text")).alias("bytes")).collect()  # per partition
    target = cfg.target_file_mb * 1024 * 1024
    group_bytes = {(r["split"], r["lang"]): r["bytes"] * FILE_BYTES_PER_TEXT_BYTE for r in sizes}
    files = {key: max(1, math.ceil(size / target)) for key, size in group_bytes.items()}
    first_file, file_bytes, file_groups = {}, [], []
    for key in sorted(files):
        first_file[key] = len(file_bytes)
        file_bytes += [group_bytes[key] / files[key]] * files[key]
        file_groups += [key] * files[key]
    placed = (
        rows.transform(add_file_bucket, files=files, first_file=first_file)
        .transform(pack_files_into_partitions, file_index="file_bucket", file_bytes=file_bytes, file_groups=file_groups)
        .drop("file_bucket")
        .sortWithinPartitions("split", "lang", "shuffle_key")
        .transform(add_partition_position)
    )
    placed = cache.keep(placed)
    return placed, len(file_bytes)


def _offsets(placed: DataFrame) -> DataFrame:
    """Rank offsets of each (partition, split) block, for dealing shards (a small aggregate)."""
    blocks = placed.groupBy("partition_id", "split").count().collect()  # one row per (write task, split)
    offsets = shard_offsets([(r["partition_id"], r["split"], r["count"]) for r in blocks])
    return placed.sparkSession.createDataFrame(offsets, "partition_id int, split string, rank_offset long")
