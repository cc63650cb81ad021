"""Fairness and representativeness of a labelled table, per sensitive attribute and split, as Spark aggregates.

For each (split, group of the attribute): its rows, its share of the split, its label rate (the share of
positive labels) with a 95% Wilson interval, its share in a reference table (silver: who was there before
splitting and filtering) and whether it is too small to trust (fewer than `min_group_rows`). For each split,
over the groups that are not small: the demographic parity difference (highest label rate minus lowest, 0 is
parity) and ratio (lowest over highest, 1 is parity; the "80% rule" reads it), null when fewer than two groups
are large enough; a two-row group's rate says little, so it never decides them.
`add_sample_weight` reweighs rows so that attribute and label become independent (Kamiran and Calders'
reweighing: w = P(group) P(label) / P(group, label)).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SAMPLE_WEIGHT = "sample_weight"
FAIRNESS_COLUMNS = (
    "split string, attribute string, group string, rows bigint, share double, label_rate double, "
    "label_rate_low double, label_rate_high double, reference_share double, share_gap double, small boolean, "
    "parity_difference double, parity_ratio double"
)
_Z = 1.959964  # two-sided 95%


def fairness_table(
    df: DataFrame,
    reference: DataFrame,
    *,
    attribute: str,
    label: str,
    split_column: str = "split",
    min_group_rows: int = 30,
) -> DataFrame:
    """One row per (split, group) in FAIRNESS_COLUMNS; a null attribute is the group `<null>`.

    Requires: `attribute`, `label` (1 positive, 0 negative) and `split_column` in `df`; `attribute` in
    `reference`. Adds: a small table (rows are groups, not records).
    """
    group = F.coalesce(F.col(attribute).cast("string"), F.lit("<null>"))
    per_group = df.groupBy(F.col(split_column).alias("split"), group.alias("group")).agg(
        F.count(F.lit(1)).alias("rows"), F.avg(F.col(label).cast("double")).alias("label_rate")
    )
    in_split = Window.partitionBy("split")
    reference_shares = reference.groupBy(group.alias("group")).agg(F.count(F.lit(1)).alias("reference_rows"))
    reference_shares = reference_shares.select(
        "group", (F.col("reference_rows") / F.sum("reference_rows").over(Window.partitionBy())).alias("reference_share")
    )
    counted = F.col("rows") >= min_group_rows
    large_rate = F.when(counted, F.col("label_rate"))
    highest, lowest = F.max(large_rate).over(in_split), F.min(large_rate).over(in_split)
    compared = F.sum(counted.cast("int")).over(in_split) >= 2
    low, high = _wilson(F.col("label_rate"), F.col("rows"))
    table = per_group.join(F.broadcast(reference_shares), "group", "left").select(
        "split",
        F.lit(attribute).alias("attribute"),
        "group",
        "rows",
        (F.col("rows") / F.sum("rows").over(in_split)).alias("share"),
        "label_rate",
        low.alias("label_rate_low"),
        high.alias("label_rate_high"),
        F.coalesce("reference_share", F.lit(0.0)).alias("reference_share"),
        (F.col("rows") / F.sum("rows").over(in_split) - F.coalesce("reference_share", F.lit(0.0))).alias("share_gap"),
        (~counted).alias("small"),
        F.when(compared, highest - lowest).alias("parity_difference"),
        F.when(compared, F.when(highest > 0, lowest / highest).otherwise(F.lit(1.0))).alias("parity_ratio"),
    )
    return table


def _wilson(rate, rows):
    """The 95% Wilson score interval of a proportion `rate` over `rows` trials (low, high)."""
    z2 = _Z * _Z
    centre = (rate + z2 / (2 * rows)) / (1 + z2 / rows)
    half = _Z * F.sqrt(rate * (1 - rate) / rows + z2 / (4 * rows * rows)) / (1 + z2 / rows)
    return centre - half, centre + half


def add_sample_weight(df: DataFrame, *, attribute: str, label: str) -> DataFrame:
    """Weights that make `attribute` and `label` independent: n(group) n(label) / (N n(group, label)).

    Requires: `attribute`, `label`. Adds: `sample_weight` (double; the weights sum to the row count when
    every group has both labels: a (group, label) cell with no row has nothing to weigh).
    """
    group = F.coalesce(F.col(attribute).cast("string"), F.lit("<null>"))
    keyed = df.withColumns({"_group": group, "_label": F.col(label)})
    cells = keyed.groupBy("_group", "_label").agg(F.count(F.lit(1)).alias("_n_cell"))
    everything = Window.partitionBy()
    weights = cells.select(
        "_group",
        "_label",
        (
            F.sum("_n_cell").over(Window.partitionBy("_group"))
            * F.sum("_n_cell").over(Window.partitionBy("_label"))
            / (F.sum("_n_cell").over(everything) * F.col("_n_cell"))
        ).alias(SAMPLE_WEIGHT),
    )
    joined = keyed.join(F.broadcast(weights), ["_group", "_label"], "left")
    return joined.drop("_group", "_label")
