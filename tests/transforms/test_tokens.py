from chispa import assert_df_equality

from refinery.transforms.tokens import add_token_count


def test_token_counts_are_cl100k_bpe_tokens(spark):
    df = spark.createDataFrame([("Hello world",), ("",), (None,), ("hi <|endoftext|> there",)], "text string")
    expected = spark.createDataFrame(
        # "Hello world" is [9906, 1917] in cl100k_base; a special-token string is counted as plain text.
        [("Hello world", 2), ("", 0), (None, 0), ("hi <|endoftext|> there", 8)],
        "text string, n_tokens int",
    )
    assert_df_equality(add_token_count(df), expected, ignore_row_order=True, ignore_nullable=True)


def test_o200k_counts_differ_and_unknown_encodings_are_refused(spark):
    df = spark.createDataFrame([("The quick brown fox … “quoted” 日本語のテキスト",)], "text string")
    assert add_token_count(df).first().n_tokens == 16
    assert add_token_count(df, encoding_name="o200k_base").first().n_tokens == 14  # the larger vocabulary
    try:
        add_token_count(df, encoding_name="gpt2")
    except ValueError as exc:
        assert "unknown tokenizer encoding 'gpt2'" in str(exc)
    else:
        raise AssertionError("gpt2 is not a shipped encoding")
