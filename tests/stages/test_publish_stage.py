"""Publish with a mixture: repeats and drops by weight, rejects and ledger reconcile, shards stay equal."""

from __future__ import annotations

from pyspark.sql import functions as F

from refinery.cli import main
from tests.helpers import silver_docs, write_silver_dedup


def test_mixture_weights_repeat_and_drop_train_docs_and_reconcile(spark, tmp_path):
    docs = silver_docs(spark, 0, 800)  # forum: every 4th doc
    write_silver_dedup(spark, tmp_path, docs)
    weights = ["--set", "publish.mixture.weights={forum: 0.0, web: 2.0}", "--set", "publish.num_shards=4"]
    assert main(["publish", "--lake", str(tmp_path), "-q", *weights]) == 0
    gold = spark.read.format("delta").load(str(tmp_path / "gold" / "web_text"))
    rejects = spark.read.format("delta").load(str(tmp_path / "rejects" / "web_text")).where("stage = 'publish'")
    train_forum = gold.where("split = 'train' AND source = 'forum'").count()
    assert train_forum == 0  # weight 0: every train forum doc is a reject
    held_out_forum = gold.where("split != 'train' AND source = 'forum'").select("doc_id").distinct().count()
    assert rejects.where("rule = 'mixture_downsampled'").count() == 200 - held_out_forum
    train_web = gold.where("split = 'train' AND source = 'web'")
    assert train_web.count() == 2 * train_web.select("doc_id").distinct().count()  # weight 2: two copies each
    assert sorted({r.copy for r in train_web.select("copy").distinct().collect()}) == [0, 1]
    assert gold.where("split != 'train'").where("copy > 0").count() == 0  # evaluation splits are not sampled
    assert gold.select("doc_id", "copy").distinct().count() == gold.count()
    shards = [r["count"] for r in gold.where("split = 'train'").groupBy("shard").count().collect()]
    assert len(shards) == 4 and max(shards) - min(shards) <= 1
    run = spark.read.format("delta").load(str(tmp_path / "_refinery" / "runs")).where("status != 'running'").first()
    assert run.rows_in == 800 == run.rows_out + run.rows_rejected
    assert int(run.metrics["rows"]) == gold.count()
    assert int(run.metrics["docs"]) == gold.where(F.col("copy") == 0).count() == run.rows_out


def test_a_missing_eval_set_or_group_column_is_one_clear_line(spark, tmp_path, capsys):
    write_silver_dedup(spark, tmp_path, silver_docs(spark, 0, 20))
    missing = "publish.decontamination.eval_sets=[{name: gone, path: nowhere/eval.jsonl}]"
    assert main(["publish", "--lake", str(tmp_path), "-q", "--set", missing]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("refinery: error: eval set 'gone': path ") and err.endswith(
        "nowhere/eval.jsonl does not exist"
    )
    # Found before the JVM starts (refinery.commands.preflight): no stage started, so no attempt is ledgered.
    assert not (tmp_path / "_refinery" / "runs").exists()
    # A group key naming a column silver does not declare is a usage error found at load: exit 2, no stage runs.
    assert main(["publish", "--lake", str(tmp_path), "-q", "--set", "publish.group_key=host"]) == 2
    assert "config key 'publish.group_key': 'host' reads column 'host'" in capsys.readouterr().err
    assert not (tmp_path / "_refinery" / "runs").exists()
    assert main(["publish", "--lake", str(tmp_path), "-q", "--set", "publish.group_key=meta.a.b"]) == 2
    assert "is not doc_id, url_host, meta.<key> or a column" in capsys.readouterr().err
