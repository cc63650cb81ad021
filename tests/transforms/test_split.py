from chispa import assert_df_equality
from pyspark.sql import functions as F

from refinery.rejects import MIXTURE_DOWNSAMPLED
from refinery.transforms.rules import kept_rows, rejected_rows
from refinery.transforms.split import (
    add_partition_position,
    add_shuffle_key,
    assign_balanced_shard,
    assign_split,
    assign_stratified_split,
    expand_copies,
    flag_mixture,
    shard_offsets,
    url_host,
)

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def docs(spark, n):
    return spark.range(n).select(
        F.concat(F.lit("doc-"), F.col("id").cast("string")).alias("doc_id"),
        F.concat(F.lit("https://www."), (F.col("id") % 500).cast("string"), F.lit(".example.com/p")).alias("url"),
    )


def test_split_ratios_hold_on_a_large_sample(spark):
    counts = dict(
        assign_split(docs(spark, 40_000), ratios=RATIOS, group_key="doc_id", salt="s")
        .groupBy("split")
        .count()
        .collect()
    )
    for name, ratio in RATIOS.items():
        assert abs(counts[name] / 40_000 - ratio) < 0.01, (name, counts)


def test_split_is_deterministic_and_independent_of_other_rows(spark):
    everything = assign_split(docs(spark, 2_000), ratios=RATIOS, group_key="doc_id", salt="s")
    subset = assign_split(docs(spark, 2_000).where("doc_id < 'doc-5'"), ratios=RATIOS, group_key="doc_id", salt="s")
    assert_df_equality(everything.where("doc_id < 'doc-5'"), subset, ignore_row_order=True)


def test_a_salt_change_reshuffles(spark):
    a = assign_split(docs(spark, 1_000), ratios=RATIOS, group_key="doc_id", salt="a")
    b = assign_split(docs(spark, 1_000), ratios=RATIOS, group_key="doc_id", salt="b")
    assert a.join(b, "doc_id").where(a.split != b.split).count() > 100


def test_url_host_groups_never_straddle_splits(spark):
    split = assign_split(docs(spark, 5_000), ratios=RATIOS, group_key="url_host", salt="s")
    straddling = split.groupBy(url_host(F.col("url")).alias("host")).agg(F.countDistinct("split").alias("n"))
    assert straddling.where("n > 1").count() == 0
    assert straddling.count() == 500


def test_url_host(spark):
    df = spark.createDataFrame(
        [("https://WWW.Example.com:8080/a?b",), ("http://user@news.example.org/",), ("not a url",), (None,)],
        "url string",
    )
    assert [r.host for r in df.select(url_host(F.col("url")).alias("host")).collect()] == [
        "example.com",
        "news.example.org",
        None,
        None,
    ]


def test_meta_key_groups_never_straddle_splits_and_docs_without_one_group_alone(spark):
    rows = [(f"doc-{i}", {"thread": str(i % 47)} if i % 10 else {}) for i in range(3_000)]
    df = spark.createDataFrame(rows, "doc_id string, meta map<string,string>")
    split = assign_split(df, ratios=RATIOS, group_key="meta.thread", salt="s")
    threads = (
        split.where(F.col("meta.thread").isNotNull()).groupBy("meta.thread").agg(F.countDistinct("split").alias("n"))
    )
    assert threads.where("n > 1").count() == 0
    assert threads.count() == 47
    loners = split.where(F.col("meta.thread").isNull())  # 300 docs, each its own group: they spread over splits
    assert loners.select("split").distinct().count() == 3


def test_a_doc_keeps_its_split_when_new_docs_arrive(spark):
    first = assign_split(docs(spark, 1_000), ratios=RATIOS, group_key="url_host", salt="s")
    second = assign_split(docs(spark, 3_000), ratios=RATIOS, group_key="url_host", salt="s")
    assert_df_equality(
        second.join(first.select("doc_id"), "doc_id"), first, ignore_row_order=True, ignore_column_order=True
    )


def mixture_docs(spark, n):
    return docs(spark, n).select(
        "doc_id",
        F.when(F.col("doc_id").endswith("0"), "forum")
        .when(F.col("doc_id").endswith("1"), "books")
        .otherwise("web")
        .alias("source"),
        F.lit("train").alias("split"),
    )


def test_mixture_weights_hold_within_one_percent(spark):
    n = 60_000
    flagged = mixture_docs(spark, n).transform(
        flag_mixture, by="source", weights={"forum": 0.3, "books": 2.5}, default_weight=1.0, splits=["train"], salt="s"
    )
    rows = dict(kept_rows(flagged).transform(expand_copies).groupBy("source").count().collect())
    docs_in = {"forum": n // 10, "books": n // 10, "web": n * 8 // 10}
    assert abs(rows["forum"] / docs_in["forum"] - 0.3) < 0.01
    assert abs(rows["books"] / docs_in["books"] - 2.5) < 0.01 * 2.5
    assert rows["web"] == docs_in["web"]
    dropped = rejected_rows(flagged)
    assert dropped.count() == docs_in["forum"] - rows["forum"]
    assert {r.rule for r in dropped.select("rule").distinct().collect()} == {MIXTURE_DOWNSAMPLED.name}
    assert dropped.first().detail == "source forum has mixture weight 0.3"


def test_mixture_is_deterministic_and_leaves_other_splits_alone(spark):
    df = mixture_docs(spark, 2_000).withColumn(
        "split", F.when(F.col("doc_id").endswith("5"), "test").otherwise("train")
    )

    def sample():
        flagged = df.transform(
            flag_mixture, by="source", weights={"web": 0.5}, default_weight=1.0, splits=["train"], salt="s"
        )
        return kept_rows(flagged).transform(expand_copies)

    assert_df_equality(sample(), sample(), ignore_row_order=True)
    assert sample().where("split = 'test'").count() == df.where("split = 'test'").count()


def test_copies_get_their_own_shuffle_keys(spark):
    df = spark.createDataFrame([("a", 3), ("b", 1)], "doc_id string, copies int")
    rows = df.transform(expand_copies).transform(add_shuffle_key, salt="s")
    assert sorted((r.doc_id, r.copy) for r in rows.collect()) == [("a", 0), ("a", 1), ("a", 2), ("b", 0)]
    assert rows.select("shuffle_key").distinct().count() == 4


def test_balanced_shards_differ_by_at_most_one_row_per_split(spark):
    df = (
        docs(spark, 10_003)
        .withColumn("split", F.when(F.col("doc_id").endswith("7"), "test").otherwise("train"))
        .repartition(5, "doc_id")
        .sortWithinPartitions("split", "doc_id")
        .transform(add_partition_position)
        .cache()
    )
    blocks = [(r.partition_id, r.split, r["count"]) for r in df.groupBy("partition_id", "split").count().collect()]
    offsets = spark.createDataFrame(shard_offsets(blocks), "partition_id int, split string, rank_offset long")
    sharded = df.transform(assign_balanced_shard, offsets, num_shards=8)
    sizes = sharded.groupBy("split", "shard").count().collect()
    for split in ("train", "test"):
        counts = [r["count"] for r in sizes if r.split == split]
        assert len(counts) == 8 and max(counts) - min(counts) <= 1, (split, counts)
    assert sharded.count() == 10_003
    df.unpersist()


def test_shard_offsets_rank_rows_within_each_split():
    # partition 0: 3 test rows then 2 train rows; partition 1: 4 train rows.
    offsets = shard_offsets([(1, "train", 4), (0, "train", 2), (0, "test", 3)])
    assert sorted(offsets) == [(0, "test", 0), (0, "train", -3), (1, "train", 2)]


RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def stratified_counts(df):
    return {(r.churned, r.split): r["count"] for r in df.groupBy("churned", "split").count().collect()}


def assert_within(counts, strata_sizes, slack):
    for label, size in strata_sizes.items():
        for split, ratio in RATIOS.items():
            assert abs(counts.get((label, split), 0) - size * ratio) <= slack, (label, split, counts)


def test_a_stratified_split_is_within_a_row_per_stratum_and_keeps_old_rows_where_they_were(spark):
    rows = [(f"c{i}", int(i % 10 < 3)) for i in range(997)]  # 300 positive, 697 negative
    df = spark.createDataFrame(rows, "customer_id string, churned int")
    first = assign_stratified_split(df, ratios=RATIOS, stratum="churned", group="customer_id", salt="s")
    assert_within(stratified_counts(first), {1: 300, 0: 697}, slack=1)
    again = assign_stratified_split(df, ratios=RATIOS, stratum="churned", group="customer_id", salt="s")
    assert first.exceptAll(again).count() == 0  # deterministic

    more = spark.createDataFrame(rows + [(f"n{i}", int(i % 2)) for i in range(203)], "customer_id string, churned int")
    grown = assign_stratified_split(
        more, ratios=RATIOS, stratum="churned", group="customer_id", salt="s", previous=first
    )
    assert first.join(grown, ["customer_id", "churned", "split"]).count() == 997  # old rows did not move
    assert_within(stratified_counts(grown), {1: 401, 0: 799}, slack=1)


def test_a_grouped_stratified_split_never_cuts_a_group(spark):
    rows = [(f"e{i // 3}", i, int((i // 3) % 4 == 0)) for i in range(900)]  # 300 entities of 3 rows
    df = spark.createDataFrame(rows, "entity string, row int, churned int")
    split = assign_stratified_split(df, ratios=RATIOS, stratum="churned", group="entity", salt="s")
    assert split.groupBy("entity").agg(F.count_distinct("split").alias("n")).where("n > 1").count() == 0
    assert_within(stratified_counts(split), {1: 225, 0: 675}, slack=3)
