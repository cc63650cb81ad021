"""The run ledger: one Delta row per stage execution (`lake/_refinery/runs`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from refinery.lake import Lake, TableRef
from refinery.schemas import load_schema


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the ledger; field names and order follow schemas/runs.yaml."""

    run_id: str
    pipeline: str
    stage: str
    status: str
    started_at: datetime
    ended_at: datetime
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
        self.schema = load_schema("runs")

    def record(self, entry: LedgerEntry) -> None:
        row = asdict(entry)
        df = self.lake.spark.createDataFrame(
            [tuple(row[name] for name in self.schema.column_names)], self.schema.struct
        )
        self.lake.append(self.ref, df, self.schema)

    def read(self) -> DataFrame:
        return self.lake.read(self.ref)


def run_that_wrote(lake: Lake, stage: str, output: TableRef, version: int | None) -> Row | None:
    """The latest ok ledger row of `stage` that wrote `version` of `output` (None when the ledger has none)."""
    runs = lake.table("runs")
    if version is None or not lake.exists(runs):
        return None
    return (
        lake.read(runs)
        .where((F.col("stage") == stage) & (F.col("status") == "ok"))
        .where((F.col("output_table") == str(output)) & (F.col("output_version") == version))
        .orderBy(F.col("ended_at").desc())
        .first()
    )
