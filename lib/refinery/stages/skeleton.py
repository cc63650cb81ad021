"""The loop of every stage that rebuilds its output from one version of its input, owned here once (as DataTrove's
base step owns read, filter, statistics and the exclusion writer): read the stage's declared input at its latest
version, let the stage flag the rows, write the declared output and the rejects, and build the result, which
`execute` reconciles and ledgers. A stage module holds only what is its own: its `flag` function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame

from refinery.lake.schemas import TableSchema
from refinery.lake.store import TableRef, WriteResult
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult, write_rejects

Write = Callable[[TableRef, DataFrame, TableSchema], WriteResult]


@dataclass
class Flagged:
    """What a stage made of its input: the rows for its output table and the rows it rejected, with their counts.

    `write` writes the output (default: replace the table's rows); `after` runs once output and rejects are
    written and returns more metrics (dedup records signatures there). `rows_out` is for a stage whose output
    rows are not what its write counts (publish counts documents, not mixture repeats; a MERGE counts changes).
    """

    output: DataFrame
    rejected: DataFrame
    rows_in: int
    by_rule: dict[str, int] | None = None  # rejects per rule when the stage counted them (else they are counted)
    metrics: dict[str, str] = field(default_factory=dict)
    rows_out: int | None = None
    write: Write | None = None
    after: Callable[[WriteResult], dict[str, str]] | None = None


Flag = Callable[[StageContext, DataFrame, Persisted], Flagged]


def rebuild(ctx: StageContext, flag: Flag) -> StageResult:
    """Run the declared stage: its input's latest version through `flag` into its output table and the rejects
    (the stage's earlier rejects replaced). What `flag` persists in the cache lives until both are written."""
    stage = ctx.declared
    input_ref, input_version, rows = ctx.read_input()
    output = ctx.table(stage.writes)
    with Persisted() as cache:
        flagged = flag(ctx, rows, cache)
        write = flagged.write or ctx.lake.overwrite
        written = write(output, flagged.output, ctx.schema(stage.writes))
        rejects, by_rule = write_rejects(ctx, stage.name, flagged.rejected, counts=flagged.by_rule)
        metrics = {**flagged.metrics, **(flagged.after(rejects) if flagged.after else {})}
    return StageResult.of_writes(
        stage.name,
        read=(input_ref, input_version),
        output=output,
        written=written,
        rejects=rejects,
        rejected_by_rule=by_rule,
        rows_in=flagged.rows_in,
        metrics=metrics,
        rows_out=flagged.rows_out,
    )
