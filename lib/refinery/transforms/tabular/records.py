"""Typing raw record data (CSV rows, JSON objects) into a tabular pipeline's declared bronze columns.

A CSV row arrives as a JSON object of strings and a JSON record with its own types; both are read as text
and cast with `try_cast`, so "42" and 42 are the same int, an empty CSV cell is null, and a value that does
not fit its column ("12k" for an int, "2011/06/01" for a date) is a `wrong_type:<column>` reject rather than
a silent null. A field the schema does not declare is an `unknown_field` reject (nothing is dropped in
silence). A reject's `record` keeps the fields but the `withheld` ones (direct and quasi-identifiers).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField

from refinery.rejects import MISSING_FIELD, UNKNOWN_FIELD, UNKNOWN_OPERATION, WRONG_TYPE
from refinery.transforms.records import framing_rules
from refinery.transforms.rules import Rule, flag_rejects
from refinery.transforms.tabular.changes import OP, OPERATIONS, SEQ


def type_tabular_records(
    df: DataFrame,
    *,
    columns: Sequence[StructField],
    operation: str,
    sequence: str,
    max_record_chars: int,
    withheld: Sequence[str] = (),
    snapshot: bool | None = None,
    snapshot_sequence: int = 0,
) -> DataFrame:
    """Parse JSON object strings into `columns` (cast from text) plus `_op` and `_seq`; flag what cannot be typed.

    Requires: `value`. Adds: each of `columns`, `_op` (lower-cased), `_seq` (bigint); `id`, `url` and `source`
    null (a record's row id comes from its position, its source is the configured one); `record` (the fields as
    JSON, `withheld` ones removed); the reject flags (kept when a reader already flagged the record). Rules:
    `empty_line`, `record_too_large`, `malformed_json`, `not_an_object`, `missing_field:<operation|sequence>`,
    `unknown_operation`, `wrong_type:<sequence>`, `unknown_field`, `wrong_type:<column>`.

    A snapshot record (`snapshot` true; None: a record with neither field) is an upsert: its operation
    `update`, its sequence its own field when it has one, else `snapshot_sequence + _line` (the caller passes
    the ingest time in seconds times 10^9, so a later snapshot supersedes an earlier one, and a later line of
    one file an earlier line). Requires `_line` then.
    """
    names = [c.name for c in columns]
    parsed = df.withColumn(
        "_json", F.when(F.length("value") <= max_record_chars, F.try_parse_json("value"))
    ).withColumn("_fields", F.try_variant_get("_json", "$", "map<string,string>"))
    texts = {name: _text(F.col("_fields")[name]) for name in names}
    texts[OP], texts[SEQ] = _text(F.col("_fields")[operation]), _text(F.col("_fields")[sequence])
    known = F.array(*[F.lit(name) for name in (*names, operation, sequence)])
    with_text = parsed.withColumns({f"_text_{name}": value for name, value in texts.items()}).withColumn(
        "_unknown", F.array_sort(F.array_except(F.map_keys("_fields"), known))
    )
    op_text, seq_text = F.col(f"_text_{OP}"), F.col(f"_text_{SEQ}")
    whole = F.lit(bool(snapshot)) if snapshot is not None else op_text.isNull() & seq_text.isNull()
    position = F.lit(snapshot_sequence) + F.coalesce(F.col("_line"), F.lit(0)) if snapshot is not False else None
    typed = with_text.withColumns(
        {
            **{c.name: F.col(f"_text_{c.name}").try_cast(c.dataType) for c in columns},
            OP: F.when(whole & op_text.isNull(), F.lit("update")).otherwise(F.lower(op_text)),
            SEQ: F.when(whole & seq_text.isNull(), position).otherwise(seq_text.try_cast("bigint")),
        }
    )
    rules = [
        *framing_rules(max_record_chars, not_an_object="not an object of scalar fields"),
        Rule(MISSING_FIELD.of(operation), F.col(OP).isNull(), F.lit(f"field '{operation}' is missing")),
        Rule(
            UNKNOWN_OPERATION.name,
            ~F.col(OP).isin(*OPERATIONS),
            F.lit(f"operation is not one of {', '.join(OPERATIONS)}"),
        ),
        Rule(MISSING_FIELD.of(sequence), F.col(SEQ).isNull() & seq_text.isNull(), F.lit(f"'{sequence}' is missing")),
        _wrong_type(sequence, SEQ, "bigint"),
        Rule(
            UNKNOWN_FIELD.name,
            F.size("_unknown") > 0,
            F.concat(F.lit("field(s) the schema does not declare: "), F.array_join(F.slice("_unknown", 1, 10), ", ")),
        ),
        *[_wrong_type(c.name, c.name, c.dataType.simpleString()) for c in columns],
    ]
    flagged = flag_rejects(typed, rules).withColumns(
        {
            "id": F.lit(None).cast("string"),
            "url": F.lit(None).cast("string"),
            "source": F.lit(None).cast("string"),
            "record": F.to_json(F.map_filter("_fields", lambda k, _: ~k.isin(*withheld))),
        }
    )
    return flagged.drop("_json", "_fields", "_unknown", *[f"_text_{name}" for name in texts])


def _text(value: Column) -> Column:
    """A field as text: trimmed, and null when empty (an empty CSV cell)."""
    return F.nullif(F.trim(value), F.lit(""))


def _wrong_type(field: str, column: str, type_name: str) -> Rule:
    return Rule(
        WRONG_TYPE.of(field),
        F.col(f"_text_{column}").isNotNull() & F.col(column).isNull(),
        F.lit(f"field '{field}' is not a {type_name}"),
    )
