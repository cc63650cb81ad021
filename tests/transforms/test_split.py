from chispa import assert_df_equality
from pyspark.sql import functions as F

from refinery.transforms.split import add_token_count, assign_shard, assign_split, url_host

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


def test_shards_are_in_range_and_balanced(spark):
    shards = assign_shard(docs(spark, 8_000), num_shards=8, salt="s").groupBy("shard").count().collect()
    assert sorted(r["shard"] for r in shards) == list(range(8))
    assert all(abs(r["count"] - 1_000) < 150 for r in shards)


def test_token_count(spark):
    df = spark.createDataFrame([("Hello, world! It's 2026.",), ("",)], "text string")
    assert [r.n_tokens for r in add_token_count(df).collect()] == [9, 0]  # Hello , world ! It ' s 2026 .
