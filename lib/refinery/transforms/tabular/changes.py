"""Change data (insert / update / delete with a sequence number) and the current state it makes, as transforms.

The table holds one row per key: the change with the highest sequence seen for that key. Updates are
after-images (the whole new row). A delete leaves a *tombstone row*: the key, its sequence, `_op = delete`
and the bookkeeping columns (`_`-prefixed), every data column null, so no personal value survives and a
late change older than the delete cannot bring the row back. Readers of the current state take the rows
whose `_op` is not `delete` (`current_rows`). `refinery.lake.changes.apply_changes` MERGEs the winners into the
table. So:
- the highest sequence per key wins, whatever order the changes arrive in (within a batch and across);
- a change delivered twice changes nothing (its sequence is not higher the second time);
- Delta's history keeps every earlier state (time travel), until VACUUM.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from refinery.rejects import SUPERSEDED
from refinery.transforms.rules import REJECT_DETAIL, REJECT_RULE, flag_computed

OP, SEQ = "_op", "_seq"  # the change's operation and sequence number
DELETE = "delete"
OPERATIONS = ("insert", "update", DELETE)


def latest_change_per_key(df: DataFrame, *, key: str) -> DataFrame:
    """The change with the highest sequence per key; at equal sequences a delete wins, then any one copy of
    a duplicated change (ties of different content at one sequence are a feed error: the smallest row wins,
    so the result does not depend on arrival order).

    Requires: `key`, `_seq`, `_op`. Adds: nothing (drops the changes that lose).
    """
    order = [F.col(SEQ).desc(), (F.col(OP) == DELETE).desc(), F.to_json(F.struct(*df.columns)).asc()]
    rank = F.row_number().over(Window.partitionBy(key).orderBy(*order))
    return df.withColumn("_rank", rank).where(F.col("_rank") == 1).drop("_rank")


def flag_superseded(df: DataFrame, *, key: str) -> DataFrame:
    """Flag every kept change but its key's winner (as `latest_change_per_key` ranks them), rule `superseded`.

    Requires: `key`, `_seq`, `_op`, the reject flags. Adds: nothing (sets the flags of the changes that lose).
    """
    data = [c for c in df.columns if c not in (REJECT_RULE, REJECT_DETAIL)]
    order = [F.col(SEQ).desc(), (F.col(OP) == DELETE).desc(), F.to_json(F.struct(*data)).asc()]
    rank = F.row_number().over(Window.partitionBy(key, F.col(REJECT_RULE).isNull()).orderBy(*order))
    detail = F.lit("a change with a higher sequence (or the same change) of this key is applied instead")
    ranked = df.withColumn("_rank", F.when(F.col(REJECT_RULE).isNull(), rank))
    return flag_computed(ranked, F.when(F.col("_rank") > 1, F.lit(SUPERSEDED.name)), detail).drop("_rank")


def current_rows(df: DataFrame) -> DataFrame:
    """The current state: the rows that are not tombstones."""
    return df.where(F.col(OP) != DELETE)
