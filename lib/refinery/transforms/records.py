"""Typing raw records: check field types, flag what cannot be typed, keep drifted fields in `meta`.

JSON records are parsed with Spark's VARIANT (`try_parse_json`), so a value of the wrong JSON type
is seen as such (`{"text": 123}` is a BIGINT, not the string "123") instead of being coerced
silently. Already-typed rows (Parquet) are checked against their column types, without JSON.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from refinery.rejects import (
    EMPTY_LINE,
    MALFORMED_JSON,
    MISSING_FIELD,
    NOT_AN_OBJECT,
    RECORD_TOO_LARGE,
    TOO_MANY_FIELDS,
    WRONG_TYPE,
)
from refinery.transforms.params import DOCUMENT_FIELDS, RecordFields
from refinery.transforms.rules import Rule, flag_rejects

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT")
STRING_FIELDS = tuple(name for name in DOCUMENT_FIELDS if name != "meta")  # typed as strings; meta as a map


def framing_rules(max_record_chars: int, *, not_an_object: str) -> list[Rule]:
    """The rules of a record as JSON text, in order: `empty_line`, `record_too_large`, `malformed_json`,
    `not_an_object` (with detail `not_an_object`).

    Requires: `value` (the text), `_json` (it parsed, null when it is not JSON or too large), `_fields` (its
    fields, null when it is not an object).
    """
    return [
        # Only a record that failed to parse can be blank: the regex runs on those alone.
        Rule(EMPTY_LINE.name, F.col("_json").isNull() & F.col("value").rlike(r"^\s*$"), F.lit("blank line")),
        Rule(
            RECORD_TOO_LARGE.name,
            F.length("value") > max_record_chars,
            F.format_string(f"%d characters > max_record_chars {max_record_chars}", F.length("value")),
        ),
        Rule(MALFORMED_JSON.name, F.col("_json").isNull(), F.lit("not valid JSON (or duplicate keys)")),
        Rule(NOT_AN_OBJECT.name, F.col("_fields").isNull(), F.lit(not_an_object)),
    ]


def parse_json_records(df: DataFrame, *, fields: RecordFields, max_record_chars: int, max_fields: int) -> DataFrame:
    """Parse JSON object strings into typed columns and flag records that cannot be typed.

    Requires: `value` (one record as JSON text). Adds: `id`, `text`, `url`, `source` (strings), `meta`
    (map<string,string>) and the reject flags (kept when a reader already flagged the record). Rules:
    `empty_line`, `record_too_large`, `malformed_json`, `not_an_object`, `too_many_fields`,
    `missing_field:<f>`, `wrong_type:<f>`. Text must be a JSON string; id a string or an integer; url
    and source strings or null; meta an object. Fields beyond the five named ones (schema drift) are
    kept in `meta` as strings (objects and arrays as JSON), unless meta already has that key.
    """
    named = fields.named()
    # Each step is its own projection over materialized columns, so every record is parsed once and
    # each field's JSON type is computed once (inline expressions would be re-evaluated per rule).
    parsed = df.withColumn(
        "_json", F.when(F.length("value") <= max_record_chars, F.try_parse_json("value"))
    ).withColumn("_fields", F.try_variant_get("_json", "$", "map<string,variant>"))
    typed = parsed.withColumns(
        {f"_type_{name}": _base_type(F.col("_fields")[field_name]) for name, field_name in named.items()}
    ).withColumn("_n_fields", F.size("_fields"))
    rules = [
        *framing_rules(max_record_chars, not_an_object="JSON value is not an object"),
        Rule(
            TOO_MANY_FIELDS.name,
            F.col("_n_fields") > max_fields,
            F.format_string(f"%d fields > max_fields {max_fields}", "_n_fields"),
        ),
        Rule(
            MISSING_FIELD.of(fields.text),
            _is_absent("_type_text"),
            F.lit(f"field '{fields.text}' is missing or null"),
        ),
        _wrong_type_rule(fields.text, "_type_text", ("STRING",)),
        _wrong_type_rule(fields.id, "_type_id", ("STRING", *_INTEGER_TYPES)),
        _wrong_type_rule(fields.url, "_type_url", ("STRING",)),
        _wrong_type_rule(fields.source, "_type_source", ("STRING",)),
        _wrong_type_rule(fields.meta, "_type_meta", ("OBJECT",)),
    ]
    given_meta = F.try_variant_get(F.col("_fields")[fields.meta], "$", "map<string,string>")
    n_named = sum((~_is_absent(f"_type_{name}")).cast("int") for name in named)
    values = flag_rejects(typed, rules).withColumns(
        {
            **{name: F.try_variant_get(F.col("_fields")[named[name]], "$", "string") for name in STRING_FIELDS},
            "meta": F.when(
                F.col("_n_fields") > n_named,
                _meta_with_extra_fields(given_meta, F.col("_fields"), known=list(named.values())),
            ).otherwise(given_meta),
        }
    )
    return values.drop("_json", "_fields", "_n_fields", *(f"_type_{name}" for name in named))


def type_columns(
    df: DataFrame, *, fields: RecordFields, max_record_chars: int, max_fields: int, lineage: tuple[str, ...]
) -> DataFrame:
    """Check already-typed rows (Parquet) against the bronze field types, as `parse_json_records` does for JSON.

    Requires: the `lineage` columns and the data columns. Adds: `id`, `text`, `url`, `source`, `meta`,
    the reject flags and `value` (the row as JSON, for rejected rows only). A column of the wrong type
    rejects each row where it is not null (`wrong_type:<f>`); `record_too_large` applies to the text's
    length; columns beyond the five named ones go into `meta` as strings (meta's own keys win).
    """
    row = _TypedRow({f.name: f.dataType for f in df.schema.fields if f.name not in lineage}, fields)
    flagged = flag_rejects(df, row.rules(max_record_chars=max_record_chars, max_fields=max_fields))
    record = F.to_json(F.struct(*(F.col(f"`{name}`") for name in row.types)))
    return flagged.select(
        *lineage,
        *(row.column(name).cast("string").alias(name) for name in STRING_FIELDS),
        row.meta().alias("meta"),
        F.when(F.col("_reject_rule").isNotNull(), record).alias("value"),
        "_reject_rule",
        "_reject_detail",
    )


class _TypedRow:
    """The columns of an already-typed row (name -> Spark type) read as the bronze fields `fields` name."""

    _INTEGERS = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)

    def __init__(self, types: dict[str, T.DataType], fields: RecordFields):
        self.types, self.fields, self.named = types, fields, fields.named()

    def column(self, name: str) -> Column:
        field_name = self.named[name]
        return F.col(f"`{field_name}`") if field_name in self.types else F.lit(None)

    def rules(self, *, max_record_chars: int, max_fields: int) -> list[Rule]:
        text_length = F.length(self.column("text").cast("string"))
        text = self.fields.text
        return [
            Rule(
                TOO_MANY_FIELDS.name,
                F.lit(len(self.types) > max_fields),
                F.lit(f"{len(self.types)} fields > max_fields {max_fields}"),
            ),
            Rule(
                RECORD_TOO_LARGE.name,
                text_length > max_record_chars,
                F.format_string(f"text of %d characters > max_record_chars {max_record_chars}", text_length),
            ),
            Rule(MISSING_FIELD.of(text), self.column("text").isNull(), F.lit(f"field '{text}' is missing or null")),
            self._wrong_type("text", (T.StringType,)),
            self._wrong_type("id", (T.StringType, *self._INTEGERS)),
            self._wrong_type("url", (T.StringType,)),
            self._wrong_type("source", (T.StringType,)),
            self._wrong_type("meta", (T.MapType, T.StructType)),
        ]

    def meta(self) -> Column:
        """The row's meta as map<string,string>, plus the columns no bronze field names (schema drift)."""
        if isinstance(self.types.get(self.named["meta"]), (T.MapType, T.StructType)):
            given = F.from_json(F.to_json(self.column("meta")), "map<string,string>")
        else:
            given = F.lit(None).cast("map<string,string>")
        extra = [name for name in self.types if name not in self.named.values()]
        if not extra:
            return given
        drifted = F.create_map(*(part for name in extra for part in (F.lit(name), _as_string(name, self.types[name]))))
        return _merge_meta(given, drifted)

    def _wrong_type(self, name: str, allowed: tuple[type, ...]) -> Rule:
        field_name, found = self.named[name], self.types.get(self.named[name])
        breaks = F.lit(found is not None and not isinstance(found, allowed)) & self.column(name).isNotNull()
        detail = f"field '{field_name}' is {found.simpleString() if found else 'absent'}, expected " + " or ".join(
            t.typeName() for t in allowed
        )
        return Rule(WRONG_TYPE.of(field_name), breaks, F.lit(detail))


def _as_string(name: str, data_type: T.DataType) -> Column:
    column = F.col(f"`{name}`")
    if isinstance(data_type, (T.MapType, T.StructType, T.ArrayType)):
        return F.to_json(column)
    return column.cast("string")


def _meta_with_extra_fields(meta: Column, all_fields: Column, *, known: list[str]) -> Column:
    """`meta` plus every top-level field not in `known`, as strings (meta's own keys win).

    The lambdas reference only their own arguments: an outer column inside a lambda is re-evaluated per
    map entry, which re-parses the whole record each time (quadratic on a record with 100k fields).
    """
    extra = F.transform_values(
        F.map_filter(all_fields, lambda key, _value: ~key.isin(*known)), lambda _key, value: value.cast("string")
    )
    return F.when(F.coalesce(F.size(extra), F.lit(0)) <= 0, meta).otherwise(_merge_meta(meta, extra))


def _merge_meta(meta: Column, drifted: Column) -> Column:
    """`meta` (may be null) plus the `drifted` fields; meta's own keys win."""
    given = F.coalesce(meta, F.create_map().cast("map<string,string>"))
    return F.map_zip_with(given, drifted, lambda _key, own, drift: F.coalesce(own, drift))


def _base_type(value: Column) -> Column:
    """The JSON type of a variant: STRING, BIGINT, OBJECT, ARRAY, VOID (JSON null), or null (absent)."""
    return F.substring_index(F.substring_index(F.schema_of_variant(value), "<", 1), "(", 1)


def _is_absent(type_column: str) -> Column:
    return F.col(type_column).isNull() | (F.col(type_column) == "VOID")


def _wrong_type_rule(field_name: str, type_column: str, allowed: tuple[str, ...]) -> Rule:
    """Breaks when the field is present and not null but of a type outside `allowed`."""
    breaks = ~_is_absent(type_column) & ~F.col(type_column).isin(*allowed)
    expected = " or ".join(a.lower() for a in allowed)
    detail = F.format_string(f"field '{field_name}' is %s, expected {expected}", F.lower(type_column))
    return Rule(WRONG_TYPE.of(field_name), breaks, detail)
