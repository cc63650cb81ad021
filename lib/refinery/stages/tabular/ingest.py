"""Ingest for record data: the exactly-once ingest of raw files (`refinery.stages.ingest`), each record typed into
the kind's declared bronze columns (`type_tabular_records`), its identifiers withheld from a reject's record."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame

from refinery.config import SourceConfig
from refinery.stages import ingest
from refinery.stages.base import StageContext, StageResult
from refinery.transforms.tabular.changes import OP, SEQ
from refinery.transforms.tabular.records import type_tabular_records

SNAPSHOT_LINES = 10**9  # a snapshot row's sequence: ingest time in seconds x this + its line (lines stay below it)
SET_BY_INGEST = ("doc_id", "source", OP, SEQ, "_file", "_line", "_ingested_at", "_run_id")  # not read by name


def record_typing(ctx: StageContext, source: SourceConfig) -> Callable[[DataFrame], DataFrame]:
    """Bronze's declared data columns read by name, the change's operation and sequence from the configured
    fields (a snapshot row: an upsert in file order); direct and quasi-identifiers withheld from the `record` a
    reject keeps."""
    cfg = ctx.config.tabular
    columns = [f for f in ctx.schema("bronze").struct.fields if f.name not in SET_BY_INGEST]
    return lambda raw: type_tabular_records(
        raw,
        columns=columns,
        operation=cfg.changes.operation,
        sequence=cfg.changes.sequence,
        max_record_chars=ctx.config.ingest.max_record_chars,
        withheld=(*cfg.identifiers, *(g.column for g in cfg.generalize)),
        snapshot=source.snapshot,
        snapshot_sequence=int(ctx.started_at.timestamp()) * SNAPSHOT_LINES,
    )


def run(ctx: StageContext) -> StageResult:
    """Ingest the new raw files of a tabular pipeline."""
    return ingest.ingest(ctx, record_typing)
