"""The loop of every stage that rebuilds its output from one version of its input, owned here once (as DataTrove's
base step owns read, filter, statistics and the exclusion writer): read the stage's declared input at its latest
version, let the stage flag the rows, write the declared output and the rejects, and build the result, which
`execute` reconciles and ledgers. A stage module holds only what is its own: its `flag` function. A stage that
can add to its output (`refresh`: curate, dedup) flags only the input rows it has not handled and appends them, unless
its settings changed (`refinery.stages.increments`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame

from refinery.faults import kill_point
from refinery.lake.schemas import TableSchema
from refinery.lake.store import TableRef, WriteResult
from refinery.session import Persisted
from refinery.stages import increments
from refinery.stages.base import StageContext, StageResult, write_rejects

log = logging.getLogger(__name__)

Write = Callable[[TableRef, DataFrame, TableSchema], WriteResult]


@dataclass
class Flagged:
    """What a stage made of its input: the rows for its output table and the rows it rejected, with their counts.

    `write` writes the output (default: replace the table's rows); `before_output` runs before the output is
    written and `after` once output and rejects are, each returning more metrics (dedup records signatures
    before its output). `rows_out` is for a stage whose output rows are not what its write counts (publish
    counts documents, not mixture repeats; a MERGE counts changes).
    """

    output: DataFrame
    rejected: DataFrame
    rows_in: int
    by_rule: dict[str, int] | None = None  # rejects per rule when the stage counted them (else they are counted)
    metrics: dict[str, str] = field(default_factory=dict)
    rows_out: int | None = None
    write: Write | None = None
    after: Callable[[WriteResult], dict[str, str]] | None = None
    before_output: Callable[[], dict[str, str]] | None = None


Flag = Callable[[StageContext, DataFrame, Persisted], Flagged]


def rebuild(ctx: StageContext, flag: Flag, *, settings: str | None = None) -> StageResult:
    """Run the declared stage: its input's latest version through `flag` into its output table and the rejects
    (the stage's earlier rejects replaced). What `flag` persists in the cache lives until both are written.
    `settings` (`refinery.stages.increments`) are stored with the output's commit."""
    stage = ctx.declared
    input_ref, input_version, rows = ctx.read_input()
    output = ctx.table(stage.writes)
    with Persisted() as cache:
        flagged = flag(ctx, rows, cache)
        early = flagged.before_output() if flagged.before_output else {}
        schema = ctx.schema(stage.writes)
        if flagged.write:
            written = flagged.write(output, flagged.output, schema)
        else:
            written = ctx.lake.overwrite(output, flagged.output, schema, metadata=increments.stored(settings))
        result = _with_rejects(ctx, (input_ref, input_version), flagged, written, append=False)
    result.metrics.update(early)
    return result


def refresh(ctx: StageContext, flag: Flag, *, add: Flag | None = None, cannot_add: str | None = None) -> StageResult:
    """Add the input rows the declared stage has not handled to its output and rejects (flagged by `add`, default
    `flag`) when its settings are unchanged (`refinery.stages.increments`); rebuild them otherwise, with
    --full-refresh, or when the stage says why it `cannot_add`."""
    plan = increments.plan(ctx, cannot_add)
    if plan.rebuild_because is None:
        return extend(ctx, add or flag, settings=plan.settings)
    log.info("%s: rebuilding %s: %s", ctx.declared.name, ctx.declared.writes, plan.rebuild_because)
    result = rebuild(ctx, flag, settings=plan.settings)
    result.metrics.update({"mode": "rebuild", "rebuilt_because": plan.rebuild_because})
    return result


def extend(ctx: StageContext, flag: Flag, *, settings: str) -> StageResult:
    """Run the declared stage over the rows of its input's latest version it has not handled yet, appending
    to its output and its rejects (with no such rows, nothing is read beyond ids, nothing written)."""
    stage = ctx.declared
    input_ref, input_version, rows = ctx.read_input()
    output = ctx.table(stage.writes)
    with Persisted() as cache:
        new, count = increments.unhandled(ctx, rows, cache)
        total = rows.count()  # reads no column
        mode = {"mode": "add", "added_of": f"{count} of {total}"}
        log.info("%s: %d of %d %s rows are new", stage.name, count, total, stage.reads)
        if not count:
            version = ctx.lake.version(output)
            return StageResult.of_counts(
                stage.name, read=(input_ref, input_version), output=output, output_version=version, metrics=mode
            )
        ctx.reading_part(input_ref, count / total)
        flagged = flag(ctx, new, cache)
        if flagged.write:
            raise RuntimeError(f"{stage.name} writes its output its own way: it cannot add to it")
        mode.update(flagged.before_output() if flagged.before_output else {})
        schema = ctx.schema(stage.writes)
        written = ctx.lake.append(output, flagged.output, schema, metadata=increments.stored(settings))
        kill_point(f"{stage.name}:before_rejects")
        result = _with_rejects(ctx, (input_ref, input_version), flagged, written, append=True)
    result.metrics.update(mode)
    return result


def _with_rejects(
    ctx: StageContext, read: tuple[TableRef, int], flagged: Flagged, written: WriteResult, *, append: bool
) -> StageResult:
    """Write the rejects of a stage whose output is `written` (replacing its earlier ones, or `append`), run its
    `after`, and return its result."""
    stage = ctx.declared
    rejects, by_rule = write_rejects(ctx, stage.name, flagged.rejected, counts=flagged.by_rule, append=append)
    metrics = {**flagged.metrics, **(flagged.after(rejects) if flagged.after else {})}
    return StageResult.of_writes(
        stage.name,
        read=read,
        output=ctx.table(stage.writes),
        written=written,
        rejects=rejects,
        rejected_by_rule=by_rule,
        rows_in=flagged.rows_in,
        metrics=metrics,
        rows_out=flagged.rows_out,
    )
