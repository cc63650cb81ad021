"""Curate: bronze -> silver (HTML main text, normalization, language, quality, PII, pseudonyms); drops -> rejects."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from refinery.config import CurateConfig
from refinery.privacy.deletion import drop_forgotten
from refinery.privacy.keys import privacy_key
from refinery.session import Persisted
from refinery.stages.base import StageContext, StageResult
from refinery.stages.skeleton import Flagged, refresh
from refinery.transforms.html import extract_main_text
from refinery.transforms.language import add_language, flag_languages
from refinery.transforms.params import ABOUT_COLUMNS
from refinery.transforms.pii import redact_column, redact_pii
from refinery.transforms.pseudonyms import Pseudonymizer, pseudonymize_fields
from refinery.transforms.quality import QualityFilters, flag_quality
from refinery.transforms.rules import kept_rows, rejected_rows
from refinery.transforms.text import add_text_signals, normalize_text


def curate_frame(
    bronze: DataFrame,
    cfg: CurateConfig,
    *,
    pseudonymizer: Pseudonymizer | None = None,
    pseudonymize: Sequence[str] = (),
) -> DataFrame:
    """The curation transforms, shared by the batch stage and the stream: bronze rows with reject flags.

    Order as in FineWeb: main text of HTML, normalization, language, Gopher repetition and quality, C4
    (which removes lines), FineWeb; then the `pseudonymize` fields replaced by keyed tokens, PII redaction (or
    keyed tokens) in the text and in every other field that reaches silver, and the signals dedup uses.
    """
    frame = bronze
    if cfg.html.enabled:
        frame = frame.transform(extract_main_text, main_content=cfg.html.main_content)
    filters = QualityFilters(cfg.gopher_repetition, cfg.gopher_quality, cfg.c4, cfg.fineweb)
    frame = (
        frame.transform(normalize_text)
        .transform(add_language)
        .transform(flag_languages, keep=cfg.language.keep, min_score=cfg.language.min_score)
        .transform(flag_quality, filters)
    )
    if pseudonymize:
        frame = frame.transform(pseudonymize_fields, fields=pseudonymize, pseudonymizer=pseudonymizer)
    frame = frame.transform(
        redact_pii, actions=dataclasses.asdict(cfg.pii), also=ABOUT_COLUMNS, pseudonymizer=pseudonymizer
    )
    return frame.transform(add_text_signals, lowercase=cfg.lowercase_signals)


def curation(ctx: StageContext) -> Callable[[DataFrame], DataFrame]:
    """`curate_frame` with the run's settings and, when the run makes pseudonyms, the privacy key; rows that
    match a deletion request made since they were ingested are flagged `forgotten` first."""
    privacy = ctx.config.privacy
    pseudonymizer = None
    if ctx.config.needs_privacy_key:
        pseudonymizer = Pseudonymizer(privacy_key(privacy, ctx.spark), privacy.token_chars)
    return lambda bronze: curate_frame(
        drop_forgotten(bronze, ctx.lake, ctx.pipeline, privacy),
        ctx.config.curate,
        pseudonymizer=pseudonymizer,
        pseudonymize=privacy.pseudonymize,
    )


def pii_totals(curated: DataFrame) -> dict[str, str]:
    """PII matches by kind over the kept rows, as ledger metrics (one small row per kind)."""
    rows = kept_rows(curated).select(F.explode("pii").alias("kind", "n")).groupBy("kind").agg(F.sum("n").alias("n"))
    return {f"pii.{row['kind']}": str(row["n"]) for row in rows.collect()}


def flag(ctx: StageContext, bronze: DataFrame, cache: Persisted) -> Flagged:
    """Curate bronze in short tasks when it is large (cached), then write silver in as many files as bronze is
    read in."""
    spread = ctx.in_short_tasks(bronze, ctx.input_bytes(ctx.table(ctx.declared.reads)))
    curated = cache.keep(curation(ctx)(spread))
    rows_in = bronze.count()
    if spread is not bronze:
        curated.count()
        curated = curated.coalesce(bronze.rdd.getNumPartitions())
    rejected = rejected_rows(curated).withColumn("record", _audit_text(ctx.config.ingest.reject_record_chars))
    return Flagged(kept_rows(curated), rejected, rows_in, metrics=pii_totals(curated))


def _audit_text(chars: int) -> Column:
    """What a curate reject keeps of its document, so its filter's decision can be audited: the text the filters
    judged (main text, normalized), its first `chars` characters, PII redacted (rows removed for PII too)."""
    return redact_column(F.substring(F.col("text"), 1, chars))


def run(ctx: StageContext) -> StageResult:
    """Curate the bronze rows not curated yet into silver; all of bronze when the settings changed, or with
    --full-refresh (`refinery.stages.increments`)."""
    return refresh(ctx, flag)
