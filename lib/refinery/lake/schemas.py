"""Declared table schemas as Spark types: the columns of `schemas/*.yaml` (read by the table registry,
`refinery.tables`) as a StructType, with the partitioning and personal columns the registry declares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from refinery import tables

_PRIMITIVES: dict[str, DataType] = {
    "string": StringType(),
    "int": IntegerType(),
    "bigint": LongType(),
    "double": DoubleType(),
    "float": FloatType(),
    "boolean": BooleanType(),
    "timestamp": TimestampType(),
    "date": DateType(),
}


class SchemaMismatchError(ValueError):
    """A DataFrame does not have the columns and types its table declares."""


@dataclass(frozen=True)
class TableSchema:
    """A table's declared columns and partitioning."""

    name: str
    struct: StructType
    partition_by: tuple[str, ...] = ()
    personal: tuple[str, ...] = ()  # columns that may hold a person's data (refinery.tables)

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.struct.fields]

    @property
    def table_properties(self) -> dict[str, str]:
        """Delta properties every copy of the table is created with: data-skipping statistics (min/max in
        the Delta log, which outlives deleted rows) only on columns that cannot hold a person's data (and of a
        type Delta keeps statistics of: not a boolean, array, map or struct)."""
        skipped = {*self.personal, *self.partition_by}  # partition values are in the log anyway, not as stats
        indexed = [
            f.name
            for f in self.struct.fields
            if f.name not in skipped and not isinstance(f.dataType, (ArrayType, MapType, StructType, BooleanType))
        ]
        if not indexed:
            return {"delta.dataSkippingNumIndexedCols": "0"}
        return {"delta.dataSkippingStatsColumns": ",".join(indexed)}

    def conform(self, df: DataFrame) -> DataFrame:
        """Select the declared columns in order, after checking names and types (nullability is Delta's check)."""
        actual = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        missing = [name for name in self.column_names if name not in actual]
        if missing:
            raise SchemaMismatchError(f"table {self.name}: missing column(s) {', '.join(missing)}")
        wrong = [
            f"{f.name} is {actual[f.name]}, declared {f.dataType.simpleString()}"
            for f in self.struct.fields
            if actual[f.name] != f.dataType.simpleString()
        ]
        if wrong:
            raise SchemaMismatchError(f"table {self.name}: {'; '.join(wrong)}")
        return df.select(*self.column_names)


def table_schema(table: str, kind: str = "text", own: str | None = None) -> TableSchema:
    """The columns, partitioning and personal columns of registry table `table` for pipelines of `kind` (from
    the pipeline's `own` schemas folder when it declares the table)."""
    spec = tables.table(table)
    columns = load_schema(*tables.schema_location(table, kind, own))
    layout, personal = spec.partitioning(kind, own), spec.personal_columns(kind, own)
    return TableSchema(columns.name, columns.struct, partition_by=layout, personal=personal)


def load_schema(name: str, schemas_dir: str | Path | None = None) -> TableSchema:
    """The columns of `schemas/<name>.yaml` (e.g. 'rejects', 'text/bronze') and those it marks `personal: true`;
    no partitioning (the registry declares that: use `table_schema`)."""
    _, columns = tables.schema_file(name, schemas_dir)
    fields = [
        StructField(c.name, parse_type(c.type), c.nullable, {"comment": c.comment} if c.comment else None)
        for c in columns
    ]
    return TableSchema(name=name, struct=StructType(fields), personal=tuple(c.name for c in columns if c.personal))


def parse_type(text: str) -> DataType:
    """Parse a type such as `string`, `array<string>` or `map<string,int>`."""
    text = text.strip().lower()
    if text in _PRIMITIVES:
        return _PRIMITIVES[text]
    match = re.fullmatch(r"(array|map)<(.*)>", text)
    if not match:
        raise ValueError(f"unsupported column type '{text}'")
    kind, inner = match.groups()
    if kind == "array":
        return ArrayType(parse_type(inner))
    key, value = _split_top_level(inner)
    return MapType(parse_type(key), parse_type(value))


def _split_top_level(text: str) -> tuple[str, str]:
    depth = 0
    for i, char in enumerate(text):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            return text[:i], text[i + 1 :]
    raise ValueError(f"map type needs key and value types, got '{text}'")
