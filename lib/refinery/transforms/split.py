"""Deterministic train/validation/test splits, shards and token counts for gold."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from refinery.config import SPLIT_NAMES

_BUCKETS = 1_000_000
# Pre-tokens: runs of letters/digits, or single other non-space characters (GPT-style pre-tokenization).
_PRETOKEN = r"[\p{L}\p{N}]+|[^\p{L}\p{N}\s]"


def keyed_bucket(key: Column, salt: str, buckets: int = _BUCKETS) -> Column:
    """A stable bucket in [0, buckets) from a salted 64-bit hash of `key` (no rand(), no row order)."""
    return F.pmod(F.xxhash64(F.lit(salt), key), F.lit(buckets))


def url_host(url: Column) -> Column:
    """Lower-cased host of a URL without a leading `www.`; null when the URL has none."""
    host = F.lower(F.regexp_extract(url, r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^:/?#]+)", 1))
    return F.when(host == "", F.lit(None)).otherwise(F.regexp_replace(host, r"^www\.", ""))


def assign_split(df: DataFrame, *, ratios: Mapping[str, float], group_key: str, salt: str) -> DataFrame:
    """Assign `split` from a keyed hash of the group, so a group never straddles splits.

    Requires: `doc_id`, and `url` when `group_key` is `url_host` (docs without a host group alone).
    Adds: `split`. The same doc and config always land in the same split, whatever else arrives.
    """
    if group_key == "url_host":
        group = F.coalesce(url_host(F.col("url")), F.concat(F.lit("doc:"), F.col("doc_id")))
    else:
        group = F.col(group_key)
    bucket = keyed_bucket(group, salt)
    names = [name for name in SPLIT_NAMES if ratios.get(name, 0) > 0]
    split: Column = F.lit(names[-1])
    upper = 0.0
    for name in names[:-1]:
        upper += ratios[name]
        cut = F.lit(round(upper * _BUCKETS))
        split = F.when(bucket < cut, F.lit(name)) if name == names[0] else split.when(bucket < cut, F.lit(name))
    if len(names) > 1:
        split = split.otherwise(F.lit(names[-1]))
    return df.withColumn("split", split)


def assign_shard(df: DataFrame, *, num_shards: int, salt: str) -> DataFrame:
    """Requires: `doc_id`. Adds: `shard` in [0, num_shards), so N readers take disjoint parts."""
    return df.withColumn("shard", keyed_bucket(F.col("doc_id"), f"{salt}:shard", num_shards).cast("int"))


def add_token_count(df: DataFrame) -> DataFrame:
    """Requires: `text`. Adds: `n_tokens`, the number of regex pre-tokens (words, numbers, punctuation marks)."""
    return df.withColumn("n_tokens", F.size(F.regexp_extract_all(F.col("text"), F.lit(_PRETOKEN), 0)).cast("int"))
