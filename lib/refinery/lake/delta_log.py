"""A path table's latest version and its commits, read from the Delta log itself; log checkpoints written.

`DeltaTable.history()` builds a DataFrame for every question: about half a second each, warm, and a run
asks dozens of them (the version before each write, then the commit the write made). Here the latest
version comes from the JVM's DeltaLog (the listing Delta itself does before a read, in milliseconds) and a
commit's `commitInfo` from its file, `_delta_log/<version in 20 digits>.json`, one action per line, as the
Delta protocol lays them out.

This needs the driver's JVM (not Spark Connect, not a cluster that blocks py4j) and, to read, a table
addressed by path. `LogReader.open` returns None otherwise, and callers ask `history()` instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from refinery import paths

log = logging.getLogger(__name__)

_NO_TABLE = -1  # the version DeltaLog gives a location that holds no table yet


@dataclass(frozen=True)
class Commit:
    """What a commit says of itself: its version, its operation's metrics and the userMetadata it stored."""

    version: int
    operation_metrics: dict[str, str]
    user_metadata: str | None


class LogReader:
    """Reads (and checkpoints) Delta logs through one SparkSession's JVM."""

    def __init__(self, spark: SparkSession, jvm):
        self.spark, self.jvm = spark, jvm

    @classmethod
    def open(cls, spark: SparkSession) -> LogReader | None:
        """A reader for `spark`, or None where this process has no usable JVM (Spark Connect, py4j blocked)."""
        try:
            jvm = spark.sparkContext._jvm
            jvm.org.apache.spark.sql.delta.DeltaLog  # noqa: B018 - a blocked gateway refuses here, not later
        except Exception as exc:  # noqa: BLE001 - Spark Connect and locked-down gateways raise their own types
            log.debug("the Delta log is read through history() here (%s)", type(exc).__name__)
            return None
        return cls(spark, jvm)

    def latest_version(self, path: str) -> int | None:
        """The table's latest committed version, or None when `path` holds no Delta table."""
        version = self._updated(self._delta_log(path)).version()
        return None if version == _NO_TABLE else int(version)

    def checkpoint(self, path: str | None = None, name: str | None = None) -> bool:
        """Write a log checkpoint of the table's latest version (at `path`, or the catalog's `name`); return
        False when that version already has one."""
        delta_log = (
            self._delta_log(path)
            if path
            else self._delta_log(self.jvm.org.apache.spark.sql.catalyst.TableIdentifier(name))
        )
        snapshot = self._updated(delta_log)
        last = delta_log.readLastCheckpointFile()
        if last.isDefined() and last.get().version() >= snapshot.version():
            return False
        delta_log.checkpoint(snapshot, self.jvm.scala.Option.empty())
        return True

    def _delta_log(self, table):
        """The JVM's DeltaLog of a table, given its path or a catalyst TableIdentifier."""
        return self.jvm.org.apache.spark.sql.delta.DeltaLog.forTable(self.spark._jsparkSession, table)

    def _updated(self, delta_log):
        """The log's latest snapshot, after listing the log for commits made since it was last read."""
        empty = self.jvm.scala.Option.empty()
        return delta_log.update(False, empty, empty)

    def commits(self, path: str, first: int, last: int) -> list[Commit]:
        """The commits `first`..`last` (inclusive) of the table at `path`, newest first."""
        return [self._commit(path, version) for version in range(last, first - 1, -1)]

    def _commit(self, path: str, version: int) -> Commit:
        info = next((action["commitInfo"] for action in self._actions(path, version) if "commitInfo" in action), {})
        metrics = {key: str(value) for key, value in (info.get("operationMetrics") or {}).items()}
        return Commit(version=version, operation_metrics=metrics, user_metadata=info.get("userMetadata"))

    def _actions(self, path: str, version: int) -> list[dict]:
        """The actions of one commit file ([] when log clean-up has removed it)."""
        jvm = self.jvm
        target = jvm.org.apache.hadoop.fs.Path(paths.as_uri(paths.join(path, "_delta_log", f"{version:020d}.json")))
        file_system = target.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration())
        if not file_system.exists(target):
            return []
        stream = file_system.open(target)
        try:
            text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()
        return [json.loads(line) for line in text.splitlines() if line.strip()]
