"""Real `refinery` processes for the fault and concurrency suites, and table checks that compare lakes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import functions as F

from refinery.faults import ENV as KILL_AT

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "data" / "sample" / "web_text"
LAYERS = ("bronze", "silver", "silver_dedup", "gold", "rejects", "signatures")
# What makes a row unique in each layer: a second row with the same key is a doubled row.
ROW_KEYS = {
    "bronze": ["doc_id"],
    "silver": ["doc_id"],
    "silver_dedup": ["doc_id"],
    "gold": ["doc_id", "copy"],
    "signatures": ["doc_id"],
    "rejects": ["stage", "rule", "doc_id", "_file", "_line"],
}


def seed(lake: Path) -> Path:
    raw = lake / "raw" / "web_text"
    raw.mkdir(parents=True, exist_ok=True)
    for path in SAMPLE.glob("*.jsonl*"):
        shutil.copy(path, raw / path.name)
    return lake


def refinery_command(lake: Path, *args: str, kill_at: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of `refinery ARGS --lake LAKE -q` (with a failpoint when asked)."""
    env = {k: v for k, v in os.environ.items() if k != KILL_AT}
    if kill_at:
        env[KILL_AT] = kill_at
    return [sys.executable, "-m", "refinery.cli", *args, "--lake", str(lake), "-q"], env


def start(lake: Path, *args: str, kill_at: str | None = None) -> subprocess.Popen:
    """Start `refinery` as a process in a session of its own (a failpoint then kills just it and its JVM)."""
    command, env = refinery_command(lake, *args, kill_at=kill_at)
    return subprocess.Popen(
        command, cwd=PROJECT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def refinery(lake: Path, *args: str, kill_at: str | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `refinery ARGS --lake LAKE -q` to its end (see `start`)."""
    process = start(lake, *args, kill_at=kill_at)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def table(spark, lake: Path, layer: str):
    return spark.read.format("delta").load(str(lake / layer / "web_text"))


def gold_hash(spark, lake: Path) -> str:
    """A hash of gold's content (doc_id, copy, text, split, shard, n_tokens), independent of file layout."""
    return content_hash(table(spark, lake, "gold"))


def content_hash(gold) -> str:
    """`gold_hash` of a gold (or release) DataFrame."""
    line = F.concat_ws("|", "doc_id", "copy", "split", "shard", "n_tokens", F.sha2("text", 256))
    return gold.agg(F.sha2(F.concat_ws("\n", F.sort_array(F.collect_list(line))), 256)).first()[0]


def lake_state(spark, lake: Path) -> dict[str, object]:
    """Row counts of every layer, gold's content hash, and the rows that are doubled (must be none)."""
    state: dict[str, object] = {"gold_hash": gold_hash(spark, lake)}
    for layer in LAYERS:
        df = table(spark, lake, layer)
        state[layer] = df.count()
        state[f"{layer}.doubled"] = state[layer] - df.select(*ROW_KEYS[layer]).distinct().count()
    files = spark.read.format("delta").load(str(lake / "_refinery" / "ingest_files")).where("status = 'committed'")
    state["ingest_files.committed_twice"] = files.count() - files.select("path").distinct().count()
    return state


RELEASE = "r1"
BUILD_STEPS = ("ingest", "curate", "dedup", "publish")


class SampleLakes:
    """The sample built stage by stage, with a saved copy of the lake after each step (and `released`,
    after release r1). Lineage is stored lake-relative, so a saved state can be restored anywhere;
    `restore` puts it back at the path it was built at. `reference` is the state of the finished lake."""

    def __init__(self, root: Path):
        self.root = root
        self.work = root / "lake"
        self.reference: dict[str, object] = {}

    def build(self, spark, run) -> SampleLakes:
        seed(self.work)
        self.save("raw")
        for step in BUILD_STEPS:
            assert run(self.work, step) == 0
            self.save(step)
        assert run(self.work, "release", "create", RELEASE) == 0
        self.save("released")
        self.reference = {**lake_state(spark, self.work), "release_rows": release_rows(spark, self.work)}
        return self

    def save(self, name: str) -> None:
        shutil.copytree(self.work, self.root / f"saved-{name}")

    def restore(self, name: str, at: Path | None = None) -> Path:
        """The saved state `name`, copied to `at` (default: the path the sample was built at)."""
        target = at or self.work
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.root / f"saved-{name}", target)
        return target


def release_rows(spark, lake: Path) -> int:
    return spark.read.format("delta").load(str(lake / "releases" / "web_text" / RELEASE)).count()
