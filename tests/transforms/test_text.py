from chispa import assert_df_equality

from refinery.transforms.text import add_declared_language, add_text_signals, flag_short_docs, normalize_text


def test_normalize_text(spark):
    df = spark.createDataFrame(
        [
            ("1", "Cafe\u0301 \t au   lait\r\nsecond\u00a0line  "),
            ("2", "a\u0000b\u0007c\u200bd"),
            ("3", "\n\n para one\n\n\n\n\npara two \n"),
            ("4", "emoji 👩\u200d💻 stays"),
        ],
        "doc_id string, text string",
    )
    expected = spark.createDataFrame(
        [
            ("1", "Café au lait\nsecond line"),
            ("2", "abcd"),
            ("3", "para one\n\npara two"),
            ("4", "emoji 👩\u200d💻 stays"),
        ],
        "doc_id string, text string",
    )
    assert_df_equality(normalize_text(df), expected, ignore_row_order=True)


def test_signals_words_and_hash_ignore_case_and_spacing(spark):
    df = spark.createDataFrame(
        [("1", "Hello  World\nagain"), ("2", "hello world again"), ("3", ""), ("4", "different text")],
        "doc_id string, text string",
    )
    rows = {r.doc_id: r for r in add_text_signals(df).collect()}
    assert [rows[k].n_words for k in "1234"] == [3, 3, 0, 2]
    assert rows["1"].content_hash == rows["2"].content_hash != rows["4"].content_hash
    assert len(rows["1"].content_hash) == 64


def test_declared_language(spark):
    df = spark.createDataFrame(
        [("1", {"lang": "DE "}), ("2", {}), ("3", {"lang": "not a code"}), ("4", None)],
        "doc_id string, meta map<string,string>",
    )
    actual = add_declared_language(df, meta_key="lang").select("doc_id", "lang", "lang_score")
    expected = spark.createDataFrame(
        [("1", "de", None), ("2", "und", None), ("3", "und", None), ("4", "und", None)],
        "doc_id string, lang string, lang_score double",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_short_docs_are_flagged_with_reason(spark):
    df = spark.createDataFrame([("1", 2), ("2", 5), ("3", 0)], "doc_id string, n_words int")
    actual = flag_short_docs(df, min_words=5)
    expected = spark.createDataFrame(
        [
            ("1", 2, "min_words", "2 words < min_words 5"),
            ("2", 5, None, None),
            ("3", 0, "min_words", "0 words < min_words 5"),
        ],
        "doc_id string, n_words int, _reject_rule string, _reject_detail string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
