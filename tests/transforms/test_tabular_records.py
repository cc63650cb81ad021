"""Typing record data: text cast to the declared types, and every record that cannot be typed named by rule."""

from __future__ import annotations

import json

from pyspark.sql.types import DateType, DoubleType, IntegerType, StringType, StructField

from refinery.transforms.tabular.records import type_tabular_records

COLUMNS = [
    StructField("id", StringType()),
    StructField("email", StringType()),
    StructField("born", DateType()),
    StructField("income", DoubleType()),
    StructField("products", IntegerType()),
]


def typed(spark, *records: str):
    raw = spark.createDataFrame([(i, r) for i, r in enumerate(records)], "_line long, value string")
    frame = type_tabular_records(
        raw, columns=COLUMNS, operation="op", sequence="seq", max_record_chars=500, withheld=("email",)
    )
    return {r["_line"]: r for r in frame.collect()}


def test_csv_text_and_json_values_type_alike(spark):
    rows = typed(
        spark,
        json.dumps(
            {
                "id": "a",
                "email": "x@y.org",
                "born": "1990-02-03",
                "income": "12.5",
                "products": "2",
                "op": "insert",
                "seq": "7",
            }
        ),
        json.dumps({"id": "a", "born": "1990-02-03", "income": 12.5, "products": 2, "op": "UPDATE", "seq": 8}),
        json.dumps({"id": "b", "email": "", "born": "", "income": " ", "products": "", "op": "delete", "seq": 9}),
    )
    first, second, empty = rows[0], rows[1], rows[2]
    assert (first["income"], first["products"], str(first["born"]), first["_seq"]) == (12.5, 2, "1990-02-03", 7)
    assert (second["income"], second["products"], second["_op"], second["_reject_rule"]) == (12.5, 2, "update", None)
    assert (empty["email"], empty["born"], empty["income"], empty["_reject_rule"]) == (None, None, None, None)
    assert "x@y.org" not in first["record"] and json.loads(first["record"])["income"] == "12.5"


def test_records_that_cannot_be_typed_are_named_by_rule(spark):
    base = {"id": "a", "op": "insert", "seq": 1}
    rows = typed(
        spark,
        json.dumps({**base, "products": "2.5"}),
        json.dumps({**base, "born": "03/02/1990"}),
        json.dumps({**base, "op": "upsert"}),
        json.dumps({**base, "seq": "first"}),
        json.dumps({"id": "a", "seq": 1}),
        json.dumps({**base, "nickname": "al"}),
        "{not json",
        "   ",
        json.dumps({**base, "income": "x" * 600}),
    )
    rules = {line: (r["_reject_rule"], r["_reject_detail"]) for line, r in rows.items()}
    assert rules[0] == ("wrong_type:products", "field 'products' is not a int")
    assert rules[1][0] == "wrong_type:born"
    assert rules[2][0] == "unknown_operation"
    assert rules[3][0] == "wrong_type:seq"
    assert rules[4][0] == "missing_field:op"
    assert rules[5] == ("unknown_field", "field(s) the schema does not declare: nickname")
    assert rules[6][0] == "malformed_json"
    assert rules[7][0] == "empty_line"
    assert rules[8][0] == "record_too_large"


def test_snapshot_rows_are_upserts_in_file_order(spark):
    """A plain CSV export has no operation or sequence: each row is an upsert, a later line superseding an
    earlier one, a later snapshot (a higher base) superseding both; a change record next to it keeps its own."""
    raw = spark.createDataFrame(
        [
            (1, json.dumps({"id": "a", "income": "1"})),
            (2, json.dumps({"id": "b", "income": "2"})),
            (3, json.dumps({"id": "c", "op": "delete", "seq": 5})),
            (4, json.dumps({"id": "d", "seq": 5})),  # a change that lost its operation: still rejected
        ],
        "_line long, value string",
    )

    def frame(**options):
        typed = type_tabular_records(
            raw, columns=COLUMNS, operation="op", sequence="seq", max_record_chars=500, **options
        )
        return {r["_line"]: (r["_op"], r["_seq"], r["_reject_rule"]) for r in typed.collect()}

    base = 1_700_000_000 * 10**9
    assert frame(snapshot_sequence=base) == {
        1: ("update", base + 1, None),
        2: ("update", base + 2, None),
        3: ("delete", 5, None),
        4: (None, 5, "missing_field:op"),
    }
    assert frame(snapshot=False)[1][2] == "missing_field:op"  # a change source: no snapshot rows
    assert frame(snapshot=True, snapshot_sequence=base)[4] == ("update", 5, None)  # its own sequence kept
