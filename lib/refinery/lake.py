"""Where tables live and how they are written: one Delta writer for every stage.

A table is addressed by layer and pipeline. With a path root the lake layout is
`<root>/<layer>/<pipeline>` (and `<root>/_refinery/runs`); with `catalog` set the same tables
are `<catalog>.<schema>.<layer>_<pipeline>`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from refinery.config import LakeConfig
from refinery.schemas import TableSchema

log = logging.getLogger(__name__)

PIPELINE_LAYERS = ("bronze", "silver", "silver_dedup", "gold", "rejects", "signatures")
SYSTEM_TABLES = ("runs", "releases", "ingest_files")


@dataclass(frozen=True)
class TableRef:
    """One Delta table: by path, or by catalog name when the lake uses a catalog."""

    path: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        return self.name or self.path or "?"


@dataclass(frozen=True)
class WriteResult:
    """What a write committed: the table version and the rows it wrote."""

    version: int
    rows_written: int
    skipped: bool = False  # an idempotent append whose transaction was already committed


class Lake:
    """Reads and writes the lake's Delta tables for one SparkSession."""

    def __init__(self, spark: SparkSession, config: LakeConfig):
        self.spark = spark
        self.config = config
        self._ensured: set[TableRef] = set()  # tables this Lake created or found, so each is checked once

    # ----------------------------------------------------------------- addressing

    def table(self, layer: str, pipeline: str | None = None) -> TableRef:
        if layer in SYSTEM_TABLES:
            if self.config.catalog:
                return TableRef(name=f"{self._namespace}.refinery_{layer}")
            return TableRef(path=self._path("_refinery", layer))
        if layer not in PIPELINE_LAYERS:
            raise ValueError(f"unknown lake layer '{layer}' (known: {', '.join(PIPELINE_LAYERS + SYSTEM_TABLES)})")
        if not pipeline:
            raise ValueError(f"layer '{layer}' needs a pipeline name")
        if self.config.catalog:
            return TableRef(name=f"{self._namespace}.{layer}_{pipeline}")
        return TableRef(path=self._path(layer, pipeline))

    def release_table(self, pipeline: str, name: str) -> TableRef:
        """Where release `name` of `pipeline` keeps its own copy of gold: `<root>/releases/<pipeline>/<name>`."""
        if self.config.catalog:
            return TableRef(name=f"{self._namespace}.release_{pipeline}_{name.replace('-', '_').replace('.', '_')}")
        return TableRef(path=self._path("releases", pipeline, name))

    def raw_path(self, pipeline: str) -> str:
        return self._path("raw", pipeline)

    def checkpoint_path(self, pipeline: str, name: str) -> str:
        return self._path("_checkpoints", pipeline, name)

    @property
    def _namespace(self) -> str:
        return f"{self.config.catalog}.{self.config.schema}"

    def _path(self, *parts: str) -> str:
        root = self.config.root.rstrip("/")
        if "://" in root or root.startswith("dbfs:"):
            return "/".join((root, *parts))
        return str(Path(root).resolve().joinpath(*parts))

    # ----------------------------------------------------------------- reading

    def exists(self, ref: TableRef) -> bool:
        if ref.name:
            return self.spark.catalog.tableExists(ref.name)
        return DeltaTable.isDeltaTable(self.spark, ref.path)

    def delta_table(self, ref: TableRef) -> DeltaTable:
        return DeltaTable.forName(self.spark, ref.name) if ref.name else DeltaTable.forPath(self.spark, ref.path)

    def version(self, ref: TableRef) -> int | None:
        """The latest committed version, or None when the table does not exist."""
        if not self.exists(ref):
            return None
        return self.delta_table(ref).history(1).select("version").first()["version"]

    def commit_metadata(self, ref: TableRef, version: int) -> dict[str, str]:
        """The `metadata` a write stored with `version` ({} when it stored none)."""
        commit = self.delta_table(ref).history().where(f"version = {int(version)}").select("userMetadata").first()
        return json.loads(commit["userMetadata"]) if commit and commit["userMetadata"] else {}

    def read(self, ref: TableRef, version: int | None = None) -> DataFrame:
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.table(ref.name) if ref.name else reader.load(ref.path)

    # ----------------------------------------------------------------- writing

    def ensure_table(self, ref: TableRef, schema: TableSchema) -> None:
        """Create the table from its declared schema when it does not exist yet (checked once per Lake)."""
        if ref in self._ensured:
            return
        builder = DeltaTable.createIfNotExists(self.spark)
        builder = builder.tableName(ref.name) if ref.name else builder.location(ref.path)
        builder = builder.addColumns(schema.struct)
        if schema.partition_by:
            builder = builder.partitionedBy(*schema.partition_by)
        builder.execute()
        self._ensured.add(ref)

    def overwrite(
        self,
        ref: TableRef,
        df: DataFrame,
        schema: TableSchema,
        replace_where: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """Replace the table's rows (or only those matching `replace_where`) with `df`. Idempotent.

        `metadata` is stored with the commit (Delta's userMetadata, as JSON); `commit_metadata` reads it back.
        """
        user_metadata = json.dumps(metadata, sort_keys=True) if metadata else None
        options = {"replaceWhere": replace_where, "userMetadata": user_metadata}
        return self._write(ref, df, schema, mode="overwrite", options=options)

    def append(
        self, ref: TableRef, df: DataFrame, schema: TableSchema, txn: tuple[str, int] | None = None
    ) -> WriteResult:
        """Append `df`. With `txn` = (app id, version) the append happens at most once per pair: a retry of
        an already committed (app id, version) writes nothing and returns `skipped=True`."""
        options = {"txnAppId": txn[0], "txnVersion": txn[1]} if txn else {}
        return self._write(ref, df, schema, mode="append", options=options)

    def insert_new(self, ref: TableRef, df: DataFrame, schema: TableSchema, *, key: str) -> WriteResult:
        """MERGE `df` into the table, inserting rows whose `key` is not there yet. Idempotent by construction."""
        self.ensure_table(ref, schema)
        before = self.version(ref)
        target = self.delta_table(ref).alias("target")
        target.merge(
            schema.conform(df).alias("source"), f"target.{key} = source.{key}"
        ).whenNotMatchedInsertAll().execute()
        merged = self._last_commit(ref, rows_metric="numTargetRowsInserted")
        if merged.version == before:  # nothing to merge: Delta committed nothing
            return WriteResult(version=before, rows_written=0, skipped=True)
        log.info("merged %d new rows into %s (version %d)", merged.rows_written, ref, merged.version)
        return merged

    def _write(self, ref: TableRef, df: DataFrame, schema: TableSchema, mode: str, options: dict) -> WriteResult:
        self.ensure_table(ref, schema)
        idempotent = "txnVersion" in options
        before = self.version(ref) if idempotent else None
        writer = schema.conform(df).write.format("delta").mode(mode)
        for key, value in options.items():
            if value is not None:
                writer = writer.option(key, value)
        if ref.name:
            writer.saveAsTable(ref.name)
        else:
            writer.save(ref.path)
        written = self._last_commit(ref, rows_metric="numOutputRows")
        if idempotent and written.version == before:
            log.info("skipped a write to %s: transaction %s already committed", ref, options.get("txnVersion"))
            return WriteResult(version=before, rows_written=0, skipped=True)
        log.info("wrote %d rows to %s (version %d)", written.rows_written, ref, written.version)
        return written

    def _last_commit(self, ref: TableRef, *, rows_metric: str) -> WriteResult:
        """The table's latest commit: its version and the rows it wrote, per the operation's `rows_metric`."""
        last = self.delta_table(ref).history(1).select("version", "operationMetrics").first()
        rows = int((last["operationMetrics"] or {}).get(rows_metric, 0))
        return WriteResult(version=last["version"], rows_written=rows)
