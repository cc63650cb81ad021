"""Expectations evaluated as Spark Columns: every check of a table measured in one pass, drops flagged as rows.

`flag_expectations` adds, per row, the names of the row expectations it breaks (whatever their severity)
and the reject flags of the first `drop` expectation broken; `measure_expectations` is one aggregation over
that result: for a row expectation the rows that break it, for an aggregate one its measured value (the
stage reads its one row, and `verdicts` judges it). The stage then fails on a `fail` expectation whose
measure is out of bounds, counts the `warn` ones, and splits the dropped rows into rejects. A detail names
the check, never the value (it may be personal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from refinery.transforms.rules import Rule, flag_rejects
from refinery.transforms.tabular_params import Expectation

BROKEN = "_expectations_broken"  # array<string>: the row expectations a row breaks
_KEY_COUNT = "_key_count_{name}"


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
    """Judge every row against the row expectations.

    Requires: the columns the expectations name. Adds: `_expectations_broken` (array<string> of names) and
    the reject flags (rule `expect:<name>` of the first `drop` expectation broken, in declared order).
    """
    rows = [e for e in expectations if e.per_row]
    for e in rows:
        if e.kind == "unique":
            key = [F.col(c) for c in e.columns]
            df = df.withColumn(_KEY_COUNT.format(name=e.name), F.count(F.lit(1)).over(Window.partitionBy(*key)))
    breaks = {e.name: _breaks(e) for e in rows}
    names = [F.when(breaks[e.name], F.lit(e.name)) for e in rows]
    broken = F.filter(F.array(*names), lambda name: name.isNotNull()) if names else F.array().cast("array<string>")
    df = df.withColumn(BROKEN, broken)
    dropped = [Rule(e.rule, breaks[e.name], F.lit(_detail(e))) for e in rows if e.severity == "drop"]
    return flag_rejects(df, dropped).drop(*[_KEY_COUNT.format(name=e.name) for e in rows if e.kind == "unique"])


def measure_expectations(flagged: DataFrame, expectations: Sequence[Expectation]) -> DataFrame:
    """One aggregation over `flag_expectations`'s result: one row, a column `m<i>` per expectation holding its
    measure (read it with `verdicts`).

    Requires: `_expectations_broken` and the columns the aggregate expectations name.
    """
    return flagged.agg(*[_measure(e).alias(f"m{i}") for i, e in enumerate(expectations)] or [F.lit(0)])


def verdicts(measures: Row, expectations: Sequence[Expectation]) -> list[Verdict]:
    """Each expectation's verdict from `measure_expectations`'s row."""
    return [Verdict(e, float(measures[f"m{i}"] or 0)) for i, e in enumerate(expectations)]


def _breaks(e: Expectation) -> Column:
    """True where a row breaks a row expectation (never null)."""
    value = F.col(e.column) if e.column else None
    if e.kind == "not_null":
        test = value.isNull()
    elif e.kind == "range":
        low = value < F.lit(e.min) if e.min is not None else F.lit(False)
        high = value > F.lit(e.max) if e.max is not None else F.lit(False)
        test = low | high
    elif e.kind == "allowed":
        test = ~value.cast("string").isin(list(e.values))
    elif e.kind == "regex":
        test = ~value.cast("string").rlike(f"^(?:{e.pattern})$")
    elif e.kind == "unique":
        complete = F.lit(True)
        for column in e.columns:
            complete = complete & F.col(column).isNotNull()
        test = complete & (F.col(_KEY_COUNT.format(name=e.name)) > 1)
    else:  # compare: the row holds when `column op other`
        test = ~_compare(value, e.op, F.col(e.other))
    return F.coalesce(test, F.lit(False))


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
        return F.sum(F.array_contains(F.col(BROKEN), e.name).cast("long"))
    if e.kind == "row_count":
        return F.count(F.lit(1))
    if e.kind == "null_rate":
        return F.avg(F.col(e.column).isNull().cast("double"))
    return F.count_distinct(F.col(e.column))  # distinct_count
