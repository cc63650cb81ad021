import pytest
from chispa import assert_df_equality

from refinery.transforms.pii import redact_pii, redact_text
from tests.helpers import comparable

POSITIVE = [
    ("Mail anna.schmidt@mail0.example.com today", "Mail <EMAIL> today", {"email": 1, "phone": 0}),
    ("Call +1 415 555 0132 or (415) 555-0199.", "Call <PHONE> or <PHONE>.", {"email": 0, "phone": 2}),
    ("Ruf an: +49 30 1234567, +33 1 42 68 53 00", "Ruf an: <PHONE>, <PHONE>", {"email": 0, "phone": 2}),
    ("US style 212-555-0147 and +44 20 7946 0958", "US style <PHONE> and <PHONE>", {"email": 0, "phone": 2}),
]
NEGATIVE = [
    "Released on 2026-11-25 as version 4.2.0.",
    "Order 123456789 shipped in 3 boxes of 12.",
    "Scores were 10-12-14 over three rounds; call me maybe.",
    "The price is 1,299.00 EUR (incl. 19% VAT).",
    "Write to us at the front desk @ noon.",
]


def test_redacts_and_counts_by_kind(spark):
    rows = [(str(i), text) for i, (text, _, _) in enumerate(POSITIVE)] + [
        (f"n{i}", text) for i, text in enumerate(NEGATIVE)
    ]
    df = spark.createDataFrame(rows, "doc_id string, text string")
    actual = redact_pii(df, actions={"email": "redact", "phone": "redact"}).select("doc_id", "text", "pii")
    expected = spark.createDataFrame(
        [(str(i), redacted, counts) for i, (_, redacted, counts) in enumerate(POSITIVE)]
        + [(f"n{i}", text, {"email": 0, "phone": 0}) for i, text in enumerate(NEGATIVE)],
        "doc_id string, text string, pii map<string,int>",
    )
    assert_df_equality(comparable(actual), comparable(expected), ignore_row_order=True, ignore_nullable=True)


def test_actions_keep_and_drop(spark):
    df = spark.createDataFrame(
        [("1", "a@b.example.org and 212-555-0147"), ("2", "clean")], "doc_id string, text string"
    )
    actual = redact_pii(df, actions={"email": "keep", "phone": "drop"}).select("doc_id", "text", "_reject_rule")
    expected = spark.createDataFrame(
        [("1", "a@b.example.org and 212-555-0147", "pii:phone"), ("2", "clean", None)],
        "doc_id string, text string, _reject_rule string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_unknown_kind_is_an_error(spark):
    df = spark.createDataFrame([("1", "x")], "doc_id string, text string")
    with pytest.raises(ValueError, match="unknown PII kind"):
        redact_pii(df, actions={"ssn": "redact"})


def test_python_redaction_matches_spark_placeholders():
    for text, redacted, _ in POSITIVE:
        assert redact_text(text) == redacted
    for text in NEGATIVE:
        assert redact_text(text) == text
