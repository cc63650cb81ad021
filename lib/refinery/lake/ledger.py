"""The run ledger (`lake/_refinery/runs`): a `running` row when a stage starts, an `ok` or `failed` row when it ends.

The ledger is append-only, so concurrent writers never conflict. An attempt that was killed has a
`running` row and no final row; `final_rows` gives one row per ended attempt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery.lake.schemas import table_schema
from refinery.lake.store import Lake, TableRef

RUNNING, OK, FAILED = "running", "ok", "failed"


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the ledger; field names and order follow schemas/runs.yaml."""

    run_id: str
    pipeline: str
    stage: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    config_hash: str
    input_table: str | None = None
    input_version: int | None = None
    output_table: str | None = None
    output_version: int | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    rows_rejected: int | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class RunLedger:
    """Appends and reads ledger rows."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.ref = lake.table("runs")
        self.schema = table_schema("runs")

    def record(self, entry: LedgerEntry) -> None:
        row = asdict(entry)
        df = self.lake.spark.createDataFrame(
            [tuple(row[name] for name in self.schema.column_names)], self.schema.struct
        )
        self.lake.append(self.ref, df, self.schema)

    def read(self) -> DataFrame:
        return self.lake.read(self.ref)


def final_rows(runs: DataFrame) -> DataFrame:
    """The rows that end an attempt (`ok` or `failed`), without the `running` rows written at its start."""
    return runs.where(F.col("status") != RUNNING)


def interrupted_attempts(runs: DataFrame) -> DataFrame:
    """`running` rows with no final row for the same run and stage: attempts that were killed or are still on."""
    return runs.where(F.col("status") == RUNNING).join(
        final_rows(runs).select("run_id", "stage"), ["run_id", "stage"], "left_anti"
    )


def run_that_wrote(lake: Lake, stage: str, output: TableRef, version: int | None) -> Row | None:
    """The latest ok ledger row of `stage` that wrote `version` of `output` (None when the ledger has none)."""
    runs = lake.table("runs")
    if version is None or not lake.exists(runs):
        return None
    return (
        lake.read(runs)
        .where((F.col("stage") == stage) & (F.col("status") == OK))
        .where(F.col("output_table").isin(output.key, str(output)))  # str: rows written before keys were stored
        .where(F.col("output_version") == version)
        .orderBy(F.col("ended_at").desc())
        .first()
    )
