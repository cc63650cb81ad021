"""Document ids are unique from bronze on: a second record with a known id is rejected, not merged.

The first record with an id wins: the one already in bronze, else the first in file order (file path,
then position). Any later record with that id is rejected with rule `duplicate_id`, whose detail says
where the kept record came from, so a user can see which copy stayed and fix the dump.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from refinery.rejects import DUPLICATE_ID
from refinery.transforms.rules import Rule, already_flagged, flag_rejects

_DETAIL = "_id_detail"


def flag_duplicate_ids(df: DataFrame, *, known: DataFrame) -> DataFrame:
    """Flag records whose `doc_id` is in `known` or repeats an earlier record of `df`.

    Requires: `doc_id`, `_file`, `_line`, the reject flags (rows already flagged never win an id).
    `known`: `doc_id`, `_file`, `_line` of the ids already taken (bronze). Adds: the reject flags.
    """
    return flag_losers(df, duplicate_id_losers(df, known=known))


def duplicate_id_losers(df: DataFrame, *, known: DataFrame) -> DataFrame:
    """The records of `df` (by `_file`, `_line`) that lose their id to bronze or to an earlier record, with the
    reason in `_id_detail`. Only ids and positions are shuffled, never the records; usually few rows."""
    taken = known.select(
        "doc_id", F.col("_file").alias("_known_file"), F.col("_line").alias("_known_line")
    ).dropDuplicates(["doc_id"])
    ids = df.select("doc_id", "_file", "_line", already_flagged(df).alias("_flagged"))
    first = Window.partitionBy("doc_id").orderBy("_flagged", "_file", "_line")
    ranked = (
        ids.join(taken, "doc_id", "left")
        .withColumn("_id_rank", F.row_number().over(first))
        .withColumn("_first_file", F.first("_file").over(first))
        .withColumn("_first_line", F.first("_line").over(first))
    )
    in_bronze = F.col("_known_file").isNotNull()
    detail = F.when(in_bronze, _where("ingested before from", "_known_file", "_known_line")).otherwise(
        _where("first seen in", "_first_file", "_first_line")
    )
    loses = ~F.col("_flagged") & (in_bronze | (F.col("_id_rank") > 1))
    return ranked.where(loses).select(
        F.col("_file").alias("_loser_file"), F.col("_line").alias("_loser_line"), detail.alias(_DETAIL)
    )


def flag_losers(df: DataFrame, losers: DataFrame) -> DataFrame:
    """Flag the records `losers` (from `duplicate_id_losers`, possibly with a broadcast hint) names."""
    on = df["_file"].eqNullSafe(losers["_loser_file"]) & df["_line"].eqNullSafe(losers["_loser_line"])
    marked = df.join(losers, on, "left").drop("_loser_file", "_loser_line")
    return flag_rejects(marked, [Rule(DUPLICATE_ID.name, F.col(_DETAIL).isNotNull(), F.col(_DETAIL))]).drop(_DETAIL)


def _where(words: str, file_column: str, line_column: str) -> Column:
    position = F.coalesce(F.col(line_column).cast("string"), F.lit("?"))
    return F.format_string(f"id {words} %s at position %s", F.col(file_column), position)
