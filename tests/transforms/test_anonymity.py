"""Generalized quasi-identifiers, k-anonymity and l-diversity on a crafted table."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from refinery.errors import ParameterError
from refinery.transforms.rules import REJECT_DETAIL, REJECT_RULE
from refinery.transforms.tabular.anonymity import AnonymityReport, flag_small_classes, generalize, measure_anonymity
from refinery.transforms.tabular.params import Generalization

D = dt.date
SCHEMA = "id string, birth_date date, zip string, gender string, label int"
ROWS = [  # ages on 2026-01-01: 35, 36, 39 | 35, 36 | 52 | unknown
    ("p1", D(1990, 6, 1), "10115", "f", 1),
    ("p2", D(1989, 2, 1), "10117", "f", 0),
    ("p3", D(1986, 7, 9), "10119", "f", 1),
    ("p4", D(1990, 1, 2), "80331", "m", 0),
    ("p5", D(1989, 3, 3), "80333", "m", 0),
    ("p6", D(1973, 5, 5), "80335", "m", 1),
    ("p7", None, "80337", "m", 1),
]
GENERALIZE = [Generalization("birth_date", "age_band", 10, as_of="2026-01-01"), Generalization("zip", "prefix", 2)]
QI = ["birth_date", "zip", "gender"]


def test_birth_dates_become_age_bands_and_zip_codes_prefixes(spark):
    result = generalize(spark.createDataFrame(ROWS, SCHEMA), generalizations=GENERALIZE).select("id", *QI)
    expected = spark.createDataFrame(
        [
            ("p1", "30-39", "10", "f"),
            ("p2", "30-39", "10", "f"),
            ("p3", "30-39", "10", "f"),
            ("p4", "30-39", "80", "m"),
            ("p5", "30-39", "80", "m"),
            ("p6", "50-59", "80", "m"),
            ("p7", None, "80", "m"),
        ],
        "id string, birth_date string, zip string, gender string",
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_k_anonymity_and_l_diversity_figures(spark):
    table = generalize(spark.createDataFrame(ROWS, SCHEMA), generalizations=GENERALIZE)
    report = AnonymityReport.from_row(
        measure_anonymity(table, quasi_identifiers=QI, k=3, sensitive="label", l_diversity=2).first()
    )
    # classes: (30-39,10,f) x3 labels {0,1}; (30-39,80,m) x2 labels {0}; (50-59,80,m) x1; (null,80,m) x1
    assert report == AnonymityReport(
        rows=7, classes=4, smallest_class=1, classes_below_k=3, rows_below_k=4, lowest_diversity=1, classes_below_l=3
    )
    assert report.as_metrics()["anonymity.smallest_class"] == "1"


def test_suppression_flags_the_rows_of_small_classes_with_their_size(spark):
    table = generalize(spark.createDataFrame(ROWS, SCHEMA), generalizations=GENERALIZE)
    flagged = flag_small_classes(table, quasi_identifiers=QI, k=2).select("id", REJECT_RULE, REJECT_DETAIL)
    small = "equivalence class of 1 row(s), fewer than k = 2"
    expected = spark.createDataFrame(
        [(f"p{i}", None, None) for i in range(1, 6)] + [("p6", "k_anonymity", small), ("p7", "k_anonymity", small)],
        f"id string, {REJECT_RULE} string, {REJECT_DETAIL} string",
    )
    assert_df_equality(flagged, expected, ignore_row_order=True, ignore_nullable=True)


def test_an_empty_table_has_no_class(spark):
    empty = spark.createDataFrame([], SCHEMA)
    report = AnonymityReport.from_row(measure_anonymity(empty, quasi_identifiers=QI, k=5, sensitive="label").first())
    assert (report.rows, report.classes, report.rows_below_k) == (0, 0, 0)


def test_a_generalization_date_must_be_a_date():
    with pytest.raises(ParameterError) as error:
        Generalization("birth_date", "age_band", 10, as_of="today")
    assert error.value.field == "as_of"


def test_numbers_are_binned_into_bands(spark):
    rows = spark.createDataFrame(
        [("a", 34, 52_310.5), ("b", 40, 49_999.0), ("c", None, -10.0)], "id string, age int, income double"
    )
    bins = [Generalization("age", "bin", 10, into="age_band"), Generalization("income", "bin", 10_000)]
    result = {r.id: (r.age_band, r.income) for r in generalize(rows, generalizations=bins).collect()}
    assert result == {"a": ("30-39", "50000-59999"), "b": ("40-49", "40000-49999"), "c": (None, "-10000--1")}
