"""spark.shuffle_partition_mb: each stage sizes its shuffles from its input (the cluster env sets it)."""

from refinery.config import load_config
from refinery.lake.store import Lake
from refinery.session import settings
from refinery.stages.base import StageContext, shuffle_partitions


def test_one_partition_per_mb_target_and_at_least_one_per_core():
    assert shuffle_partitions(0, 64, cores=2) == 2
    assert shuffle_partitions(64 * 2**20, 64, cores=2) == 2
    assert shuffle_partitions(64 * 2**20 * 10 + 1, 64, cores=2) == 11
    assert shuffle_partitions(10 * 2**40, 128, cores=400) == 81_920


def test_a_stage_reading_its_input_sets_the_shuffle_partitions_from_the_table_size(spark, tmp_path):
    config = load_config("web_text", "cluster", [f"lake.root={tmp_path}"])
    assert config.spark.shuffle_partition_mb == 64
    ctx = StageContext(spark=spark, config=config, lake=Lake(spark, config.lake))
    ctx.stage = config.pipeline_kind.stage("curate")
    ref = ctx.table("bronze")
    ctx.lake.ensure_table(ref, ctx.schema("bronze"))
    with settings(spark, {"spark.sql.shuffle.partitions": "999"}):
        ctx.read_input()
        assert spark.conf.get("spark.sql.shuffle.partitions") == str(spark.sparkContext.defaultParallelism)


def test_curate_deals_a_large_input_into_a_task_per_python_task_mb(spark, tmp_path):
    """spark.python_task_mb (2 in conf/base.yaml): a task per 2 MB of bronze once that beats the read's own
    partitions (4 per core); a smaller input, or the setting off, leaves the frame as read."""
    config = load_config("web_text", "local", [f"lake.root={tmp_path}"])
    assert config.spark.python_task_mb == 2
    ctx = StageContext(spark=spark, config=config, lake=Lake(spark, config.lake))
    docs = spark.range(100)
    assert ctx.in_short_tasks(docs, 1_000 * 2**20).rdd.getNumPartitions() == 500
    assert ctx.in_short_tasks(docs, 8 * 2 * 2**20) is docs  # 8 tasks: no more than 4 per core on 2 cores
    off = load_config("web_text", "local", [f"lake.root={tmp_path}", "spark.python_task_mb=null"])
    assert StageContext(spark=spark, config=off, lake=ctx.lake).in_short_tasks(docs, 1_000 * 2**20) is docs
