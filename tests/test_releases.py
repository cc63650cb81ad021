"""Releases: stable splits across releases, group integrity, records, and survival of VACUUM."""

from __future__ import annotations

import shutil

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from refinery.cli import main
from refinery.config import LakeConfig
from refinery.lake.releases import list_releases, read_release
from refinery.lake.store import Lake
from refinery.loader import iter_batches
from refinery.transforms.split import url_host
from tests.conftest import RELEASE_SETTINGS


def cli(lake, *args):
    return main([*args, "--lake", str(lake), *RELEASE_SETTINGS])


@pytest.fixture(scope="module")
def lake(released_lake):
    return released_lake


def releases(spark, lake):
    return {r.name: r for r in list_releases(Lake(spark, LakeConfig(root=str(lake))), "web_text")}


def release_rows(spark, lake, name):
    return read_release(Lake(spark, LakeConfig(root=str(lake))), "web_text", name)


def test_a_docs_split_never_changes_between_releases(spark, lake):
    r1, r2 = release_rows(spark, lake, "r1"), release_rows(spark, lake, "r2")
    assert r1.count() == 1_500 and r2.count() == 2_500
    common = r1.select("doc_id", "split").join(r2.select("doc_id", F.col("split").alias("split2")), "doc_id")
    assert common.count() == 1_500
    assert common.where("split != split2").count() == 0


def test_no_url_host_straddles_splits(spark, lake):
    r2 = release_rows(spark, lake, "r2")
    per_host = r2.groupBy(url_host(F.col("url")).alias("host")).agg(F.countDistinct("split").alias("splits"))
    assert per_host.count() == 40
    assert per_host.where("splits > 1").count() == 0
    assert r2.select("split").distinct().count() == 3


def test_releases_record_versions_counts_and_settings(spark, lake, capsys):
    found = releases(spark, lake)
    assert list(found) == ["r1", "r2"]
    r1, r2 = found["r1"], found["r2"]
    assert (r1.gold_version, r2.gold_version) == (1, 2)
    # silver_dedup was written by the test, not by a ledgered dedup run: the chain stops there.
    assert (r1.input_versions, r2.input_versions) == ({"silver_dedup": 0}, {"silver_dedup": 1})
    assert r1.publish_run_id != r2.publish_run_id
    assert r2.counts["docs"] == 2_500
    tokens = release_rows(spark, lake, "r2").groupBy("split").agg(F.sum("n_tokens").alias("n")).collect()
    assert {f"tokens.{r.split}": r.n for r in tokens}.items() <= r2.counts.items()
    assert r2.settings["group_key"] == "url_host" and r2.settings["tokenizer"] == "cl100k_base"
    assert r2.code_version.startswith("0.1.0")
    capsys.readouterr()
    assert cli(lake, "release", "show", "r2") == 0
    shown = capsys.readouterr().out
    assert "gold_version: 2" in shown and "docs: 2,500" in shown


def test_creating_a_release_again_is_a_no_op_and_a_taken_name_is_refused(spark, lake, capsys):
    assert cli(lake, "release", "create", "r2") == 0
    assert "already exists" in capsys.readouterr().out
    assert cli(lake, "release", "create", "r1") == 2  # r1 froze gold version 1; gold is at 2
    assert "release 'r1' already exists for gold version 1" in capsys.readouterr().err
    assert cli(lake, "release", "create", "Bad Name") == 2
    assert cli(lake, "release", "show", "nope") == 2
    assert len(releases(spark, lake)) == 2


def test_a_release_stays_readable_after_vacuum_with_zero_retention(spark, released_lake, tmp_path):
    lake = tmp_path / "lake"  # a copy: the session's released lake stays as the other tests read it
    shutil.copytree(released_lake, lake)
    before = release_rows(spark, lake, "r1").localCheckpoint()
    gold = str(lake / "gold" / "web_text")
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        DeltaTable.forPath(spark, gold).vacuum(0)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    with pytest.raises(Exception, match="(?i)not (be )?found|does not exist|FileNotFound"):
        old_gold = spark.read.format("delta").option("versionAsOf", 1).load(gold)
        old_gold.select(F.sum(F.length("text"))).collect()  # r1's files in gold are gone (count() reads only stats)
    assert_df_equality(release_rows(spark, lake, "r1"), before, ignore_row_order=True)
    assert cli(lake, "release", "create", "r2") == 0  # VACUUM's own commits are not a new gold version
    assert len(releases(spark, lake)) == 2
    loaded = sum(
        b.num_rows
        for split in ("train", "validation", "test")
        for b in iter_batches(str(lake), "web_text", "r1", split)
    )
    assert loaded == 1_500
