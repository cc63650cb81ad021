"""Change data (insert / update / delete with a sequence number) applied to a current-state Delta table.

The table holds one row per key: the change with the highest sequence seen for that key. Updates are
after-images (the whole new row). A delete leaves a *tombstone row*: the key, its sequence, `_op = delete`
and the bookkeeping columns (`_`-prefixed), every data column null, so no personal value survives and a
late change older than the delete cannot bring the row back. Readers of the current state take the rows
whose `_op` is not `delete` (`current_rows`). So:
- the highest sequence per key wins, whatever order the changes arrive in (within a batch and across);
- a change delivered twice changes nothing (its sequence is not higher the second time);
- Delta's history keeps every earlier state (time travel), until VACUUM.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from refinery.lake import Lake, TableRef, WriteResult
from refinery.schemas import TableSchema
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


SUPERSEDED = "superseded"  # the rule of a change a newer one (or an equal duplicate) of its key outranks


def flag_superseded(df: DataFrame, *, key: str) -> DataFrame:
    """Flag every kept change but its key's winner (as `latest_change_per_key` ranks them), rule `superseded`.

    Requires: `key`, `_seq`, `_op`, the reject flags. Adds: nothing (sets the flags of the changes that lose).
    """
    data = [c for c in df.columns if c not in (REJECT_RULE, REJECT_DETAIL)]
    order = [F.col(SEQ).desc(), (F.col(OP) == DELETE).desc(), F.to_json(F.struct(*data)).asc()]
    rank = F.row_number().over(Window.partitionBy(key, F.col(REJECT_RULE).isNull()).orderBy(*order))
    detail = F.lit("a change with a higher sequence (or the same change) of this key is applied instead")
    ranked = df.withColumn("_rank", F.when(F.col(REJECT_RULE).isNull(), rank))
    return flag_computed(ranked, F.when(F.col("_rank") > 1, F.lit(SUPERSEDED)), detail).drop("_rank")


def current_rows(df: DataFrame) -> DataFrame:
    """The current state: the rows that are not tombstones."""
    return df.where(F.col(OP) != DELETE)


def apply_changes(
    lake: Lake, ref: TableRef, changes: DataFrame, schema: TableSchema, *, key: str, complete: bool = False
) -> WriteResult:
    """MERGE a batch of changes (columns of `schema`) into the current-state table `ref`, creating it first.
    Keys must not be null (reject such changes first: a null key matches nothing and would be inserted).

    With `complete`, `changes` are all the changes there are (every kept change in bronze): the table becomes
    exactly their winners. A row is rewritten when its winner differs in any column, even at an equal
    sequence (the same change curated under a new config), and a key with no kept change left (its changes
    now rejected) leaves the table. Returns the commit (rows inserted, updated and, when complete, deleted).
    """
    latest = schema.conform(changes).transform(latest_change_per_key, key=key)
    bookkeeping = [c for c in schema.column_names if c == key or c.startswith("_")]
    tombstone: dict[str, Column | str] = {
        c: (F.col(f"s.{c}") if c in bookkeeping else F.lit(None)) for c in schema.column_names
    }
    is_delete = f"s.{OP} = '{DELETE}'"
    if complete:
        update = (
            f"(({is_delete}) AND {_differs(bookkeeping)}) OR (NOT ({is_delete}) AND {_differs(schema.column_names)})"
        )
    else:
        update = f"s.{SEQ} > t.{SEQ}"

    def clauses(merge):
        merge = (
            merge.whenMatchedUpdate(condition=f"({update}) AND {is_delete}", set=tombstone)
            .whenMatchedUpdateAll(condition=update)
            .whenNotMatchedInsert(condition=is_delete, values=tombstone)
            .whenNotMatchedInsertAll()
        )
        return merge.whenNotMatchedBySourceDelete() if complete else merge

    counted = ("numTargetRowsInserted", "numTargetRowsUpdated", *(("numTargetRowsDeleted",) if complete else ()))
    return lake.merge(ref, latest, f"t.{key} = s.{key}", clauses, rows_metric=counted, schema=schema)


def _differs(columns: list[str]) -> str:
    """A MERGE condition: the target row differs from the source row in one of `columns` (nulls compared)."""
    return "(" + " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns) + ")"
