"""A progress line per running stage at a steady cadence, read from Spark's status store.

    curate: 2m10s · tasks 37/120 · 41,200 rows read in this pass (317/s)

Tasks are those of the stage's Spark stages running at that moment (done / total); rows read are the input
records of those running Spark stages: one pass over the input, never more than it holds (a stage that reads
its input twice, to count and then to write, starts again from 0 on the second pass instead of adding it up).
A line is printed only while one of its Spark stages runs, so a quick stage prints none.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from pyspark.sql import SparkSession

log = logging.getLogger("refinery.session.progress")


class StageProgress:
    """`with StageProgress(spark, "curate", group="run-id/curate", every_seconds=10): ...` names the block's
    Spark jobs after the stage (a job group, also shown in Spark's UI) and logs progress until it ends."""

    def __init__(self, spark: SparkSession, stage: str, *, group: str, every_seconds: int):
        self.sc = spark.sparkContext
        self.stage = stage
        self.group = group
        self.every_seconds = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self._pass_ids: frozenset[int] = frozenset()  # the Spark stages of the pass being reported, and its start
        self._pass_at = self._started

    def __enter__(self) -> StageProgress:
        self.sc.setJobGroup(self.group, f"refinery {self.stage}")
        if self.every_seconds > 0:
            self._thread = threading.Thread(target=self._report, name=f"progress-{self.stage}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, _type: type | None, _exc: BaseException | None, _tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sc.setLocalProperty("spark.jobGroup.id", None)
        self.sc.setLocalProperty("spark.job.description", None)

    def _report(self) -> None:
        while not self._stop.wait(self.every_seconds):
            try:
                line = self.line()
            except Exception:  # the JVM is going away, or a status call failed: progress is best effort
                return
            if line:
                log.info("%s", line)

    def line(self) -> str | None:
        """The progress line now, or None when none of the stage's Spark stages is running."""
        tracker = self.sc.statusTracker()
        stage_ids: set[int] = set()
        for job_id in tracker.getJobIdsForGroup(self.group):
            job = tracker.getJobInfo(job_id)
            stage_ids.update(job.stageIds if job else ())
        running = [tracker.getStageInfo(i) for i in set(tracker.getActiveStageIds()) & stage_ids]
        running = [info for info in running if info is not None]
        if not running:
            return None
        done = sum(info.numCompletedTasks for info in running)
        total = sum(info.numTasks for info in running)
        store = self.sc._jsc.sc().statusStore()
        rows = sum(_input_records(store, info.stageId) for info in running)
        elapsed = time.monotonic() - self._started
        pass_seconds = max(time.monotonic() - self._pass_started(running), 1e-3)
        rate = f" ({rows / pass_seconds:,.0f}/s)" if rows else ""
        line = f"{self.stage}: {format_duration(elapsed)} · tasks {done:,}/{total:,}"
        return line + (f" · {rows:,} rows read in this pass{rate}" if rows else "")

    def _pass_started(self, running) -> float:
        """When (monotonic) the earliest running Spark stage was first seen: the pass's start."""
        ids = frozenset(info.stageId for info in running)
        if ids != self._pass_ids:
            self._pass_ids, self._pass_at = ids, time.monotonic() - self.every_seconds
        return self._pass_at


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _input_records(store, stage_id: int) -> int:
    """Records the stage's tasks read from their input so far (0 for a stage the store no longer has)."""
    try:
        return int(store.lastStageAttempt(stage_id).inputRecords())
    except Exception:
        return 0
