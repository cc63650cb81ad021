from chispa import assert_df_equality

from refinery.transforms.text import add_text_signals, normalize_text


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


def test_hash_keeps_case_when_asked(spark):
    df = spark.createDataFrame([("1", "Hello World"), ("2", "hello world")], "doc_id string, text string")
    hashes = [r.content_hash for r in add_text_signals(df, lowercase=False).orderBy("doc_id").collect()]
    assert hashes[0] != hashes[1]
