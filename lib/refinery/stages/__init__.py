"""Stages compose transforms and own I/O: each reads one Delta version and writes its output and rejects."""

from __future__ import annotations

from collections.abc import Callable

from refinery.stages import curate, dedup, ingest, maintain, publish
from refinery.stages.base import StageContext, StageResult, execute

STAGES: dict[str, Callable[[StageContext], StageResult]] = {
    "ingest": ingest.run,
    "curate": curate.run,
    "dedup": dedup.run,
    "publish": publish.run,
    "maintain": maintain.run,
}
PIPELINE = ("ingest", "curate", "dedup", "publish")  # what `refinery run` runs


def run_stages(ctx: StageContext, names: list[str] | tuple[str, ...] = PIPELINE) -> list[StageResult]:
    """Run the named stages in order under one run id; the first failure stops the run."""
    return [execute(ctx, name, STAGES[name]) for name in names]
