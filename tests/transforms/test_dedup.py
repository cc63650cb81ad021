from chispa import assert_df_equality

from refinery.transforms.dedup import flag_exact_duplicates

ROWS = [("d3", "h1"), ("d1", "h1"), ("d2", "h1"), ("d4", "h2"), ("d5", "h3"), ("d6", "h3")]


def test_smallest_doc_id_is_kept_and_others_name_it(spark):
    df = spark.createDataFrame(ROWS, "doc_id string, content_hash string")
    expected = spark.createDataFrame(
        [
            ("d3", "h1", "exact", "duplicate of d1"),
            ("d1", "h1", None, None),
            ("d2", "h1", "exact", "duplicate of d1"),
            ("d4", "h2", None, None),
            ("d5", "h3", None, None),
            ("d6", "h3", "exact", "duplicate of d5"),
        ],
        "doc_id string, content_hash string, _reject_rule string, _reject_detail string",
    )
    assert_df_equality(flag_exact_duplicates(df), expected, ignore_row_order=True, ignore_nullable=True)


def test_representative_does_not_depend_on_partitioning(spark):
    df = spark.createDataFrame(ROWS, "doc_id string, content_hash string")
    one = flag_exact_duplicates(df.coalesce(1))
    many = flag_exact_duplicates(df.repartition(5, "doc_id"))
    assert_df_equality(one, many, ignore_row_order=True)
