"""One writer per pipeline: a lease row in `_refinery/leases`, taken and renewed through Delta's own concurrency.

A command that writes a pipeline's tables (`run`, a stage, `stream`, `release create`) holds the
pipeline's lease while it runs. Taking it is a compare-and-swap MERGE on the pipeline's row: insert it
when there is none, or replace the holder that was read, when that holder's lease expired or its
process is gone from this host. Delta's conflict detection lets exactly one of two racing MERGEs
commit; the other re-reads and waits. The holder renews its lease every `ttl / 3` from a background
thread, in a scheduler pool of its own (`LEASE_POOL`; the session runs the FAIR scheduler), so a long stage
holding every core does not hold the renewal back beyond its next finished task. A holder that finds its
lease taken, or whose last renewal has expired, stops before its next write (`LeaseLostError`).

A second command on a busy pipeline waits up to `lake.lease_wait_seconds` for the lease, then fails
with one line naming the holder. Nothing is lost or doubled either way: a command that waited sees
the first one's commits, and ingest plans its batch only under the lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from delta import exceptions as delta_errors
from delta.tables import DeltaTable
from pyspark.sql import Row
from pyspark.sql import functions as F

from refinery.errors import PipelineBusyError
from refinery.lake.schemas import table_schema
from refinery.lake.store import Lake

log = logging.getLogger(__name__)

# What Delta raises at the MERGE that loses a race (the classes share no base class).
DELTA_CONFLICTS = (
    delta_errors.ConcurrentAppendException,
    delta_errors.ConcurrentDeleteDeleteException,
    delta_errors.ConcurrentDeleteReadException,
    delta_errors.ConcurrentTransactionException,
    delta_errors.ConcurrentWriteException,
    delta_errors.DeltaConcurrentModificationException,
    delta_errors.MetadataChangedException,
    delta_errors.ProtocolChangedException,
)


LEASE_POOL = "refinery_lease"  # the FAIR scheduler pool of the renewal's Spark jobs


class LeaseLostError(RuntimeError):
    """This run's lease expired (another run may have taken it): it must not write any more."""


class PipelineLease:
    """`with PipelineLease(lake, pipeline, run_id, ...):` holds the pipeline's lease for the block."""

    def __init__(self, lake: Lake, pipeline: str, run_id: str, *, ttl_seconds: int, wait_seconds: int):
        self.lake, self.pipeline, self.run_id = lake, pipeline, run_id
        self.ttl, self.wait = ttl_seconds, wait_seconds
        self.ref, self.schema = lake.table("leases"), table_schema("leases")
        self.host, self.pid = socket.gethostname(), os.getpid()
        self._stop = threading.Event()
        self._lost = False
        self._valid_until = 0.0  # time.monotonic() at which the lease as last taken or renewed expires
        self._heartbeat: threading.Thread | None = None

    # ------------------------------------------------------------------ public

    def __enter__(self) -> PipelineLease:
        self.lake.ensure_table(self.ref, self.schema)
        self._acquire()
        self._heartbeat = threading.Thread(target=self._renew_until_stopped, name="refinery-lease", daemon=True)
        self._heartbeat.start()
        self.lake.before_write = self.check
        return self

    def __exit__(self, *_exc) -> None:
        self.lake.before_write = None
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        if not self._lost:
            self._release()

    def check(self) -> None:
        """Raise LeaseLostError when another run took this run's lease, or when it expired unrenewed (another
        run may take it at any moment, so writing now could double rows)."""
        if self._lost:
            raise LeaseLostError(f"the lease on pipeline {self.pipeline} expired and another run took it")
        if time.monotonic() > self._valid_until:
            raise LeaseLostError(
                f"the lease on pipeline {self.pipeline} was not renewed within lake.lease_ttl_seconds "
                f"({self.ttl}s) and has expired; rerun (a rerun redoes this stage's work)"
            )

    # ------------------------------------------------------------------ taking and giving back

    def _acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        told = None
        while True:
            current = self._current()
            if current is None or current.holder == self.run_id or self._is_stale(current):
                valid_until = time.monotonic() + self.ttl
                self._swap(expected=None if current is None else current.holder)
                current = self._current()
                if current is not None and current.holder == self.run_id:
                    self._valid_until = valid_until
                    log.info("took the lease on pipeline %s", self.pipeline)
                    return
            if current is None:
                continue
            if time.monotonic() >= deadline:
                raise PipelineBusyError(
                    f"pipeline {self.pipeline} is being written by run {current.holder} (pid {current.pid} on "
                    f"{current.host}); waited {self.wait}s for it: "
                    "retry when it ends or raise lake.lease_wait_seconds"
                )
            if told != current.holder:
                log.warning(
                    "pipeline %s is being written by run %s: waiting up to %ds",
                    self.pipeline,
                    current.holder,
                    self.wait,
                )
                told = current.holder
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))

    def _swap(self, *, expected: str | None) -> None:
        """Put this run's row in place of the holder `expected` (None: insert when no row exists)."""
        now = datetime.now(UTC)
        source = self.lake.spark.createDataFrame(
            [(self.pipeline, self.run_id, self.host, self.pid, now, now + timedelta(seconds=self.ttl))],
            self.schema.struct,
        )
        merge = self._table().alias("t").merge(source.alias("s"), self._match())
        if expected is not None:
            merge = merge.whenMatchedUpdateAll(condition=F.col("t.holder") == F.lit(expected))
        try:
            merge.whenNotMatchedInsertAll().execute()
        except DELTA_CONFLICTS:  # a concurrent MERGE committed first: the caller re-reads the row
            log.info("lost a race for the lease on pipeline %s", self.pipeline)

    def _renew_until_stopped(self) -> None:
        _use_pool(self.lake.spark, LEASE_POOL)
        next_beat = time.monotonic() + self.ttl / 3
        while not self._stop.wait(max(0.0, next_beat - time.monotonic())):  # every ttl / 3, however long one takes
            next_beat = time.monotonic() + self.ttl / 3
            valid_until = time.monotonic() + self.ttl
            try:
                self._swap(expected=self.run_id)
                current = self._current()
            except Exception as exc:  # a transient storage error: try again at the next beat
                log.warning("could not renew the lease on pipeline %s (%s)", self.pipeline, type(exc).__name__)
                if time.monotonic() > self._valid_until:
                    self._lost = True
                    return
                continue
            if current is None or current.holder != self.run_id:
                log.error("the lease on pipeline %s was taken by run %s", self.pipeline, current and current.holder)
                self._lost = True
                return
            self._valid_until = valid_until

    def _release(self) -> None:
        try:
            self._table().alias("t").delete(
                (F.col("pipeline") == F.lit(self.pipeline)) & (F.col("holder") == F.lit(self.run_id))
            )
        except Exception as exc:  # the lease expires by itself
            log.warning("could not release the lease on pipeline %s (%s)", self.pipeline, type(exc).__name__)

    # ------------------------------------------------------------------ reading

    def _current(self) -> Row | None:
        rows = self.lake.read(self.ref).where(F.col("pipeline") == self.pipeline)
        return rows.withColumn("expires_epoch", F.col("expires_at").cast("double")).first()

    def _is_stale(self, holder: Row) -> bool:
        """Expired, or held by a process of this host that no longer exists (killed before it released)."""
        if holder.expires_epoch < time.time():
            return True
        return holder.host == self.host and holder.pid != self.pid and not _process_exists(holder.pid)

    def _table(self) -> DeltaTable:
        return self.lake.delta_table(self.ref)

    def _match(self) -> str:
        # The literal keeps each MERGE inside its pipeline's partition, so pipelines never conflict.
        return f"t.pipeline = '{self.pipeline}' AND t.pipeline = s.pipeline"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _use_pool(spark, pool: str) -> None:
    """Run this thread's Spark jobs in the FAIR scheduler pool `pool` (where the platform allows it)."""
    try:
        spark.sparkContext.setLocalProperty("spark.scheduler.pool", pool)
    except Exception as exc:  # noqa: BLE001 - Spark Connect (serverless) has no SparkContext and no pools
        log.debug("lease renewal left in the default pool (%s)", type(exc).__name__)
