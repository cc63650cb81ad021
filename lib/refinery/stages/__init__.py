"""Stages compose transforms and own I/O: each reads one Delta version and writes its output and rejects."""

from __future__ import annotations

from collections.abc import Callable

from refinery.preflight import KIND_STAGES, check_stage_applies
from refinery.stages import curate, dedup, ingest, maintain, publish, tabular_curate, tabular_publish
from refinery.stages.base import StageContext, StageResult, execute

Stage = Callable[[StageContext], StageResult]
STAGES: dict[str, dict[str, Stage]] = {  # per pipeline kind
    "text": {
        "ingest": ingest.run,
        "curate": curate.run,
        "dedup": dedup.run,
        "publish": publish.run,
        "maintain": maintain.run,
    },
    "tabular": {
        "ingest": ingest.run,
        "curate": tabular_curate.run,
        "publish": tabular_publish.run,
        "maintain": maintain.run,
    },
}
PIPELINE = KIND_STAGES["text"]  # what `refinery run` runs for text


def run_stages(ctx: StageContext, names: list[str] | tuple[str, ...] | None = None) -> list[StageResult]:
    """Run the named stages (default: the pipeline kind's whole run) in order under one run id; the first
    failure stops the run."""
    kind = ctx.config.kind
    names = KIND_STAGES[kind] if names is None else names
    for name in names:
        check_stage_applies(ctx.config, name)
    return [execute(ctx, name, STAGES[kind][name]) for name in names]
