"""Quasi-identifiers made coarser, and the re-identification risk that is left, measured in Spark.

An equivalence class is the set of rows that share every quasi-identifier value (after generalization):
a class of size 1 is a person singled out. k-anonymity holds when every class has at least k rows;
l-diversity when every class holds at least l distinct values of the sensitive attribute (else a class
reveals it). Both are a group-by on the cluster, never a collect of the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from refinery.rejects import K_ANONYMITY
from refinery.transforms.rules import Rule, flag_rejects
from refinery.transforms.tabular.params import Generalization

CLASS_SIZE = "_class_size"


def generalize(df: DataFrame, *, generalizations: Sequence[Generalization]) -> DataFrame:
    """Replace each generalized column by its coarser value (a string), under its `into` name if it has one.

    Requires: the generalized columns (`age_band`: a date; `prefix`: any; `bin`: a number). Rewrites or renames
    them.
    """
    generalized = df.withColumns({g.output: _generalized(g) for g in generalizations})
    return generalized.drop(*[g.column for g in generalizations if g.output != g.column])


def _generalized(g: Generalization) -> Column:
    value = F.col(g.column)
    if g.kind == "prefix":
        return F.substring(value.cast("string"), 1, g.width)
    if g.kind == "bin":
        number = value.cast("double")
    else:
        number = F.floor(F.months_between(F.lit(g.as_of).cast("date"), value.cast("date")) / 12)
    low = (F.floor(number / g.width) * g.width).cast("long")
    return F.when(number.isNull(), None).otherwise(F.format_string("%d-%d", low, low + g.width - 1))


def flag_small_classes(df: DataFrame, *, quasi_identifiers: Sequence[str], k: int) -> DataFrame:
    """Flag the rows of equivalence classes smaller than k (rule `k_anonymity`, the detail gives the size).

    Requires: the quasi-identifier columns. Adds: the reject flags.
    """
    if not quasi_identifiers:
        return flag_rejects(df, [])
    size = F.count(F.lit(1)).over(Window.partitionBy(*quasi_identifiers))
    sized = df.withColumn(CLASS_SIZE, size)
    detail = F.format_string(f"equivalence class of %d row(s), fewer than k = {k}", F.col(CLASS_SIZE))
    return flag_rejects(sized, [Rule(K_ANONYMITY.name, F.col(CLASS_SIZE) < k, detail)]).drop(CLASS_SIZE)


@dataclass(frozen=True)
class AnonymityReport:
    """How identifiable a table is through its quasi-identifiers."""

    rows: int
    classes: int
    smallest_class: int  # the table is k-anonymous for every k up to this
    classes_below_k: int
    rows_below_k: int
    lowest_diversity: int | None  # fewest distinct sensitive values in a class (None: no sensitive column)
    classes_below_l: int | None

    def as_metrics(self, prefix: str = "anonymity") -> dict[str, str]:
        return {f"{prefix}.{name}": str(value) for name, value in self.__dict__.items() if value is not None}

    @classmethod
    def from_row(cls, row: Row) -> AnonymityReport:
        """The report from `measure_anonymity`'s row."""
        value = row.asDict()
        diverse = "lowest_diversity" in value
        return cls(
            rows=int(value["rows"] or 0),
            classes=int(value["classes"] or 0),
            smallest_class=int(value["smallest_class"] or 0),
            classes_below_k=int(value["classes_below_k"] or 0),
            rows_below_k=int(value["rows_below_k"] or 0),
            lowest_diversity=int(value["lowest_diversity"] or 0) if diverse else None,
            classes_below_l=int(value["classes_below_l"] or 0) if diverse else None,
        )


def measure_anonymity(
    df: DataFrame, *, quasi_identifiers: Sequence[str], k: int, sensitive: str | None = None, l_diversity: int = 2
) -> DataFrame:
    """k-anonymity (and l-diversity of `sensitive`) by one group-by on the quasi-identifiers, then one small
    aggregate: a single row for `AnonymityReport.from_row`.

    Requires: the quasi-identifier columns and `sensitive`.
    """
    if not quasi_identifiers:
        raise ValueError("k-anonymity needs at least one quasi-identifier")
    per_class = [F.count(F.lit(1)).alias("size")]
    if sensitive:
        per_class.append(F.count_distinct(F.col(sensitive)).alias("diversity"))
    classes = df.groupBy(*quasi_identifiers).agg(*per_class)
    below_k = F.col("size") < k
    totals = [
        F.sum("size").alias("rows"),
        F.count(F.lit(1)).alias("classes"),
        F.min("size").alias("smallest_class"),
        F.sum(below_k.cast("long")).alias("classes_below_k"),
        F.sum(F.when(below_k, F.col("size")).otherwise(0)).alias("rows_below_k"),
    ]
    if sensitive:
        totals += [
            F.min("diversity").alias("lowest_diversity"),
            F.sum((F.col("diversity") < l_diversity).cast("long")).alias("classes_below_l"),
        ]
    return classes.agg(*totals)
