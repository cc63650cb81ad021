"""Expectations evaluated as Spark Columns: every check of a table measured together, drops flagged as rows.

`measure_expectations` is one aggregation over the rows for every row and aggregate expectation (for a row
kind, the rows that break it; for an aggregate kind, its value), plus one aggregation of the key columns
per uniqueness check; the stage reads its one row and `verdicts` judges it: a `fail` expectation out of
bounds stops the stage, `warn` ones are counted. `flag_expectations` flags the rows that break a `drop`
expectation, which the stage splits into rejects. A detail names the check, never the value (it may be
personal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from refinery.transforms.rules import Rule, flag_rejects
from refinery.transforms.tabular.params import Expectation


@dataclass(frozen=True)
class Verdict:
    """An expectation's measure over a table, and whether it holds."""

    expectation: Expectation
    measured: float

    @property
    def holds(self) -> bool:
        e = self.expectation
        if e.per_row:
            return self.measured == 0
        return (e.min is None or self.measured >= e.min) and (e.max is None or self.measured <= e.max)

    def describe(self) -> str:
        e = self.expectation
        if e.per_row:
            return f"{e.name}: {self.measured:g} row(s) break it"
        bounds = f"[{'' if e.min is None else f'{e.min:g}'}, {'' if e.max is None else f'{e.max:g}'}]"
        return f"{e.name}: {e.kind} {self.measured:g}, expected in {bounds}"


def flag_expectations(df: DataFrame, expectations: Sequence[Expectation]) -> DataFrame:
    """Flag the rows that break a `drop` expectation (rule `expect:<name>`, the first one broken in declared
    order). A `unique` drop finds its duplicated keys by an aggregation of the key columns, joined back.

    Requires: the columns the expectations name. Adds: the reject flags.
    """
    dropped = [e for e in expectations if e.per_row and e.severity == "drop"]
    for e in dropped:
        if e.kind == "unique":
            duplicated = _key_counts(df, e).where(F.col("_rows") > 1).withColumnRenamed("_rows", _key_count(e))
            df = df.join(duplicated, e.columns, "left")
    rules = [Rule(e.rule, _breaks(e), F.lit(_detail(e))) for e in dropped]
    return flag_rejects(df, rules).drop(*[_key_count(e) for e in dropped if e.kind == "unique"])


def measure_expectations(df: DataFrame, expectations: Sequence[Expectation]) -> DataFrame:
    """Every expectation's measure in one row, a column `m<i>` each (read it with `verdicts`): one
    aggregation over the rows for the row and aggregate kinds, plus one group-by of its columns alone per
    `unique` (the rows whose key appears more than once) and `distinct_count` expectation.

    Requires: the columns the expectations name.
    """
    grouped = ("unique", "distinct_count")  # measured on a group-by of their columns alone
    plain = [(i, e) for i, e in enumerate(expectations) if e.kind not in grouped]
    row = df.agg(*[_measure(e).alias(f"m{i}") for i, e in plain] or [F.lit(0).alias("_none")])
    for i, e in enumerate(expectations):
        if e.kind == "unique":
            counts = _key_counts(df, e)
            row = row.crossJoin(
                counts.agg(F.sum(F.when(F.col("_rows") > 1, F.col("_rows")).otherwise(0)).alias(f"m{i}"))
            )
        elif e.kind == "distinct_count":  # a count_distinct among the other measures would double every row
            values = df.where(F.col(e.column).isNotNull()).select(e.column).distinct()
            row = row.crossJoin(values.agg(F.count(F.lit(1)).alias(f"m{i}")))
    return row


def verdicts(measures: Row, expectations: Sequence[Expectation]) -> list[Verdict]:
    """Each expectation's verdict from `measure_expectations`'s row."""
    return [Verdict(e, float(measures[f"m{i}"] or 0)) for i, e in enumerate(expectations)]


def _key_counts(df: DataFrame, e: Expectation) -> DataFrame:
    """Rows per complete key of a `unique` expectation (keys with a null part are not compared)."""
    complete = F.lit(True)
    for column in e.columns:
        complete = complete & F.col(column).isNotNull()
    return df.where(complete).groupBy(*e.columns).agg(F.count(F.lit(1)).alias("_rows"))


def _key_count(e: Expectation) -> str:
    return f"_key_count_{e.name}"


def _breaks(e: Expectation) -> Column:
    """True where a row breaks a row expectation (never null)."""
    value = F.col(e.column) if e.column else None
    if e.kind == "not_null":
        test = value.isNull()
    elif e.kind == "range":
        low, high = e.min if e.earliest is None else e.earliest, e.max if e.latest is None else e.latest
        low = value < F.lit(low).cast(_bound_type(e)) if low is not None else F.lit(False)
        high = value > F.lit(high).cast(_bound_type(e)) if high is not None else F.lit(False)
        test = low | high
    elif e.kind == "allowed":
        test = ~value.cast("string").isin(list(e.values))
    elif e.kind == "regex":
        test = ~value.cast("string").rlike(f"^(?:{e.pattern})$")
    elif e.kind == "unique":  # the duplicated keys' count, joined by `flag_expectations`
        test = F.col(_key_count(e)).isNotNull()
    else:  # compare: the row holds when `column op other`
        test = ~_compare(value, e.op, F.col(e.other))
    return F.coalesce(test, F.lit(False))


def _bound_type(e: Expectation) -> str:
    return "date" if e.earliest is not None or e.latest is not None else "double"


def _compare(left: Column, op: str, right: Column) -> Column:
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
        "==": left == right,
        "!=": left != right,
    }[op]


def _detail(e: Expectation) -> str:
    """What a dropped row broke, in words, without its value."""
    if e.kind == "not_null":
        return f"{e.column} is null"
    if e.kind == "range" and (e.earliest or e.latest):
        return f"{e.column} outside [{e.earliest or ''}, {e.latest or ''}]"
    if e.kind == "range":
        return f"{e.column} outside [{'' if e.min is None else f'{e.min:g}'}, {'' if e.max is None else f'{e.max:g}'}]"
    if e.kind == "allowed":
        return f"{e.column} not among the {len(e.values)} allowed values"
    if e.kind == "regex":
        return f"{e.column} does not match the expected pattern"
    if e.kind == "unique":
        return f"({', '.join(e.columns)}) is not unique"
    return f"not {e.column} {e.op} {e.other}"


def _measure(e: Expectation) -> Column:
    if e.per_row:
        return F.sum(_breaks(e).cast("long"))
    if e.kind == "row_count":
        return F.count(F.lit(1))
    return F.avg(F.col(e.column).isNull().cast("double"))  # null_rate
