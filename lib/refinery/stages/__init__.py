"""Stages compose transforms and own I/O: each reads one Delta version and writes its output and rejects."""

from __future__ import annotations

from collections.abc import Callable

from refinery.stages.base import StageContext, StageResult, execute
from refinery.stages.curate import curate
from refinery.stages.dedup import dedup
from refinery.stages.ingest import ingest
from refinery.stages.publish import publish

STAGES: dict[str, Callable[[StageContext], StageResult]] = {
    "ingest": ingest,
    "curate": curate,
    "dedup": dedup,
    "publish": publish,
}


def run_stages(ctx: StageContext, names: list[str] | tuple[str, ...] = tuple(STAGES)) -> list[StageResult]:
    """Run the named stages in order under one run id; the first failure stops the run."""
    return [execute(ctx, name, STAGES[name]) for name in names]
