"""Typing raw JSON records: parse each line, check field types, flag what cannot be typed.

Parsing uses Spark's VARIANT (`try_parse_json`), so a value of the wrong JSON type is seen as
such (`{"text": 123}` is a BIGINT, not the string "123") instead of being coerced silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from refinery.transforms.rules import Rule, flag_rejects

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT")


@dataclass(frozen=True)
class RecordFields:
    """Names of the JSON fields that hold each bronze column."""

    id: str = "id"
    text: str = "text"
    url: str = "url"
    source: str = "source"
    meta: str = "meta"


def parse_json_records(df: DataFrame, *, fields: RecordFields, max_record_chars: int, max_fields: int) -> DataFrame:
    """Parse JSON object strings into typed columns and flag records that cannot be typed.

    Requires: `value` (one record as JSON text). Adds: `id`, `text`, `url`, `source` (strings), `meta`
    (map<string,string>) and the reject flags (kept when a reader already flagged the record). Rules:
    `empty_line`, `record_too_large`, `malformed_json`, `not_an_object`, `too_many_fields`,
    `missing_field:<f>`, `wrong_type:<f>`. Text must be a JSON string; id a string or an integer; url
    and source strings or null; meta an object. Fields beyond the five named ones (schema drift) are
    kept in `meta` as strings (objects and arrays as JSON), unless meta already has that key.
    """
    parsed = df.withColumn("_json", F.when(F.length("value") <= max_record_chars, F.try_parse_json("value")))
    types = {name: _json_type(field_name) for name, field_name in _field_names(fields).items()}
    all_fields = F.try_variant_get("_json", "$", "map<string,string>")
    # Counting keys on the JSON text is far cheaper than building the map; the map is built only for
    # records that carry fields beyond the named ones (schema drift).
    n_fields = F.when(F.col("_json").isNotNull(), F.size(F.json_object_keys("value")))
    n_named = sum((~_is_absent(t)).cast("int") for t in types.values())
    rules = [
        Rule("empty_line", F.col("value").rlike(r"^\s*$"), F.lit("blank line")),
        Rule(
            "record_too_large",
            F.length("value") > max_record_chars,
            F.format_string(f"%d characters > max_record_chars {max_record_chars}", F.length("value")),
        ),
        Rule("malformed_json", F.col("_json").isNull(), F.lit("not valid JSON (or duplicate keys)")),
        Rule("not_an_object", ~F.ltrim("value").startswith("{"), F.lit("JSON value is not an object")),
        Rule(
            "too_many_fields",
            n_fields > max_fields,
            F.format_string(f"%d fields > max_fields {max_fields}", n_fields),
        ),
        Rule(
            f"missing_field:{fields.text}",
            _is_absent(types["text"]),
            F.lit(f"field '{fields.text}' is missing or null"),
        ),
        _wrong_type_rule(fields.text, types["text"], ("STRING",)),
        _wrong_type_rule(fields.id, types["id"], ("STRING", *_INTEGER_TYPES)),
        _wrong_type_rule(fields.url, types["url"], ("STRING",)),
        _wrong_type_rule(fields.source, types["source"], ("STRING",)),
        _wrong_type_rule(fields.meta, types["meta"], ("OBJECT",)),
    ]
    typed = flag_rejects(parsed, rules).withColumns(
        {
            "id": F.try_variant_get("_json", _path(fields.id), "string"),
            "text": F.try_variant_get("_json", _path(fields.text), "string"),
            "url": F.try_variant_get("_json", _path(fields.url), "string"),
            "source": F.try_variant_get("_json", _path(fields.source), "string"),
            "meta": F.when(
                n_fields > n_named,
                _meta_with_extra_fields(
                    F.try_variant_get("_json", _path(fields.meta), "map<string,string>"),
                    all_fields,
                    known=list(_field_names(fields).values()),
                ),
            ).otherwise(F.try_variant_get("_json", _path(fields.meta), "map<string,string>")),
        }
    )
    return typed.drop("_json")


def _meta_with_extra_fields(meta: Column, all_fields: Column, *, known: list[str]) -> Column:
    """`meta` plus every top-level field not in `known` (meta's own keys win).

    The lambdas reference only their own arguments: an outer column inside a lambda is re-evaluated per
    map entry, which re-parses the whole record each time (quadratic on a record with 100k fields).
    """
    extra = F.map_filter(all_fields, lambda key, _value: ~key.isin(*known))
    given = F.coalesce(meta, F.create_map().cast("map<string,string>"))
    merged = F.map_zip_with(given, extra, lambda _key, own, drifted: F.coalesce(own, drifted))
    return F.when(F.coalesce(F.size(extra), F.lit(0)) <= 0, meta).otherwise(merged)


def _field_names(fields: RecordFields) -> dict[str, str]:
    return {"id": fields.id, "text": fields.text, "url": fields.url, "source": fields.source, "meta": fields.meta}


def _path(field_name: str) -> str:
    escaped = field_name.replace("\\", "\\\\").replace("'", "\\'")
    return f"$['{escaped}']"


def _json_type(field_name: str) -> Column:
    """The JSON type of a top-level field: STRING, BIGINT, OBJECT<...>, VOID (JSON null), or null (absent)."""
    return F.schema_of_variant(F.variant_get("_json", _path(field_name), "variant"))


def _is_absent(type_column: Column) -> Column:
    return type_column.isNull() | (type_column == "VOID")


def _wrong_type_rule(field_name: str, type_column: Column, allowed: tuple[str, ...]) -> Rule:
    """Breaks when the field is present and not null but of a type outside `allowed`."""
    base_type = F.regexp_extract(type_column, r"^([A-Z]+)", 1)
    breaks = ~_is_absent(type_column) & ~base_type.isin(*allowed)
    expected = " or ".join(a.lower() for a in allowed)
    detail = F.format_string(f"field '{field_name}' is %s, expected {expected}", F.lower(base_type))
    return Rule(f"wrong_type:{field_name}", breaks, detail)
