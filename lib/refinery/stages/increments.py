"""What a stage that adds to its output has not handled yet, and whether it may add to its output at all.

A stage's output and its rejects are the record of what it handled: an input row is handled once its `doc_id` is
in the output table or among the stage's rejects (a forgotten subject's reject keeps no id; its position `_file`,
`_line` stands for it). Nothing else is booked, so the record cannot drift from the tables: a run killed between
writing its output and its rejects leaves only the rejected rows unhandled, and the next run adds exactly those
(a stage decides each row alone, so the rows are the ones a full rebuild makes).

Every commit such a stage makes to its output stores its settings: a hash of the config sections that decide its
rows and of the stages before it (`Kind.sections_deciding`), and of Refinery's version. The stage adds only when
its output's last commit of its own holds the same settings; otherwise it rebuilds, and says why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.lake.store import Lake, TableRef
from refinery.session import Persisted
from refinery.stages.base import StageContext

SETTINGS = "settings"  # the key of a stage's settings in its output commits' metadata
_LOOK_BACK = 500  # commits searched for a stage's own (forget, maintain and the stream commit to its output too)
_READ_AT_ONCE = 20
_BROADCAST_IDS = 2_000_000  # new ids up to this many are sent to every task instead of shuffling the rows


@dataclass(frozen=True)
class Plan:
    """Whether the running stage adds to its output (`rebuild_because` None) or rebuilds it, and its settings."""

    settings: str
    rebuild_because: str | None


def settings_of(ctx: StageContext, stage: str | None = None) -> str:
    """The settings of `stage` (default: the running one): its deciding config sections (with its upstream
    stages') and the version."""
    sections = ctx.config.pipeline_kind.sections_deciding(stage or ctx.declared.name)
    try:
        release = version("refinery")
    except PackageNotFoundError:  # a source checkout without an install
        release = "unknown"
    stamp = f"{ctx.config.hash_of(sections)}:{release}"
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def plan(ctx: StageContext, cannot_add: str | None = None) -> Plan:
    """Add to the output when it was written under the same settings, no full refresh is asked for and the stage
    knows no reason it `cannot_add`."""
    settings = settings_of(ctx)
    if ctx.full_refresh:
        return Plan(settings, "--full-refresh")
    if cannot_add:
        return Plan(settings, cannot_add)
    output = ctx.table(ctx.declared.writes)
    if ctx.lake.version(output) is None:
        return Plan(settings, f"no {ctx.declared.writes} yet")
    recorded = last_settings(ctx.lake, output)
    if recorded is None:
        return Plan(settings, f"{ctx.declared.writes} records no settings (written by an earlier Refinery)")
    if recorded != settings:
        return Plan(settings, "its settings changed (config or Refinery version)")
    return Plan(settings, None)


def last_settings(lake: Lake, ref: TableRef) -> str | None:
    """The settings stored by the newest commit of `ref` that stores any, among its last _LOOK_BACK commits."""
    latest = lake.version(ref)
    if latest is None:
        return None
    last = latest
    while last >= max(0, latest - _LOOK_BACK):  # newest first, a few commits at a time: usually the first holds them
        first = max(0, last - _READ_AT_ONCE + 1)
        for commit in lake.commits(ref, first, last):
            try:
                stored = json.loads(commit.user_metadata) if commit.user_metadata else {}
            except ValueError:  # another writer's free text
                continue
            if isinstance(stored, dict) and SETTINGS in stored:
                return stored[SETTINGS]
        last = first - 1
    return None


def stored(settings: str | None) -> dict[str, str] | None:
    """The commit metadata that stores `settings` (None when there are none to store)."""
    return {SETTINGS: settings} if settings else None


def settings_to_store(ctx: StageContext, stage: str) -> str | None:
    """The settings a stage that only ever adds (the stream's curate) stores with its commits: the running ones
    when its output holds no rows or was written under them; else none, so a batch run rebuilds the output.
    Its own commits store the same, so the answer holds for as long as the config does."""
    settings = settings_of(ctx, stage)
    output = ctx.table(ctx.config.pipeline_kind.stage(stage).writes)
    if ctx.lake.read(output).isEmpty() or last_settings(ctx.lake, output) == settings:
        return settings
    return None


def unhandled(ctx: StageContext, rows: DataFrame, cache: Persisted) -> tuple[DataFrame, int]:
    """The rows of the stage's input `rows` it has not handled, and how many.

    Requires: `doc_id`, `_file`, `_line`, `_run_id` (the ingest run that wrote the row). Only ids and positions
    are read to find them; the rows themselves are then read from the files of their ingest runs alone (Delta
    skips the others by their `_run_id` statistics).
    """
    stage = ctx.declared
    handled = pinned(ctx.lake, ctx.table(stage.writes)).select("doc_id")
    positions = None
    rejects_ref = ctx.table("rejects")
    if ctx.lake.exists(rejects_ref):
        rejects = pinned(ctx.lake, rejects_ref).where(F.col("stage") == stage.name)
        handled = handled.unionByName(rejects.where(F.col("doc_id").isNotNull()).select("doc_id"))
        positions = rejects.where(F.col("doc_id").isNull()).select("_file", "_line")
    new = rows.select("doc_id", "_run_id", "_file", "_line").join(handled, "doc_id", "left_anti")
    if positions is not None:
        new = new.join(positions, ["_file", "_line"], "left_anti")
    new = cache.keep(new.select("doc_id", "_run_id"))
    runs = new.groupBy("_run_id").count().collect()  # one row per ingest run with new rows
    count = sum(run["count"] for run in runs)
    if not count:
        return rows.limit(0), 0
    ids = new.select("doc_id")
    chosen = rows.where(F.col("_run_id").isin([run["_run_id"] for run in runs]))
    return chosen.join(F.broadcast(ids) if count <= _BROADCAST_IDS else ids, "doc_id", "left_semi"), count


def pinned(lake: Lake, ref: TableRef) -> DataFrame:
    """The table at its current version: a DataFrame read again later (a cache evicted, a second action) sees
    the same rows, not the stage's own writes since."""
    return lake.read(ref, lake.version(ref))
