"""What publish, releases and the card share about gold: exact placement of rows into files, gold's totals, and
the re-identification figures of record data."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from refinery.config import PublishConfig
from refinery.session import settings
from refinery.transforms.tabular.anonymity import AnonymityReport, measure_anonymity
from refinery.transforms.tabular.params import AnonymityParams


@contextmanager
def parquet_row_groups(spark: SparkSession, row_group_mb: int) -> Iterator[None]:
    """Write Parquet row groups of about `row_group_mb` inside the block (restoring the session's setting).

    Row groups are what a reader can skip: smaller ones let many loader ranks each read only their part.
    Spark copies session settings into the Hadoop conf of a write; Delta ignores it as a write option.
    """
    with settings(spark, {"parquet.block.size": str(row_group_mb * 1024 * 1024)}):
        yield


def publish_settings(cfg: PublishConfig) -> dict[str, str]:
    """What decided a gold version's rows and layout, stored with its commit and copied into releases."""
    decontamination = cfg.decontamination
    return {
        "splits": json.dumps(cfg.splits, sort_keys=True),
        "group_key": cfg.group_key,
        "salt": cfg.salt,
        "num_shards": str(cfg.num_shards),
        "tokenizer": cfg.tokenizer,
        "target_file_mb": str(cfg.target_file_mb),
        "row_group_mb": str(cfg.row_group_mb),
        "mixture": json.dumps(dataclasses.asdict(cfg.mixture), sort_keys=True),
        "decontamination": json.dumps(
            {"ngram": decontamination.ngram, "eval_sets": [s.name for s in decontamination.eval_sets]}
            if decontamination.enabled
            else {},
            sort_keys=True,
        ),
    }


def in_partitions(df: DataFrame, *, index: str, partition_of: Sequence[int]) -> DataFrame:
    """Repartition so that the rows with `index` = i lie in Spark partition `partition_of[i]`, with no other
    rows (partitions numbered 0, 1, ... without gaps).

    `repartition(n, col)` places a row at pmod(hash(col), n); a column holding, for each i, a key that
    hashes to `partition_of[i]` therefore puts it there exactly: no collisions.
    """
    partitions = max(partition_of, default=0) + 1
    keys = _keys_hashing_to_each_partition(df.sparkSession, partitions)
    key = F.element_at(F.array(*[F.lit(keys[p]).cast("long") for p in partition_of]), F.col(index) + 1)  # as hashed
    return df.withColumn("_partition_key", key).repartition(partitions, "_partition_key").drop("_partition_key")


def pack_files_into_partitions(
    df: DataFrame, *, file_index: str, file_bytes: Sequence[float], file_groups: Sequence[Hashable]
) -> DataFrame:
    """Repartition so that each file (`file_index` = i, of about `file_bytes[i]`, in table partition
    `file_groups[i]`) lies whole in one Spark partition, small files sharing partitions up to the largest
    file's size (`pack_files`). A write task writes one file per table partition it holds, so every file
    comes out as planned."""
    return in_partitions(df, index=file_index, partition_of=pack_files(file_bytes, file_groups))


def pack_files(file_bytes: Sequence[float], file_groups: Sequence[Hashable]) -> list[int]:
    """For each file, the task that writes it: first fit, largest file first, into tasks of at most the
    largest file's size, never two files of one group (table partition) in a task: the writer would make
    them one file. A large file has a task of its own; small ones share, so tasks take about as long as
    the largest file and no core waits on a tail of tiny files."""
    capacity = max(file_bytes, default=0)
    smallest = min(file_bytes, default=0)
    task_of_file = [0] * len(file_bytes)
    loads: list[float] = []
    groups: list[set] = []
    open_tasks: list[int] = []  # tasks that still have room for the smallest file
    for i in sorted(range(len(file_bytes)), key=lambda i: (-file_bytes[i], i)):
        size, group = file_bytes[i], file_groups[i]
        fits = (t for t in open_tasks if loads[t] + size <= capacity and group not in groups[t])
        task = next(fits, None)
        if task is None:
            task = len(loads)
            loads.append(0.0)
            groups.append(set())
            open_tasks.append(task)
        loads[task] += size
        groups[task].add(group)
        task_of_file[i] = task
        if loads[task] + smallest > capacity:
            open_tasks.remove(task)
    return task_of_file


def _keys_hashing_to_each_partition(spark: SparkSession, partitions: int) -> list[int]:
    """For each partition i in [0, partitions), a long key k with pmod(hash(k), partitions) = i.

    Found by hashing candidate keys in Spark (a small job).
    """
    candidates = spark.range(partitions * 40).select(
        F.col("id").alias("key"), F.pmod(F.hash(F.col("id")), F.lit(partitions)).alias("partition")
    )
    first = candidates.groupBy("partition").agg(F.min("key").alias("key")).collect()  # one row per partition
    keys = {row["partition"]: row["key"] for row in first}
    if len(keys) < partitions:
        raise RuntimeError(f"no key hashes to {partitions - len(keys)} of {partitions} partitions")
    return [keys[i] for i in range(partitions)]


def gold_totals(gold: DataFrame) -> dict[str, str]:
    """Docs and tokens in all, per split, per split and lang, and per source (and rows with repeats); for
    record data (no tokens), rows in all and per split."""
    if "n_tokens" not in gold.columns:
        per_split = gold.groupBy("split").count().collect()  # one row per split
        totals = {"rows": sum(r["count"] for r in per_split), **{f"rows.{r['split']}": r["count"] for r in per_split}}
        return {name: str(value) for name, value in sorted(totals.items())}
    grouped = (
        gold.groupBy("split", "lang", "source")
        .agg(
            F.count_if(F.col("copy") == 0).alias("docs"),
            F.count("*").alias("rows"),
            F.sum("n_tokens").alias("tokens"),
        )
        .collect()  # one row per (split, lang, source)
    )
    totals: dict[str, int] = {"docs": 0, "rows": 0, "tokens": 0}
    for r in grouped:
        totals["rows"] += r["rows"]  # docs plus mixture repeats
        for key in (f"{r['split']}", f"{r['split']}.{r['lang']}", f"source.{r['source']}", None):
            for measure in ("docs", "tokens"):
                name = measure if key is None else f"{measure}.{key}"
                totals[name] = totals.get(name, 0) + (r[measure] or 0)
    return {name: str(value) for name, value in sorted(totals.items())}


def anonymity_report(rows: DataFrame, privacy: AnonymityParams) -> AnonymityReport | None:
    """k-anonymity and l-diversity of `rows` over the quasi-identifiers (None when none is declared)."""
    if not privacy.quasi_identifiers:
        return None
    measured = measure_anonymity(
        rows,
        quasi_identifiers=privacy.quasi_identifiers,
        k=privacy.k,
        sensitive=privacy.sensitive,
        l_diversity=privacy.l_diversity,
    ).first()  # one row
    return AnonymityReport.from_row(measured)
