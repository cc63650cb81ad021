"""Deterministic splits, mixture weights, shuffle order, file buckets and shards for gold.

Everything here comes from salted 64-bit hashes of stable keys (a group, `doc_id`, a copy number),
never from `rand()` or row order: the same input and config give the same gold on any cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from refinery.rejects import MIXTURE_DOWNSAMPLED
from refinery.transforms.params import SPLIT_NAMES
from refinery.transforms.rules import Rule, flag_rejects

_BUCKETS = 1_000_000


def keyed_bucket(key: Column | Sequence[Column], salt: str, buckets: int = _BUCKETS) -> Column:
    """A stable bucket in [0, buckets) from a salted 64-bit hash of `key` (no rand(), no row order)."""
    keys = [key] if isinstance(key, Column) else list(key)
    return F.pmod(F.xxhash64(F.lit(salt), *keys), F.lit(buckets))


def url_host(url: Column) -> Column:
    """Lower-cased host of a URL without a leading `www.`; null when the URL has none."""
    host = F.lower(F.regexp_extract(url, r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^:/?#]+)", 1))
    return F.when(host == "", F.lit(None)).otherwise(F.regexp_replace(host, r"^www\.", ""))


def group_of(group_key: str) -> Column:
    """The split group named by `group_key`: `doc_id`, `url_host`, `meta.<key>` or any column.

    A document without a value for its group (no url, no such meta key) is a group of its own.
    """
    if group_key == "url_host":
        group = url_host(F.col("url"))
    elif group_key.startswith("meta."):
        group = F.col("meta").getItem(group_key.removeprefix("meta."))
    else:
        group = F.col(group_key).cast("string")
    return F.coalesce(group, F.concat(F.lit("doc:"), F.col("doc_id")))


def assign_split(df: DataFrame, *, ratios: Mapping[str, float], group_key: str, salt: str) -> DataFrame:
    """Assign `split` from a keyed hash of the group, so a group never straddles splits.

    Requires: `doc_id` and what `group_key` reads (`url`, `meta`, or the named column). Adds: `split`.
    A doc's split depends only on its group, the ratios and the salt: new data never moves it.
    """
    return df.withColumn("split", _split_of_bucket(keyed_bucket(group_of(group_key), salt), ratios))


def _split_of_bucket(bucket: Column, ratios: Mapping[str, float]) -> Column:
    """The split whose share of [0, _BUCKETS) holds `bucket`, the splits in SPLIT_NAMES order."""
    names = [name for name in SPLIT_NAMES if ratios.get(name, 0) > 0]
    split: Column = F.lit(names[-1])
    upper = 0.0
    for name in names[:-1]:
        upper += ratios[name]
        cut = F.lit(round(upper * _BUCKETS))
        split = F.when(bucket < cut, F.lit(name)) if name == names[0] else split.when(bucket < cut, F.lit(name))
    return split.otherwise(F.lit(names[-1])) if len(names) > 1 else split


def flag_mixture(
    df: DataFrame,
    *,
    by: str,
    weights: Mapping[str, float],
    default_weight: float,
    splits: Sequence[str],
    salt: str,
) -> DataFrame:
    """Sample each group of `by` (a source or a language) by its weight, deterministically.

    A doc of a group with weight w gets floor(w) copies plus one more when a keyed hash of its `doc_id`
    falls below w - floor(w): w = 0.3 keeps about 30% of the group, w = 2.5 repeats it 2.5 times on
    average. Only `splits` are sampled (the others keep weight 1, so evaluation stays natural).
    Requires: `doc_id`, `split`, `by`. Adds: `copies`, and flags docs left with no copy (rule
    `mixture_downsampled`).
    """
    weight: Column = F.lit(float(default_weight))
    for group, value in sorted(weights.items()):
        weight = F.when(F.col(by) == F.lit(group), F.lit(float(value))).otherwise(weight)
    weight = F.when(F.col("split").isin(list(splits)), weight).otherwise(F.lit(1.0))
    draw = keyed_bucket(F.col("doc_id"), f"{salt}:mixture") / F.lit(float(_BUCKETS))
    whole = F.floor(weight)
    copies = (whole + (draw < weight - whole).cast("int")).cast("int")
    flagged = df.withColumn("copies", copies)
    detail = F.format_string(f"{by} %s has mixture weight %s", F.col(by), weight.cast("string"))
    return flag_rejects(flagged, [Rule(MIXTURE_DOWNSAMPLED.name, F.col("copies") == 0, detail)])


def expand_copies(df: DataFrame) -> DataFrame:
    """One row per copy. Requires: `copies` (>= 1). Adds: `copy` (0, 1, ...); drops `copies`."""
    return df.withColumn("copy", F.explode(F.sequence(F.lit(0), F.col("copies") - 1))).drop("copies")


def add_shuffle_key(df: DataFrame, *, salt: str) -> DataFrame:
    """Requires: `doc_id`, `copy`. Adds: `shuffle_key`, a keyed hash that orders rows inside gold files."""
    return df.withColumn("shuffle_key", F.xxhash64(F.lit(f"{salt}:order"), F.col("doc_id"), F.col("copy")))


def add_file_bucket(
    df: DataFrame, *, files: Mapping[tuple[str, str], int], first_file: Mapping[tuple[str, str], int]
) -> DataFrame:
    """Spread each (split, lang) partition over its planned number of `files` by shuffle key.

    Requires: `split`, `lang`, `shuffle_key`. Adds: `file_bucket`, a global file number: the
    partition's `first_file` plus pmod(shuffle_key, its files).
    """
    count: Column = F.lit(1)
    first: Column = F.lit(0)
    for key in sorted(files):
        split, lang = key
        here = (F.col("split") == split) & (F.col("lang") == lang)
        count = F.when(here, F.lit(files[key])).otherwise(count)
        first = F.when(here, F.lit(first_file[key])).otherwise(first)
    return df.withColumn("file_bucket", (first + F.pmod(F.col("shuffle_key"), count)).cast("int"))


def add_partition_position(df: DataFrame) -> DataFrame:
    """Adds: `partition_id` and `position`, the row's index inside its Spark partition (0, 1, ...)."""
    pid = F.spark_partition_id()
    return df.withColumns(
        {"partition_id": pid, "position": F.monotonically_increasing_id() - pid.cast("long") * (1 << 33)}
    )


def assign_balanced_shard(df: DataFrame, offsets: DataFrame, *, num_shards: int) -> DataFrame:
    """Deal the rows of each split round-robin over `num_shards` shards: shard sizes differ by at most one.

    A row's rank in its split is its `position` plus the offset of its (partition, split) block, which
    `shard_offsets` computes from a per-block count. Requires: `split`, `partition_id`, `position`.
    Adds: `shard`; drops `partition_id` and `position`.
    """
    ranked = df.join(F.broadcast(offsets), ["partition_id", "split"])
    shard = F.pmod(F.col("position") + F.col("rank_offset"), F.lit(num_shards)).cast("int")
    return ranked.withColumn("shard", shard).drop("partition_id", "position", "rank_offset")


def shard_offsets(block_counts: Sequence[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
    """(partition_id, split, rank_offset) from (partition_id, split, rows), for `assign_balanced_shard`.

    Rows of a split inside a partition are contiguous (the partition is sorted by split first), so a
    row's rank in its split = its position - where its block starts + the split's rows in earlier partitions.
    """
    by_partition: dict[int, list[tuple[str, int]]] = {}
    for pid, split, rows in block_counts:
        by_partition.setdefault(pid, []).append((split, rows))
    seen_in_split: dict[str, int] = {}
    offsets = []
    for pid in sorted(by_partition):
        block_start = 0
        for split, rows in sorted(by_partition[pid]):
            offsets.append((pid, split, seen_in_split.get(split, 0) - block_start))
            seen_in_split[split] = seen_in_split.get(split, 0) + rows
            block_start += rows
    return offsets


def assign_stratified_split(
    df: DataFrame,
    *,
    ratios: Mapping[str, float],
    stratum: str,
    group: str,
    salt: str,
    previous: DataFrame | None = None,
) -> DataFrame:
    """Assign `split` per group so that each stratum (a label value) is split by `ratios` to within a row
    (to within a group's size when groups hold several rows), deterministically and stably.

    A group's stratum is its most frequent `stratum` value (ties: the smallest). Groups already in
    `previous` (columns: the group column, `split`) keep their split; the others fill, in the order of a
    keyed hash, what each split of their stratum lacks of its share of all the stratum's rows; what no
    split lacks (old groups filling a split beyond its share) goes by the keyed hash alone. One window orders
    a stratum's new groups, so one task sorts them all (not measured beyond the tests' thousand rows).
    Requires: `group`, `stratum`. Adds: `split`.
    """
    names = [name for name in SPLIT_NAMES if ratios.get(name, 0) > 0]
    groups = df.groupBy(F.col(group).alias("_group")).agg(
        F.count(F.lit(1)).alias("_rows"), F.mode(F.col(stratum), deterministic=True).alias("_stratum")
    )
    if previous is not None:
        kept = previous.select(F.col(group).alias("_group"), F.col("split").alias("_kept")).distinct()
        groups = groups.join(kept, groups["_group"].eqNullSafe(kept["_group"]), "left").drop(kept["_group"])
    else:
        groups = groups.withColumn("_kept", F.lit(None).cast("string"))
    in_stratum = Window.partitionBy("_stratum")
    total, cumulative = F.sum("_rows").over(in_stratum), 0.0
    lacking = F.lit(0).cast("bigint")  # rows the new groups bring to this split and the ones before it
    bounds = {}
    for name in names:
        before = F.round(total * F.lit(cumulative))
        cumulative += ratios[name]
        share = F.round(total * F.lit(cumulative)) - before
        old = F.sum(F.when(F.col("_kept") == name, F.col("_rows")).otherwise(0)).over(in_stratum)
        lacking = lacking + F.greatest(share - old, F.lit(0))
        bounds[name] = lacking
    bucket = keyed_bucket(F.coalesce(F.col("_group").cast("string"), F.lit("")), salt)
    order = Window.partitionBy("_stratum", F.col("_kept").isNull()).orderBy(bucket, "_group")
    start = F.coalesce(F.sum("_rows").over(order.rowsBetween(Window.unboundedPreceding, -1)), F.lit(0))
    chosen: Column = _split_of_bucket(bucket, ratios)  # what no split lacks goes by the hash alone
    for name in reversed(names):
        chosen = F.when(start < bounds[name], F.lit(name)).otherwise(chosen)
    assigned = groups.select("_group", F.coalesce("_kept", chosen).alias("split"))
    joined = df.join(assigned, df[group].eqNullSafe(assigned["_group"]), "left")
    return joined.drop("_group")
