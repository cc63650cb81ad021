"""Fitting model features on the train split only (see `refinery.transforms.tabular.features`): small aggregates,
one pass for the numeric statistics and one group-by per categorical column."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.transforms.tabular.features import FeatureFit


def fit_features(
    df: DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    split_column: str = "split",
    fit_split: str = "train",
    max_categories: int = 1000,
    min_count: int = 1,
) -> FeatureFit:
    """Fit on the rows of `fit_split` only. A vocabulary holds the categories seen at least `min_count` times,
    the most frequent first (ties by value), at most `max_categories` of them; the rest map to `<unk>`."""
    train = df.where(F.col(split_column) == fit_split)
    stats = [F.count(F.lit(1)).alias("rows")]
    for i, column in enumerate(numeric):
        value = F.col(column).cast("double")
        stats += [F.avg(value).alias(f"mean{i}"), F.stddev_pop(value).alias(f"std{i}")]
    row = train.agg(*stats).first()
    vocabularies = {}
    for column in categorical:
        counts = train.where(F.col(column).isNotNull()).groupBy(F.col(column).cast("string").alias("value")).count()
        top = counts.where(F.col("count") >= min_count).orderBy(F.desc("count"), "value").limit(max_categories)
        vocabularies[column] = [r["value"] for r in top.collect()]  # at most max_categories small rows
    return FeatureFit(
        numeric={c: (float(row[f"mean{i}"] or 0.0), float(row[f"std{i}"] or 0.0)) for i, c in enumerate(numeric)},
        categorical=vocabularies,
        fitted_on=fit_split,
        rows=int(row["rows"]),
    )
