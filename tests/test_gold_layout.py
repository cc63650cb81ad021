"""Gold's write tasks: every planned file whole in one task, small files sharing tasks."""

from __future__ import annotations

import random

from pyspark.sql import functions as F

from refinery.lake.gold import pack_files, pack_files_into_partitions


def test_large_files_get_a_task_each_and_small_ones_share_up_to_the_largest():
    # train/en in three 120 MB files, then languages of a few MB each.
    sizes = [120, 120, 120, 40, 30, 9, 5, 2, 1, 1]
    task_of = pack_files(sizes, ["train/en"] * 3 + [f"lang{i}" for i in range(7)])
    loads = {}
    for task, size in zip(task_of, sizes, strict=True):
        loads[task] = loads.get(task, 0) + size
    assert len({task_of[0], task_of[1], task_of[2]}) == 3  # each large file alone
    assert len(loads) == 4 and max(loads.values()) == 120
    assert sorted(loads.values()) == [88, 120, 120, 120]  # the seven small files fill one task


def test_two_files_of_one_table_partition_never_share_a_task():
    # train/de in two 50 MB files: they would fit in one task of 120, but the writer would merge them.
    task_of = pack_files([120, 50, 50], ["train/en", "train/de", "train/de"])
    assert len(set(task_of)) == 3


def test_packing_never_exceeds_the_largest_file_and_is_deterministic():
    rng = random.Random(7)
    for _ in range(200):
        sizes = [rng.choice([rng.uniform(0, 3), rng.uniform(50, 128)]) for _ in range(rng.randint(1, 40))]
        groups = [rng.randrange(8) for _ in sizes]
        task_of = pack_files(sizes, groups)
        loads = [0.0] * (max(task_of) + 1)
        for task, size in zip(task_of, sizes, strict=True):
            loads[task] += size
        assert max(loads) <= max(sizes) + 1e-9 and min(loads) > 0
        assert sorted(set(task_of)) == list(range(len(loads)))  # task numbers are dense
        for task in set(task_of):
            held = [groups[i] for i, t in enumerate(task_of) if t == task]
            assert len(held) == len(set(held))  # one file per group in a task
        assert pack_files(sizes, groups) == task_of
        distinct = pack_files(sizes, range(len(sizes)))  # no two files in a group: first fit's own bound
        loads = [sum(size for size, t in zip(sizes, distinct, strict=True) if t == task) for task in set(distinct)]
        assert sum(1 for load in loads if load <= max(sizes) / 2) <= 1  # at most one task less than half full
    assert pack_files([], []) == []
    assert pack_files([0, 0], ["a", "b"]) == [0, 0]


def test_each_file_lands_whole_in_the_partition_of_its_task(spark):
    sizes = [100, 100, 10, 10, 10, 1]
    rows = spark.range(6_000).withColumn("file", (F.col("id") % len(sizes)).cast("int"))
    groups = ["a", "b", "c", "d", "e", "f"]
    placed = rows.transform(pack_files_into_partitions, file_index="file", file_bytes=sizes, file_groups=groups)
    assert placed.rdd.getNumPartitions() == 3
    homes = placed.select("file", F.spark_partition_id().alias("partition")).distinct().collect()
    task_of = pack_files(sizes, groups)
    assert sorted((r.file, r.partition) for r in homes) == [(f, task_of[f]) for f in range(len(sizes))]
    assert placed.count() == 6_000 and placed.columns == ["id", "file"]


def test_a_partitioned_write_makes_exactly_the_planned_files(spark, tmp_path):
    # x's two files would fit in one task beside w's, but one task writes one file per group: they go apart.
    groups = ["w", "x", "x", "y"]
    rows = spark.range(4_000).withColumn("file", (F.col("id") % 4).cast("int"))
    rows = rows.withColumn("group", F.element_at(F.array(*[F.lit(g) for g in groups]), F.col("file") + 1))
    placed = rows.transform(pack_files_into_partitions, file_index="file", file_bytes=[20, 5, 5, 1], file_groups=groups)
    placed.sortWithinPartitions("group").write.partitionBy("group").parquet(str(tmp_path / "out"))
    written = sorted(path.parent.name for path in (tmp_path / "out").rglob("*.parquet"))
    assert placed.rdd.getNumPartitions() == 3
    assert written == ["group=w", "group=x", "group=x", "group=y"]
