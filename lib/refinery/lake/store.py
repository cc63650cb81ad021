"""Where tables live and how they are written: one Delta writer for every stage.

A table is addressed by its registry name and pipeline (refinery.tables). With a path root it lives at
`<root>/<key>` (`<root>/gold/web_text`, `<root>/_refinery/runs`); with `catalog` set the same tables
are `<catalog>.<schema>.<layer>_<pipeline>` (and `refinery_<name>` for system tables).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from delta.tables import DeltaMergeBuilder, DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from refinery import paths, tables
from refinery.config import LakeConfig
from refinery.faults import killed_during_write
from refinery.lake.delta_log import Commit, LogReader
from refinery.lake.schemas import TableSchema
from refinery.session import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableRef:
    """One Delta table: its lake-relative `key` (what the ledger and releases store) and where it is,
    by path or by catalog name when the lake uses a catalog."""

    key: str
    path: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        return paths.shown(self.name or self.path or self.key)  # a URI's credentials are never printed


@dataclass(frozen=True)
class WriteResult:
    """What one write did: the commit it made (`committed`), or that it made none.

    `version` is the version the write committed; when it made no commit (nothing to write, or an
    idempotent append whose transaction was already committed) it is the version the table had when the
    write began, whose rows are what the write would have produced.
    """

    version: int
    rows_written: int
    committed: bool = True

    @property
    def skipped(self) -> bool:
        return not self.committed


# The key under which each write stores its own token in the commit's userMetadata.
WRITE_TOKEN_KEY = "refinery.write"
_USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_LISTING_TASKS = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
_CREATE_ATTEMPTS = 8  # racing creators wait up to ~6 s in all for the winner's first commit


class Lake:
    """Reads and writes the lake's Delta tables for one SparkSession."""

    def __init__(self, spark: SparkSession, config: LakeConfig):
        self.spark = spark
        self.config = config
        self.root = paths.normalize(config.root)  # absolute local path, or the URI without trailing slash
        self._ensured: set[TableRef] = set()  # tables this Lake created or found, so each is checked once
        self.before_write: Callable[[], None] | None = None  # e.g. a lease check: raises to stop a write
        self._log_reader = LogReader.open(spark)  # None: versions and commits come from history() instead

    # ----------------------------------------------------------------- addressing

    def table(self, name: str, pipeline: str | None = None) -> TableRef:
        """The table `name` (see refinery.tables) of `pipeline` (None for system tables)."""
        spec = tables.table(name)
        if spec.schema is None or spec.scope == tables.RELEASE:
            raise ValueError(f"'{name}' is not addressed by Lake.table (use Lake.raw or Lake.release_table)")
        return self.resolve(spec.key(pipeline))

    def release_table(self, pipeline: str, release: str) -> TableRef:
        """Where release `release` of `pipeline` keeps its own copy of gold: `<root>/releases/<pipeline>/<name>`."""
        return self.resolve(tables.table("release").key(pipeline, release))

    def resolve(self, key: str) -> TableRef:
        """The table a stored key names. Rows written before keys were stored hold an absolute path or a
        catalog name instead; those are taken as they are."""
        key = self.key_of(key)
        try:
            identity = tables.parse_key(key)
        except ValueError:
            if paths.is_absolute(key) and "/" in key:
                return TableRef(key=key, path=key)
            return TableRef(key=key, name=key)
        if self.config.catalog:
            return TableRef(key=identity.key, name=self._catalog_name(identity))
        return TableRef(key=identity.key, path=paths.join(self.root, identity.key))

    def key_of(self, stored: str) -> str:
        """A stored table identity as a key: old absolute paths under this lake's root become keys."""
        relative = paths.relative_to(stored, self.root) if paths.is_absolute(stored) else None
        return relative if relative is not None else stored

    def raw(self, pipeline: str) -> TableRef:
        """The pipeline's landing folder of raw files (a location, not a Delta table)."""
        key = tables.table("raw").key(pipeline)
        return TableRef(key=key, path=paths.join(self.root, key))

    def checkpoint_path(self, pipeline: str, name: str) -> str:
        return paths.join(self.root, "_checkpoints", pipeline, name)

    def _catalog_name(self, identity: tables.Identity) -> str:
        namespace = f"{self.config.catalog}.{self.config.schema}"
        if identity.table.scope == tables.SYSTEM:
            return f"{namespace}.refinery_{identity.table.name}"
        if identity.table.scope == tables.RELEASE:
            safe = identity.release.replace("-", "_").replace(".", "_")
            return f"{namespace}.release_{identity.pipeline}_{safe}"
        return f"{namespace}.{identity.table.name}_{identity.pipeline}"

    # ----------------------------------------------------------------- reading

    def exists(self, ref: TableRef) -> bool:
        if ref.name:
            return self.spark.catalog.tableExists(ref.name)
        return DeltaTable.isDeltaTable(self.spark, ref.path)

    def delta_table(self, ref: TableRef) -> DeltaTable:
        return DeltaTable.forName(self.spark, ref.name) if ref.name else DeltaTable.forPath(self.spark, ref.path)

    def version(self, ref: TableRef) -> int | None:
        """The latest committed version, or None when the table does not exist."""
        if ref.path and self._log_reader:
            return self._log_reader.latest_version(ref.path)
        if not self.exists(ref):
            return None
        return self.delta_table(ref).history(1).select("version").first()["version"]

    def commits(self, ref: TableRef, first: int, last: int | None = None) -> list[Commit]:
        """The table's commits from version `first` to `last` (default: the latest), newest first."""
        if ref.path and self._log_reader:
            last = self._log_reader.latest_version(ref.path) if last is None else last
            return self._log_reader.commits(ref.path, first, last) if last is not None else []
        history = self.delta_table(ref).history().where(f"version >= {int(first)}")
        if last is not None:
            history = history.where(f"version <= {int(last)}")
        rows = history.select("version", "operationMetrics", "userMetadata").orderBy(F.desc("version")).collect()
        return [Commit(row["version"], dict(row["operationMetrics"] or {}), row["userMetadata"]) for row in rows]

    def location(self, ref: TableRef) -> str:
        """Where the table's files are (for a catalog table, the location its catalog gave it)."""
        return ref.path or self.delta_table(ref).detail().select("location").first()[0]

    def write_text(self, key: str, text: str) -> str:
        """Write a small text file at `key` below the lake root (any file system Hadoop reaches); its location."""
        location = paths.join(self.root, key)
        jvm = self.spark.sparkContext._jvm
        target = jvm.org.apache.hadoop.fs.Path(paths.as_uri(location))
        stream = target.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).create(target, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()
        return location

    def size_bytes(self, ref: TableRef) -> int:
        """The bytes of the table's current data files (Delta's own bookkeeping: no data is read)."""
        return int(self.delta_table(ref).detail().select("sizeInBytes").first()[0] or 0)

    def commit_metadata(self, ref: TableRef, version: int) -> dict[str, str]:
        """The `metadata` a write stored with `version` ({} when it stored none)."""
        commit = next(iter(self.commits(ref, version, version)), None)
        stored = json.loads(commit.user_metadata) if commit and commit.user_metadata else {}
        return {key: value for key, value in stored.items() if key != WRITE_TOKEN_KEY}

    def read(self, ref: TableRef, version: int | None = None) -> DataFrame:
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.table(ref.name) if ref.name else reader.load(ref.path)

    def read_stream(self, ref: TableRef, **options: str | int | bool) -> DataFrame:
        """A streaming DataFrame over the table's commits (Delta source options as keyword arguments)."""
        reader = self.spark.readStream.format("delta")
        for key, value in options.items():
            reader = reader.option(key, value)
        return reader.table(ref.name) if ref.name else reader.load(ref.path)

    # ----------------------------------------------------------------- writing

    def ensure_table(self, ref: TableRef, schema: TableSchema) -> None:
        """Create the table from its declared schema when it does not exist yet (checked once per Lake).

        Two processes may create the same table at once. The loser sees a location that is not empty but
        has no first commit yet, or a commit conflict; it waits for the winner's table and goes on.
        """
        if ref in self._ensured:
            return
        if self.exists(ref):  # a cheap look first: creating checks the same, at several times the cost
            self._ensured.add(ref)
            return
        if ref.name:
            self._ensure_schema()
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                if ref.name:  # Delta's builder takes two-part names only; SQL takes the catalog's three
                    self.spark.sql(_create_table_sql(self.spark, ref.name, schema))
                else:
                    builder = DeltaTable.createIfNotExists(self.spark).location(ref.path).addColumns(schema.struct)
                    if schema.partition_by:
                        builder = builder.partitionedBy(*schema.partition_by)
                    for key, value in schema.table_properties.items():
                        builder = builder.property(key, value)
                    builder.execute()
                break
            except Exception:
                if self.exists(ref):
                    log.info("table %s was created by another writer meanwhile", ref)
                    break
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        self._ensured.add(ref)

    def _ensure_schema(self) -> None:
        """The catalog schema the tables live in (created when missing, which needs the privilege to)."""
        namespace = f"{self.config.catalog}.{self.config.schema}"
        if not self.spark.catalog.databaseExists(namespace):
            self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {namespace}")

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
        Replacing nothing with nothing makes no commit: the result says so.
        """
        # A catalog table overwritten whole by saveAsTable would be replaced (CREATE OR REPLACE TABLE AS
        # SELECT: its properties and history's WRITE operations gone); a predicate keeps it a WRITE.
        where = replace_where or ("true" if ref.name else None)
        return self._write(ref, df, schema, mode="overwrite", options={"replaceWhere": where}, metadata=metadata)

    def append(
        self,
        ref: TableRef,
        df: DataFrame,
        schema: TableSchema,
        txn: tuple[str, int] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """Append `df`. With `txn` = (app id, version) the append happens at most once per pair: a retry of
        an already committed (app id, version) writes nothing and returns `committed=False`. `metadata` as
        for `overwrite`."""
        options = {"txnAppId": txn[0], "txnVersion": txn[1]} if txn else {}
        return self._write(ref, df, schema, mode="append", options=options, metadata=metadata)

    def insert_new(
        self, ref: TableRef, df: DataFrame, schema: TableSchema, *, key: str, metadata: dict[str, str] | None = None
    ) -> WriteResult:
        """MERGE `df` into the table, inserting rows whose `key` is not there yet. Idempotent by construction.
        `metadata` as for `overwrite`."""
        return self.merge(
            ref,
            schema.conform(df),
            f"t.{key} = s.{key}",
            lambda merge: merge.whenNotMatchedInsertAll(),
            rows_metric="numTargetRowsInserted",
            schema=schema,
            metadata=metadata,
        )

    def merge(
        self,
        ref: TableRef,
        source: DataFrame,
        condition: str,
        clauses: Callable[[DeltaMergeBuilder], DeltaMergeBuilder],
        *,
        rows_metric: str | tuple[str, ...],
        schema: TableSchema | None = None,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """MERGE `source` (alias `s`) into the table (alias `t`) on `condition`, with the WHEN clauses `clauses`
        adds; the table is created from `schema` first when given. The write knows its commit; `rows_metric`
        names the MERGE metric(s) that count its rows; `metadata` as for `overwrite`."""
        self._check_before_write()
        if schema is not None:
            self.ensure_table(ref, schema)
        before = self.version(ref)
        token = _new_token()
        stored = json.dumps({**(metadata or {}), WRITE_TOKEN_KEY: token}, sort_keys=True)
        tagged = {_USER_METADATA_CONF: stored}  # MERGE takes no userMetadata option
        merge = clauses(self.delta_table(ref).alias("t").merge(source.alias("s"), condition))
        with settings(self.spark, tagged), killed_during_write(ref.path):
            merge.execute()
        return self._own_commit(ref, token, before, rows_metric=rows_metric)

    def vacuum(self, ref: TableRef, retention_hours: float) -> None:
        """VACUUM: delete the files no version of the last `retention_hours` needs. A retention under Delta's
        7-day floor is allowed for this operation only, and files are listed with as many tasks as the cluster
        has cores (the default, 10,000 tasks, took 56 s against 3.6 s per small table on 2 cores)."""
        values = {_LISTING_TASKS: str(max(2, self.spark.sparkContext.defaultParallelism * 2))}
        if retention_hours < 168:
            values[_RETENTION_CHECK] = "false"
        with settings(self.spark, values):
            self.delta_table(ref).vacuum(float(retention_hours))

    def checkpoint(self, ref: TableRef) -> bool:
        """Write a Delta log checkpoint of the latest version; return False when it had one already, or when
        this process has no JVM to write one with (Spark Connect: the platform checkpoints its tables)."""
        if self._log_reader is None:
            log.info("no log checkpoint of %s written: no driver JVM here", ref)
            return False
        return self._log_reader.checkpoint(path=ref.path, name=ref.name)

    def delete_matching(self, ref: TableRef, source: DataFrame, condition: str) -> WriteResult:
        """Delete the table's rows that `condition` matches against `source` (a MERGE; `t.` is the table, `s.`
        the source), so the commit names the condition, never a value."""
        return self.merge(ref, source, condition, lambda m: m.whenMatchedDelete(), rows_metric="numTargetRowsDeleted")

    def update_matching(self, ref: TableRef, source: DataFrame, condition: str, values: dict) -> WriteResult:
        """Set `values` (column -> Column) on the rows `condition` matches against `source` (as `delete_matching`)."""
        return self.merge(
            ref, source, condition, lambda m: m.whenMatchedUpdate(set=values), rows_metric="numTargetRowsUpdated"
        )

    def _write(
        self,
        ref: TableRef,
        df: DataFrame,
        schema: TableSchema,
        mode: str,
        options: dict,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        self._check_before_write()
        self.ensure_table(ref, schema)
        before = self.version(ref)
        token = _new_token()
        user_metadata = json.dumps({**(metadata or {}), WRITE_TOKEN_KEY: token}, sort_keys=True)
        writer = schema.conform(df).write.format("delta").mode(mode).option("userMetadata", user_metadata)
        for key, value in options.items():
            if value is not None:
                writer = writer.option(key, value)
        with killed_during_write(ref.path):
            if ref.name:
                writer.saveAsTable(ref.name)
            else:
                writer.save(ref.path)
        return self._own_commit(ref, token, before, rows_metric="numOutputRows")

    def _check_before_write(self) -> None:
        if self.before_write is not None:
            self.before_write()

    def _own_commit(self, ref: TableRef, token: str, before: int, *, rows_metric: str | tuple[str, ...]) -> WriteResult:
        """The commit that carries `token` (made after version `before`), or a result saying there is none.

        Other writers may have committed after `before` too, so the newest commit is not assumed to be ours.
        """
        mine = next((c for c in self.commits(ref, before + 1) if token in (c.user_metadata or "")), None)
        if mine is None:
            log.info("no commit to %s: nothing to write, or the transaction was already committed", ref)
            return WriteResult(version=before, rows_written=0, committed=False)
        metrics = mine.operation_metrics
        rows = sum(
            int(metrics.get(name, 0)) for name in ((rows_metric,) if isinstance(rows_metric, str) else rows_metric)
        )
        log.info("wrote %d rows to %s (version %d)", rows, ref, mine.version)
        return WriteResult(version=mine.version, rows_written=rows)


def _create_table_sql(spark: SparkSession, name: str, schema: TableSchema) -> str:
    """CREATE TABLE IF NOT EXISTS for a catalog table, with the declared columns (types, NOT NULL, comments)."""
    columns = spark.sparkContext._jvm.org.apache.spark.sql.types.DataType.fromJson(schema.struct.json()).toDDL()
    partitioned = f" PARTITIONED BY ({', '.join(schema.partition_by)})" if schema.partition_by else ""
    properties = ", ".join(f"'{key}' = '{value}'" for key, value in schema.table_properties.items())
    return f"CREATE TABLE IF NOT EXISTS {name} ({columns}) USING delta{partitioned} TBLPROPERTIES ({properties})"


def _new_token() -> str:
    return uuid.uuid4().hex
