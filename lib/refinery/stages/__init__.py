"""Stages compose transforms and own I/O: each reads one Delta version and writes its output and rejects.

Which stages a pipeline kind runs, and the module of each, is declared in `refinery.pipelines`; only the CLI and
`jobs/` import this package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from refinery import pipelines
from refinery.stages.base import StageContext, StageFailed, StageResult, execute

Stage = Callable[[StageContext], StageResult]


def stage_function(kind: pipelines.Kind, name: str) -> Stage:
    """The `run` of stage `name` of `kind` (or of `maintain`, which every kind has)."""
    module = pipelines.MAINTAIN if name == "maintain" else kind.stage(name).module
    return importlib.import_module(module).run


def run_stages(
    ctx: StageContext, names: list[str] | tuple[str, ...] | None = None, *, strict: bool = False
) -> list[StageResult]:
    """Run the named stages (default: the pipeline kind's whole run) in order under one run id; the first
    failure stops the run (with `strict`, the first stage with a warning), the error carrying the results of the
    stages that finished (`finished`)."""
    kind = ctx.config.pipeline_kind
    names = kind.stage_names if names is None else names
    for name in names:
        kind.check_command(ctx.pipeline, name)
    results: list[StageResult] = []
    for name in names:
        try:
            result = execute(ctx, name, stage_function(kind, name))
        except StageFailed as exc:
            exc.finished = results
            raise
        results.append(result)
        if strict and result.warnings:
            failed = StageFailed(name, f"--strict: {'; '.join(result.warnings)}")
            failed.finished = results
            raise failed
    return results
