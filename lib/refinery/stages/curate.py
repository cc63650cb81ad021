"""Curate: bronze -> silver (HTML main text, normalization, language, quality, PII redaction); drops -> rejects."""

from __future__ import annotations

import dataclasses

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery.config import CurateConfig
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult, write_rejects
from refinery.transforms.html import extract_main_text
from refinery.transforms.language import add_language, flag_languages
from refinery.transforms.pii import redact_pii
from refinery.transforms.quality import QualityFilters, flag_quality
from refinery.transforms.rules import kept_rows, rejected_rows
from refinery.transforms.text import add_text_signals, normalize_text

STAGE = "curate"


def curate_frame(bronze: DataFrame, cfg: CurateConfig) -> DataFrame:
    """The curation transforms, shared by the batch stage and the stream: bronze rows with reject flags.

    Order as in FineWeb: main text of HTML, normalization, language, Gopher repetition and quality, C4
    (which removes lines), FineWeb, then PII redaction of what is kept, then the signals dedup uses.
    """
    frame = bronze
    if cfg.html.enabled:
        frame = frame.transform(extract_main_text, main_content=cfg.html.main_content)
    filters = QualityFilters(cfg.gopher_repetition, cfg.gopher_quality, cfg.c4, cfg.fineweb)
    return (
        frame.transform(normalize_text)
        .transform(add_language)
        .transform(flag_languages, keep=cfg.language.keep, min_score=cfg.language.min_score)
        .transform(flag_quality, filters)
        .transform(redact_pii, actions=dataclasses.asdict(cfg.pii))
        .transform(add_text_signals, lowercase=cfg.lowercase_signals)
    )


def pii_totals(curated: DataFrame) -> dict[str, str]:
    """PII matches by kind over the kept rows, as ledger metrics (one small row per kind)."""
    rows = kept_rows(curated).select(F.explode("pii").alias("kind", "n")).groupBy("kind").agg(F.sum("n").alias("n"))
    return {f"pii.{row['kind']}": str(row["n"]) for row in rows.collect()}


def run(ctx: StageContext) -> StageResult:
    """Curate the latest bronze version into silver (full refresh)."""
    bronze_ref, bronze_version, bronze = ctx.read_input("bronze")
    with Persisted() as cache:
        curated = cache.keep(curate_frame(bronze, ctx.config.curate))
        rows_in = bronze.count()
        silver = ctx.lake.overwrite(ctx.table("silver"), kept_rows(curated), ctx.schema("silver"))
        rejects, by_rule = write_rejects(ctx, STAGE, rejected_rows(curated))
        metrics = pii_totals(curated)
    return StageResult.of_writes(
        STAGE,
        read=(bronze_ref, bronze_version),
        output=ctx.table("silver"),
        written=silver,
        rejects=rejects,
        rejected_by_rule=by_rule,
        rows_in=rows_in,
        metrics=metrics,
    )
