"""What Spark's event log says about each refinery stage: shuffle bytes, spill, task skew.

A `refinery` command names its Spark jobs after the stage (job group `<run id>/<stage>`,
refinery.session.progress). Spark writes one JSON event per line when started with
`spark.eventLog.enabled=true` (and `spark.eventLog.compress=false`); `stage_metrics` sums the
finished tasks of each job group's Spark stages.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

EVENT_LOG_CONF = {
    "spark.eventLog.enabled": "true",
    "spark.eventLog.compress": "false",
}
MIN_SKEW_TASK_SECONDS = 1.0  # a Spark stage whose longest task is shorter than this has no skew worth naming


def submit_args(event_dir: Path) -> str:
    """PYSPARK_SUBMIT_ARGS that make a locally started JVM write its event log into `event_dir`."""
    conf = {**EVENT_LOG_CONF, "spark.eventLog.dir": event_dir.resolve().as_uri()}
    return " ".join(f"--conf {key}={value}" for key, value in conf.items()) + " pyspark-shell"


def stage_metrics(event_dir: Path) -> dict[str, dict]:
    """Per refinery stage (the part of the job group after `/`; `other` for jobs outside a stage):
    tasks, shuffle read/write bytes, memory and disk spill, and the worst skew (longest task / median
    task) over its Spark stages."""
    stage_of_spark_stage: dict[int, str] = {}
    durations: dict[int, list[float]] = defaultdict(list)
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path in event_files(event_dir):
        with path.open(encoding="utf-8") as events:
            for line in events:
                event = json.loads(line)
                kind = event.get("Event")
                if kind == "SparkListenerJobStart":
                    group = (event.get("Properties") or {}).get("spark.jobGroup.id") or ""
                    name = group.rsplit("/", 1)[-1] if "/" in group else "other"
                    for spark_stage in event.get("Stage IDs", []):
                        stage_of_spark_stage[spark_stage] = name
                elif kind == "SparkListenerTaskEnd":
                    _add_task(event, stage_of_spark_stage, durations, totals)
    result = {}
    for name, sums in totals.items():
        skews = [
            max(times) / statistics.median(times)
            for spark_stage, times in durations.items()
            if stage_of_spark_stage.get(spark_stage, "other") == name
            and len(times) > 1
            and max(times) >= MIN_SKEW_TASK_SECONDS
        ]
        result[name] = {
            "tasks": int(sums["tasks"]),
            "task_s": round(sums["task_s"], 1),
            "shuffle_read_mb": round(sums["shuffle_read"] / 2**20, 1),
            "shuffle_write_mb": round(sums["shuffle_write"] / 2**20, 1),
            "spill_memory_mb": round(sums["spill_memory"] / 2**20, 1),
            "spill_disk_mb": round(sums["spill_disk"] / 2**20, 1),
            "skew": round(max(skews), 2) if skews else None,
        }
    return result


def event_files(event_dir: Path) -> list[Path]:
    """The event log's files in order: Spark 4 writes `eventlog_v2_<app>/events_<n>_<app>` (rolled by size)."""
    files = [path for path in event_dir.rglob("*") if path.is_file() and not path.name.startswith((".", "appstatus"))]
    return sorted(files, key=lambda path: (path.parent.name, _part_number(path.name), path.name))


def _part_number(name: str) -> int:
    parts = name.split("_")
    return int(parts[1]) if name.startswith("events_") and len(parts) > 1 and parts[1].isdigit() else 0


def _add_task(event: dict, stage_of: dict[int, str], durations: dict, totals: dict) -> None:
    info, metrics = event.get("Task Info") or {}, event.get("Task Metrics") or {}
    name = stage_of.get(event.get("Stage ID"), "other")
    seconds = (info.get("Finish Time", 0) - info.get("Launch Time", 0)) / 1000
    durations[event.get("Stage ID")].append(seconds)
    read = metrics.get("Shuffle Read Metrics") or {}
    sums = totals[name]
    sums["tasks"] += 1
    sums["task_s"] += seconds
    sums["shuffle_read"] += read.get("Remote Bytes Read", 0) + read.get("Local Bytes Read", 0)
    sums["shuffle_write"] += (metrics.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0)
    sums["spill_memory"] += metrics.get("Memory Bytes Spilled", 0)
    sums["spill_disk"] += metrics.get("Disk Bytes Spilled", 0)
