"""spark.shuffle_partition_mb: each stage sizes its shuffles from its input (the cluster env sets it)."""

from refinery.config import load_config
from refinery.lake import Lake
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
    ref = ctx.table("bronze")
    ctx.lake.ensure_table(ref, ctx.schema("bronze"))
    with settings(spark, {"spark.sql.shuffle.partitions": "999"}):
        ctx.read_input("bronze")
        assert spark.conf.get("spark.sql.shuffle.partitions") == str(spark.sparkContext.defaultParallelism)
