"""Row rules: how a transform marks a row as rejected, with a named rule and a detail.

A filtering transform never drops rows. It adds `_reject_rule` / `_reject_detail` (null while
the row is kept) and the stage splits the result into its output table and `rejects`. The
first rule a row breaks is the one recorded; a row flagged by an earlier transform keeps its flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

REJECT_RULE = "_reject_rule"
REJECT_DETAIL = "_reject_detail"


@dataclass(frozen=True)
class Rule:
    """A named rule: `breaks` is true for a row that must be removed, `detail` says why in words."""

    name: str
    breaks: Column
    detail: Column


def flag_rejects(df: DataFrame, rules: Sequence[Rule]) -> DataFrame:
    """Mark each row with the first rule it breaks.

    Requires: the columns the rules read. Adds: `_reject_rule`, `_reject_detail` (kept when present).
    """
    rule: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for r in reversed(rules):
        rule = F.when(r.breaks, F.lit(r.name)).otherwise(rule)
        detail = F.when(r.breaks, r.detail).otherwise(detail)
    return flag_computed(df, rule, detail)


def flag_computed(df: DataFrame, rule: Column, detail: Column) -> DataFrame:
    """Mark each row with `rule` / `detail` (null `rule`: kept), unless an earlier transform flagged it.

    For rules whose name is computed per row (by a UDF, say). Adds: `_reject_rule`, `_reject_detail`.
    """
    if REJECT_RULE in df.columns:
        already = already_flagged(df)
        rule = F.when(already, F.col(REJECT_RULE)).otherwise(rule)
        detail = F.when(already, F.col(REJECT_DETAIL)).otherwise(detail)
    return df.withColumns({REJECT_RULE: rule, REJECT_DETAIL: detail})


def already_flagged(df: DataFrame) -> Column:
    """True for rows an earlier transform flagged (a literal false before any transform added flags)."""
    return F.col(REJECT_RULE).isNotNull() if REJECT_RULE in df.columns else F.lit(False)


def is_kept() -> Column:
    return F.col(REJECT_RULE).isNull()


def kept_rows(df: DataFrame) -> DataFrame:
    """Rows no rule flagged, without the flag columns."""
    return df.where(is_kept()).drop(REJECT_RULE, REJECT_DETAIL)


def rejected_rows(df: DataFrame) -> DataFrame:
    """Flagged rows, with the flags renamed to the rejects table's `rule` and `detail`."""
    return df.where(~is_kept()).withColumnsRenamed({REJECT_RULE: "rule", REJECT_DETAIL: "detail"})
