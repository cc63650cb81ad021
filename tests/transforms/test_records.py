from chispa import assert_df_equality

from refinery.transforms.params import RecordFields
from refinery.transforms.records import parse_json_records, type_columns
from tests.helpers import comparable

LINES = [
    ('{"id": "a", "text": "Hello there", "url": "https://x.example.com/1", "meta": {"lang": "en", "n": 3}}',),
    ('{"id": 17, "text": "numeric ids are fine", "source": "feed"}',),
    ('{"text": "no id at all"}',),
    ("",),
    ("{broken json",),
    ('["an", "array"]',),
    ('{"id": "b"}',),
    ('{"id": "c", "text": null}',),
    ('{"id": "d", "text": 12345}',),
    ('{"id": "e", "text": "ok", "meta": "en"}',),
    ('{"id": "f", "text": "ok", "url": 42}',),
    ('{"id": {"nested": true}, "text": "ok"}',),
    ('{"id": "g", "text": "ok", "lang": "en", "tags": ["a", "b"], "meta": {"lang": "de"}}',),
    ('{"id": "h", "text": "' + "x" * 200 + '"}',),
    ('{"id": "i", "text": "dup", "text": "keys"}',),
    ('{"id": "j", "text": "wide", "a": 1, "b": 2, "c": 3, "d": 4}',),
]


def parse(spark):
    df = spark.createDataFrame(LINES, "value string")
    return parse_json_records(df, fields=RecordFields(), max_record_chars=150, max_fields=5)


def test_each_record_is_typed_or_flagged_with_a_named_rule(spark):
    actual = parse(spark).select("id", "text", "_reject_rule")
    expected = spark.createDataFrame(
        [
            ("a", "Hello there", None),
            ("17", "numeric ids are fine", None),
            (None, "no id at all", None),
            (None, None, "empty_line"),
            (None, None, "malformed_json"),
            (None, None, "not_an_object"),
            ("b", None, "missing_field:text"),
            ("c", None, "missing_field:text"),
            ("d", "12345", "wrong_type:text"),
            ("e", "ok", "wrong_type:meta"),
            ("f", "ok", "wrong_type:url"),
            ('{"nested":true}', "ok", "wrong_type:id"),
            ("g", "ok", None),
            (None, None, "record_too_large"),
            (None, None, "malformed_json"),
            ("j", "wide", "too_many_fields"),
        ],
        "id string, text string, _reject_rule string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_typed_columns_and_details(spark):
    rows = {r["id"]: r for r in parse(spark).where("id in ('a', 'd', 'f', 'g', 'j')").collect()}
    assert rows["a"]["meta"] == {"lang": "en", "n": "3"}
    assert rows["g"]["meta"] == {"lang": "de", "tags": '["a","b"]'}  # drifted fields kept; meta's own key wins
    assert rows["j"]["_reject_detail"] == "6 fields > max_fields 5"
    assert rows["a"]["url"] == "https://x.example.com/1"
    assert rows["d"]["_reject_detail"] == "field 'text' is bigint, expected string"
    assert rows["f"]["_reject_detail"] == "field 'url' is bigint, expected string"


def test_field_names_come_from_config(spark):
    df = spark.createDataFrame([('{"key": "k1", "body": "the body", "link": "u"}',)], "value string")
    fields = RecordFields(id="key", text="body", url="link")
    row = parse_json_records(df, fields=fields, max_record_chars=1000, max_fields=10).first()
    assert (row["id"], row["text"], row["url"], row["_reject_rule"]) == ("k1", "the body", "u", None)


def test_reader_flags_are_kept(spark):
    df = spark.createDataFrame(
        [("{bad", "invalid_utf8", "byte 3")], "value string, _reject_rule string, _reject_detail string"
    )
    row = parse_json_records(df, fields=RecordFields(), max_record_chars=100, max_fields=10).first()
    assert (row["_reject_rule"], row["_reject_detail"]) == ("invalid_utf8", "byte 3")


def test_typed_rows_are_checked_by_column_type(spark):
    rows = spark.createDataFrame(
        [
            ("f", 1, 7, "first", {"lang": "en"}, 3),
            ("f", 2, 8, None, None, 4),
            ("f", 3, 9, "x" * 50, {"lang": "de", "n": "own"}, 5),
        ],
        "_file string, _line long, id int, text string, meta map<string,string>, n int",
    )
    typed = type_columns(rows, fields=RecordFields(), max_record_chars=20, max_fields=10, lineage=("_file", "_line"))
    expected = spark.createDataFrame(
        [
            (1, "7", "first", {"lang": "en", "n": "3"}, None),
            (2, "8", None, {"n": "4"}, "missing_field:text"),
            (3, "9", "x" * 50, {"lang": "de", "n": "own"}, "record_too_large"),
        ],
        "_line long, id string, text string, meta map<string,string>, _reject_rule string",
    )
    actual = typed.select("_line", "id", "text", "meta", "_reject_rule")
    assert_df_equality(comparable(actual), comparable(expected), ignore_nullable=True, ignore_row_order=True)
    values = dict(typed.select("_line", "value").collect())
    assert values[1] is None and values[2] == '{"id":8,"n":4}'  # the raw row is kept for rejects only


def test_a_column_of_the_wrong_type_rejects_its_non_null_rows(spark):
    rows = spark.createDataFrame(
        [("f", 1, 5, "u"), ("f", 2, None, "v")], "_file string, _line long, text int, url string"
    )
    typed = type_columns(rows, fields=RecordFields(), max_record_chars=100, max_fields=10, lineage=("_file", "_line"))
    flags = [(r._reject_rule, r._reject_detail) for r in typed.orderBy("_line").collect()]
    assert flags == [
        ("wrong_type:text", "field 'text' is int, expected string"),
        ("missing_field:text", "field 'text' is missing or null"),
    ]
