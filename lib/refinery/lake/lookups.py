"""Small lookups in a lake's tables (a document's rows, the releases) for commands that only read: `explain`,
`release list` and `release show`. A path lake is read with `deltalake` and pyarrow, without a JVM, in about a
second; a catalog lake (tables by name) through Spark, with the same interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from refinery import paths, tables


class Record(dict):
    """A row as a dict whose columns are also attributes (`row.name`), like a Spark Row."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def asDict(self) -> dict:  # noqa: N802 - Spark's Row spells it so
        return dict(self)


class ArrowLookups:
    """Lookups in a path lake (a local folder or an object-store URI deltalake opens)."""

    def __init__(self, root: str):
        self.root = paths.normalize(root)

    def table(self, name: str, pipeline: str | None = None) -> str:
        return self.resolve(tables.table(name).key(pipeline))

    def resolve(self, key: str) -> str:
        """A stored table key (or, in rows written before keys, an absolute path) as a location."""
        return key if paths.is_absolute(key) else paths.join(self.root, key)

    def exists(self, location: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(paths.as_uri(location))

    def rows(
        self, location: str, *, version: int | None = None, where: Mapping[str, Any] | None = None, limit: int = 100
    ) -> list[Record]:
        """Up to `limit` rows whose columns equal `where`'s values (none when the table does not exist). Read by
        deltalake's query engine, which honours deletion vectors (a forget's deletes leave them)."""
        import pyarrow as pa
        from deltalake import DeltaTable, QueryBuilder
        from deltalake.exceptions import TableNotFoundError

        try:
            table = DeltaTable(paths.as_uri(location), version=version)
        except TableNotFoundError:  # not written yet: one open of the log, not a check and then an open
            return []
        condition = " AND ".join(
            f"{_identifier(column)} = {_literal(value)}" for column, value in (where or {}).items()
        )
        query = f"SELECT * FROM t{f' WHERE {condition}' if condition else ''} LIMIT {int(limit)}"
        found = pa.table(QueryBuilder().register("t", table).execute(query).read_all())
        maps = {field.name for field in found.schema if pa.types.is_map(field.type)}
        return [Record({k: _plain(v, k in maps) for k, v in row.items()}) for row in found.to_pylist()]


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    """A SQL literal of a lookup value (a string, a number or a bool)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _plain(value: Any, is_map: bool) -> Any:
    """A value as Spark gives it: an Arrow map (a list of pairs) as a dict."""
    return dict(value) if is_map and value is not None else value


class SparkLookups:
    """The same lookups through Spark, for a catalog lake."""

    def __init__(self, lake):
        self.lake = lake

    def table(self, name: str, pipeline: str | None = None):
        return self.lake.table(name, pipeline)

    def resolve(self, key: str):
        return self.lake.resolve(key)

    def exists(self, ref) -> bool:
        return self.lake.exists(ref)

    def rows(self, ref, *, version: int | None = None, where: Mapping[str, Any] | None = None, limit: int = 100):
        from pyspark.sql import functions as F

        if not self.lake.exists(ref):
            return []
        frame = self.lake.read(ref, version)
        for column, value in (where or {}).items():
            frame = frame.where(F.col(column) == value)
        return [Record(row.asDict()) for row in frame.limit(limit).collect()]


def release_records(lookups, pipeline: str) -> list[Record]:
    """The pipeline's releases, oldest first."""
    found = lookups.rows(lookups.table("releases"), where={"pipeline": pipeline}, limit=1_000_000)
    return sorted(found, key=lambda r: (r.created_at, r.name))
