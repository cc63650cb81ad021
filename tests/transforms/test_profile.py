"""Column profiles of a crafted table and the expectations they suggest, which the same table then meets."""

from __future__ import annotations

import datetime as dt

from refinery.transforms.tabular.expectations import measure_expectations, verdicts
from refinery.transforms.tabular.params import Expectation
from refinery.transforms.tabular.profile import (
    as_config,
    profile_columns,
    read_profiles,
    refine_profiles,
    suggest_expectations,
    to_refine,
)

DDL = "customer_id string, age int, income double, segment string, closed_on date, note string"
ROWS = [
    (
        f"C{i:03d}",
        20 + i % 50,
        1000.0 * (i + 1),
        ["retail", "premium"][i % 2],
        dt.date(2024, 1, 1) if i % 4 == 0 else None,
        f"n{i}" if i % 10 == 0 else None,
    )
    for i in range(40)
]


def profiles_of(spark):
    df = spark.createDataFrame(ROWS, DDL)
    row = profile_columns(df).first()
    refined = refine_profiles(df, *to_refine(read_profiles(df, row))).first()
    return df, read_profiles(df, row, refined)


def test_profiles_count_nulls_distinct_values_and_bounds(spark):
    _, profiles = profiles_of(spark)
    by_name = {p.name: p for p in profiles}
    assert (by_name["age"].low, by_name["age"].high, by_name["age"].nulls) == (20.0, 59.0, 0)
    assert (by_name["segment"].distinct, by_name["segment"].values) == (2, ("premium", "retail"))
    assert (by_name["customer_id"].low, by_name["customer_id"].high) == (4.0, 4.0)  # string lengths
    assert by_name["closed_on"].null_rate == 0.75 and by_name["closed_on"].low == "2024-01-01"
    assert by_name["note"].values == ("n0", "n10", "n20", "n30")


def test_suggestions_are_met_by_the_table_they_came_from(spark):
    df, profiles = profiles_of(spark)
    suggested = suggest_expectations(profiles)
    kinds = {(e.kind, e.column or ",".join(e.columns)) for e in suggested}
    assert {("not_null", "customer_id"), ("unique", "customer_id"), ("range", "age"), ("allowed", "segment")} <= kinds
    assert ("null_rate", "closed_on") in kinds and ("not_null", "closed_on") not in kinds
    judged = verdicts(measure_expectations(df, suggested).first(), suggested)
    assert [v.describe() for v in judged if not v.holds] == []
    config = as_config(suggested)
    assert [Expectation(**entry) for entry in config] == suggested  # pasted back, the same expectations
    assert config[0] == {"name": "not_empty", "kind": "row_count", "min": 1, "severity": "fail"}
