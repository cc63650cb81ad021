"""Document ids are unique from bronze on: a second record with a known id is rejected, not merged.

The first record with an id wins: the one already in bronze, else the first in file order (file path,
then position). Any later record with that id is rejected with rule `duplicate_id`, whose detail says
where the kept record came from, so a user can see which copy stayed and fix the dump.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from refinery.transforms.rules import REJECT_RULE, Rule, flag_rejects

DUPLICATE_ID = "duplicate_id"


def flag_duplicate_ids(df: DataFrame, *, known: DataFrame) -> DataFrame:
    """Flag records whose `doc_id` is in `known` or repeats an earlier record of `df`.

    Requires: `doc_id`, `_file`, `_line`, the reject flags (rows already flagged never win an id).
    `known`: `doc_id`, `_file`, `_line` of the ids already taken (bronze). Adds: the reject flags.
    """
    taken = known.select(
        "doc_id", F.col("_file").alias("_known_file"), F.col("_line").alias("_known_line")
    ).dropDuplicates(["doc_id"])
    first = Window.partitionBy("doc_id").orderBy(F.col(REJECT_RULE).isNotNull(), "_file", "_line")
    ranked = (
        df.join(taken, "doc_id", "left")
        .withColumn("_id_rank", F.row_number().over(first))
        .withColumn("_first_file", F.first("_file").over(first))
        .withColumn("_first_line", F.first("_line").over(first))
    )
    in_bronze = F.col("_known_file").isNotNull()
    rule = Rule(
        DUPLICATE_ID,
        in_bronze | (F.col("_id_rank") > 1),
        F.when(in_bronze, _where("ingested before from", "_known_file", "_known_line")).otherwise(
            _where("first seen in", "_first_file", "_first_line")
        ),
    )
    helpers = ("_known_file", "_known_line", "_id_rank", "_first_file", "_first_line")
    return flag_rejects(ranked, [rule]).drop(*helpers)


def _where(words: str, file_column: str, line_column: str) -> Column:
    position = F.coalesce(F.col(line_column).cast("string"), F.lit("?"))
    return F.format_string(f"id {words} %s at position %s", F.col(file_column), position)
