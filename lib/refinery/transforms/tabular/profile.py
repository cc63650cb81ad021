"""Column profiles of a table and the expectations they suggest (`refinery profile`).

`profile_columns` is one aggregation: per column its nulls, approximate distinct count, min and max (of the
value for numbers and dates, of the length for strings); `refine_profiles` is a second, small one: the
values of the columns with few, and the exact distinct count of the would-be keys. `suggest_expectations`
turns the profiles into `Expectation`s a user can paste into config and tighten: what the data is today, as a
starting point, not a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, NumericType, StringType

from refinery.transforms.tabular.params import Expectation

MAX_ALLOWED_VALUES = 20  # a string column with at most this many distinct values gets an `allowed` set
_KEYS = ("string", "int", "bigint")  # the types a `unique` key is suggested for


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str
    rows: int
    nulls: int
    distinct: int  # approximate (HyperLogLog, 5% error), exact for the columns `refine_profiles` counted
    low: float | str | None  # min value (a number; a date or time as text) or min length (strings)
    high: float | str | None
    values: tuple[str, ...] = ()  # every distinct value, when there are few

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


def profile_columns(df: DataFrame) -> DataFrame:
    """One row: `rows`, and per column i `nulls_i`, `distinct_i`, `low_i`, `high_i` (as strings).

    Requires: nothing. Adds: a one-row table (read it with `read_profiles`).
    """
    measures = [F.count(F.lit(1)).alias("rows")]
    for i, field in enumerate(df.schema.fields):
        value = F.col(f"`{field.name}`")
        ranged = F.length(value) if isinstance(field.dataType, StringType) else value
        measures += [
            F.sum(value.isNull().cast("long")).alias(f"nulls_{i}"),
            F.approx_count_distinct(value).alias(f"distinct_{i}"),
            F.min(ranged).cast("string").alias(f"low_{i}"),
            F.max(ranged).cast("string").alias(f"high_{i}"),
        ]
    return df.agg(*measures)


def refine_profiles(df: DataFrame, listed: list[str], counted: list[str]) -> DataFrame:
    """One row, a second small pass: the sorted distinct values of the `listed` columns (few-valued ones) as
    `values_<i>`, and the exact distinct count of the `counted` columns (unique candidates) as `exact_<i>`.

    Requires: the columns. Adds: a one-row table (`read_profiles` reads it).
    """
    index = {field.name: i for i, field in enumerate(df.schema.fields)}
    measures = [F.array_sort(F.collect_set(F.col(f"`{c}`").cast("string"))).alias(f"values_{index[c]}") for c in listed]
    measures += [F.count_distinct(F.col(f"`{c}`")).alias(f"exact_{index[c]}") for c in counted]
    return df.agg(*measures or [F.lit(0).alias("nothing")])


def read_profiles(df: DataFrame, row: Row, refined: Row | None = None) -> list[ColumnProfile]:
    """The profiles of table `df` from `profile_columns`'s row and, once it ran, `refine_profiles`'s."""
    more = refined.asDict() if refined is not None else {}
    return [
        ColumnProfile(
            name=field.name,
            type=field.dataType.simpleString(),
            rows=int(row["rows"]),
            nulls=int(row[f"nulls_{i}"] or 0),
            distinct=int(more.get(f"exact_{i}", row[f"distinct_{i}"]) or 0),
            low=_bound(row[f"low_{i}"], field.dataType),
            high=_bound(row[f"high_{i}"], field.dataType),
            values=tuple(more.get(f"values_{i}") or ()),
        )
        for i, field in enumerate(df.schema.fields)
    ]


def _bound(value: str | None, data_type: DataType) -> float | str | None:
    """A min or max as profiled: a number for numbers, a length for strings, else the value's text."""
    if value is None:
        return None
    if isinstance(data_type, (NumericType, StringType)):
        return float(value)
    return value


def to_refine(profiles: list[ColumnProfile]) -> tuple[list[str], list[str]]:
    """(string columns with few distinct values, to list; never-null columns about as distinct as the table is
    long, whose exact distinct count decides `unique`) for `refine_profiles`."""
    listed = [p.name for p in profiles if p.type == "string" and 0 < p.distinct <= MAX_ALLOWED_VALUES]
    counted = [p.name for p in profiles if p.rows and not p.nulls and p.distinct >= 0.9 * p.rows and p.type in _KEYS]
    return listed, counted


def suggest_expectations(profiles: list[ColumnProfile]) -> list[Expectation]:
    """Expectations that today's data meets: a column never null is `not_null` (drop); a column as distinct
    as the table is rows is `unique`; numbers and dates get their `range`, few-valued strings their
    `allowed` set, nullable columns a `null_rate` ceiling (all warn); and the table must not be empty."""
    suggested = [Expectation("not_empty", "row_count", min=1, severity="fail")]
    for p in profiles:
        name = p.name.lower()
        if p.rows and p.nulls == 0:
            suggested.append(Expectation(f"{name}_present", "not_null", column=p.name, severity="drop"))
        elif p.rows:
            ceiling = min(1.0, round(p.null_rate * 1.5 + 0.01, 3))
            suggested.append(Expectation(f"{name}_null_rate", "null_rate", column=p.name, max=ceiling, severity="warn"))
        if p.rows and p.nulls == 0 and p.distinct == p.rows and p.type in _KEYS:
            suggested.append(Expectation(f"{name}_unique", "unique", columns=[p.name], severity="warn"))
        if isinstance(p.low, float) and p.type != "string":
            suggested.append(
                Expectation(f"{name}_range", "range", column=p.name, min=p.low, max=p.high, severity="warn")
            )
        if p.type == "date" and p.low is not None:
            suggested.append(
                Expectation(f"{name}_range", "range", column=p.name, earliest=p.low, latest=p.high, severity="warn")
            )
        if p.values:
            suggested.append(
                Expectation(f"{name}_allowed", "allowed", column=p.name, values=list(p.values), severity="warn")
            )
    return suggested


def as_config(expectations: list[Expectation]) -> list[dict]:
    """Expectations as the config's YAML holds them: only the fields each one sets."""
    keys = ("name", "kind", "column", "columns", "min", "max", "earliest", "latest", "values", "pattern", "op")
    keys = (*keys, "other", "severity")
    return [{k: getattr(e, k) for k in keys if getattr(e, k) not in (None, [], "")} for e in expectations]
