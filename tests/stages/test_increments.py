"""Curate and dedup add only the rows they have not handled: curate the same silver and rejects as curating all
of bronze, exactly once across a kill -9 between its two writes; dedup what a rebuild keeps; and each rebuilds
when its settings change or are asked to."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from pyspark.sql import functions as F

from refinery.cli import main
from refinery.config import load_config
from refinery.lake.ledger import final_rows
from refinery.lake.store import Lake
from refinery.stages import dedup, increments
from refinery.stages.base import StageContext
from tests.processes import refinery, table

LATER = ("web-2026-10-02.jsonl", "forum.jsonl.gz")  # the raw files that arrive after the first run


def in_process(lake, *args: str) -> int:
    return main([*args, "--lake", str(lake), "-q"])


def silver_rows(spark, lake) -> set[tuple]:
    silver = table(spark, lake, "silver").drop("_ingested_at", "_run_id")
    columns = [F.to_json(c).alias(c) if c in ("meta", "pii") else c for c in silver.columns]
    return {tuple(row) for row in silver.select(*columns).collect()}


def curate_rejects(spark, lake) -> list[tuple]:
    rejects = table(spark, lake, "rejects").where("stage = 'curate'")
    return sorted(tuple(r) for r in rejects.select("doc_id", "rule", "detail", "record", "_file", "_line").collect())


def last_run(spark, lake, stage: str):
    runs = final_rows(spark.read.format("delta").load(str(lake / "_refinery" / "runs")))
    return runs.where(F.col("stage") == stage).orderBy(F.desc("ended_at")).first()


def deduplicated(spark, lake) -> tuple[set, list, set]:
    """silver_dedup's ids, dedup's rejects and the signatures' ids."""
    kept = {r.doc_id for r in table(spark, lake, "silver_dedup").select("doc_id").collect()}
    rejects = table(spark, lake, "rejects").where("stage = 'dedup'").select("doc_id", "rule", "detail")
    signed = {r.doc_id for r in table(spark, lake, "signatures").select("doc_id").collect()}
    return kept, sorted(tuple(r) for r in rejects.collect()), signed


@pytest.fixture(scope="module")
def reference(spark, sample_lakes):
    """Silver and curate's rejects of the sample curated in one go."""
    lake = sample_lakes.restore("curate", at=sample_lakes.root / "increments-reference")
    return silver_rows(spark, lake), curate_rejects(spark, lake)


@pytest.fixture(scope="module")
def grown(spark, sample_lakes, tmp_path_factory):
    """The sample's first files ingested, curated and deduplicated; then the later files ingested."""
    lake = sample_lakes.restore("raw", at=tmp_path_factory.mktemp("grown") / "lake")
    aside = lake.parent / "later"
    aside.mkdir()
    for name in LATER:
        shutil.move(lake / "raw" / "web_text" / name, aside / name)
    assert in_process(lake, "ingest") == 0
    assert in_process(lake, "curate") == 0
    assert last_run(spark, lake, "curate").metrics["mode"] == "rebuild"
    assert in_process(lake, "dedup") == 0
    for name in LATER:
        shutil.move(aside / name, lake / "raw" / "web_text" / name)
    assert in_process(lake, "ingest") == 0
    return lake


def test_a_curate_killed_between_its_writes_then_rerun_adds_each_new_row_once(spark, grown, reference):
    bronze = table(spark, grown, "bronze").count()
    killed = refinery(grown, "curate", kill_at="curate:before_rejects")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert table(spark, grown, "silver").count() == len(reference[0])  # silver has its new rows, rejects not yet
    missing = len(reference[1]) - len(curate_rejects(spark, grown))
    assert missing > 0

    assert in_process(grown, "curate") == 0
    run = last_run(spark, grown, "curate")
    assert run.metrics["mode"] == "add"
    assert (run.rows_in, run.rows_out, run.rows_rejected) == (missing, 0, missing)  # what the kill left unhandled
    assert run.metrics["added_of"] == f"{missing} of {bronze}"
    assert silver_rows(spark, grown) == reference[0]
    assert curate_rejects(spark, grown) == reference[1]


def test_a_rerun_with_nothing_new_reads_ids_only_and_writes_nothing(spark, grown, reference):
    silver_version = spark.sql(f"DESCRIBE HISTORY delta.`{grown / 'silver' / 'web_text'}`").first().version
    assert in_process(grown, "curate") == 0
    run = last_run(spark, grown, "curate")
    assert (run.metrics["mode"], run.rows_in, run.rows_out) == ("add", 0, 0)
    assert spark.sql(f"DESCRIBE HISTORY delta.`{grown / 'silver' / 'web_text'}`").first().version == silver_version


def test_full_refresh_rebuilds_the_same_rows(spark, grown, reference):
    assert in_process(grown, "curate", "--full-refresh") == 0
    run = last_run(spark, grown, "curate")
    assert (run.metrics["mode"], run.metrics["rebuilt_because"]) == ("rebuild", "--full-refresh")
    assert silver_rows(spark, grown) == reference[0]
    assert curate_rejects(spark, grown) == reference[1]


def test_dedup_killed_between_its_writes_then_rerun_keeps_what_a_rebuild_keeps(spark, grown, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(grown, twin)
    assert in_process(twin, "dedup", "--full-refresh") == 0
    killed = refinery(grown, "dedup", kill_at="dedup:before_rejects")
    assert killed.returncode == -9, killed.stderr[-2000:]

    assert in_process(grown, "dedup") == 0
    run = last_run(spark, grown, "dedup")
    assert run.metrics["mode"] == "add"
    assert run.rows_in == run.rows_rejected > 0  # the later files duplicate earlier ones: only those were left
    assert deduplicated(spark, grown) == deduplicated(spark, twin)
    assert in_process(grown, "dedup") == 0
    assert last_run(spark, grown, "dedup").rows_in == 0


def test_a_change_to_what_decides_silver_forces_a_rebuild_and_others_do_not(spark, grown):
    def context(*overrides: str, stage: str = "curate") -> StageContext:
        config = load_config("web_text", "local", list(overrides))
        config = replace(config, lake=replace(config.lake, root=str(grown)))
        ctx = StageContext(spark=spark, config=config, lake=Lake(spark, config.lake))
        ctx.stage = config.pipeline_kind.stage(stage)
        return ctx

    def plan(*overrides: str) -> increments.Plan:
        return increments.plan(context(*overrides))

    assert plan().rebuild_because is None
    assert plan("publish.num_shards=3", "dedup.exact=false").rebuild_because is None  # decide later tables only
    changed = plan("curate.language.min_score=0.9")
    assert changed.rebuild_because == "its settings changed (config or Refinery version)"
    assert changed.settings != plan().settings
    assert plan("privacy.pseudonymize=[url]").rebuild_because is not None
    assert dedup.cannot_add(context("dedup.incremental=false")).startswith("dedup.incremental is off")
    assert dedup.cannot_add(context()) is None
