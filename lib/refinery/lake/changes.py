"""The MERGE of change data into a current-state Delta table: the changes' winners per key
(`refinery.transforms.tabular.changes`) become the table's rows; a delete leaves a tombstone row."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from refinery.lake.schemas import TableSchema
from refinery.lake.store import Lake, TableRef, WriteResult
from refinery.transforms.tabular.changes import DELETE, OP, SEQ, latest_change_per_key


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
