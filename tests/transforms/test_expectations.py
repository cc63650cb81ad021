"""Expectations: each kind and severity on a crafted table, all measured by one aggregation."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from refinery.errors import ParameterError
from refinery.transforms.rules import REJECT_DETAIL, REJECT_RULE
from refinery.transforms.tabular.expectations import flag_expectations, measure_expectations, verdicts
from refinery.transforms.tabular.params import Expectation

SCHEMA = "account_id string, email string, age int, status string, opened date, closed date"
D = dt.date
ROWS = [
    ("a-1", "ann@mail.example", 34, "active", D(2020, 1, 1), None),
    ("a-2", None, 17, "active", D(2021, 5, 1), None),  # no e-mail; too young
    ("a-3", "not an address", 52, "frozen", D(2019, 3, 1), D(2018, 1, 1)),  # bad e-mail, status, closed < opened
    ("a-3", "cy@mail.example", 41, "closed", D(2019, 3, 1), D(2022, 1, 1)),  # a-3 twice
    (None, "dee@mail.example", None, "active", D(2022, 2, 2), None),  # no key: not compared for uniqueness
]

EXPECTATIONS = [
    Expectation("email_present", "not_null", column="email", severity="warn"),
    Expectation("adult", "range", column="age", min=18, max=120),
    Expectation("known_status", "allowed", column="status", values=["active", "closed"], severity="warn"),
    Expectation("email_shape", "regex", column="email", pattern=r"[^@\s]+@[^@\s]+"),
    Expectation("one_row_per_account", "unique", columns=["account_id"], severity="warn"),
    Expectation("closed_after_opened", "compare", column="closed", op=">=", other="opened"),
    Expectation("some_rows", "row_count", min=1, severity="fail"),
    Expectation("few_missing_ages", "null_rate", column="age", max=0.1, severity="warn"),
    Expectation("several_statuses", "distinct_count", column="status", min=2, max=3, severity="fail"),
]


def judge(df):
    return verdicts(measure_expectations(df, EXPECTATIONS).first(), EXPECTATIONS)


def test_the_first_drop_expectation_a_row_breaks_decides_its_reject(spark):
    df = spark.createDataFrame(ROWS, SCHEMA)
    flagged = flag_expectations(df, EXPECTATIONS).select("account_id", "age", REJECT_RULE, REJECT_DETAIL)
    expected = spark.createDataFrame(
        [
            ("a-1", 34, None, None),
            ("a-2", 17, "expect:adult", "age outside [18, 120]"),  # also without e-mail: a warning only
            ("a-3", 52, "expect:email_shape", "email does not match the expected pattern"),  # and closed < opened
            ("a-3", 41, None, None),  # a duplicated key: a warning only
            (None, None, None, None),  # a null age passes the range
        ],
        f"account_id string, age int, {REJECT_RULE} string, {REJECT_DETAIL} string",
    )
    assert_df_equality(flagged, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_unique_drop_flags_every_row_of_a_duplicated_key_but_not_null_keys(spark):
    unique = [Expectation("one_row_per_account", "unique", columns=["account_id"])]
    flagged = flag_expectations(spark.createDataFrame(ROWS, SCHEMA), unique)
    rules = sorted((r.account_id or "", r[REJECT_RULE] or "") for r in flagged.collect())
    assert rules == [("", ""), ("a-1", ""), ("a-2", ""), ("a-3", "expect:one_row_per_account")] + [
        ("a-3", "expect:one_row_per_account")
    ]


def test_one_aggregation_measures_every_expectation(spark):
    judged = judge(spark.createDataFrame(ROWS, SCHEMA))
    measured = {v.expectation.name: (v.measured, v.holds) for v in judged}
    assert measured == {
        "email_present": (1, False),
        "adult": (1, False),
        "known_status": (1, False),
        "email_shape": (1, False),
        "one_row_per_account": (2, False),
        "closed_after_opened": (1, False),
        "some_rows": (5, True),
        "few_missing_ages": (0.2, False),
        "several_statuses": (3, True),
    }
    assert [v.describe() for v in judged if v.expectation.name in ("adult", "few_missing_ages")] == [
        "adult: 1 row(s) break it",
        "few_missing_ages: null_rate 0.2, expected in [, 0.1]",
    ]


def test_an_empty_table_breaks_no_row_expectation(spark):
    empty = spark.createDataFrame([], SCHEMA)
    assert {v.expectation.name for v in judge(empty) if not v.holds} == {"some_rows", "several_statuses"}


def test_details_never_carry_the_value(spark):
    df = spark.createDataFrame(ROWS, SCHEMA)
    every_drop = [Expectation(e.name, e.kind, **_fields(e), severity="drop") for e in EXPECTATIONS if e.per_row]
    details = [r[0] for r in flag_expectations(df, every_drop).select(REJECT_DETAIL).collect() if r[0]]
    assert details and not [
        d for d in details for row in ROWS for value in row if isinstance(value, str) and value in d
    ]


def _fields(e: Expectation) -> dict:
    keys = ("column", "columns", "min", "max", "values", "pattern", "op", "other")
    return {k: getattr(e, k) for k in keys}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "x", "kind": "allowed", "column": "status"}, "values"),
        ({"name": "x", "kind": "range", "column": "age"}, "min"),
        ({"name": "x", "kind": "range", "column": "age", "min": 5, "max": 1}, "min"),
        ({"name": "x", "kind": "row_count", "min": 1}, "severity"),  # an aggregate cannot drop rows
        ({"name": "x", "kind": "null_rate", "column": "age", "max": 2, "severity": "warn"}, "max"),
        ({"name": "x", "kind": "regex", "column": "email", "pattern": "(unclosed"}, "pattern"),
        ({"name": "Bad Name", "kind": "not_null", "column": "email"}, "name"),
    ],
)
def test_a_wrong_expectation_is_refused_naming_its_field(kwargs, field):
    with pytest.raises(ParameterError) as error:
        Expectation(**kwargs)
    assert error.value.field == field
