import gzip

import pytest
from chispa import assert_df_equality

from refinery.io.listing import RawPathError, list_files
from refinery.io.raw import read_parquet_rows, read_records

SCHEMA = "_file string, _line bigint, value string, _reject_rule string, _reject_detail string"


def paths(spark, root, glob="*"):
    return [f.path for f in list_files(spark, str(root), glob=glob)]


def test_jsonl_files_with_compression_and_a_corrupt_one(spark, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "one"}\n\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl.gz").write_bytes(gzip.compress(b'{"text": "two"}\r\n'))
    (tmp_path / "sub" / "broken.jsonl.gz").write_bytes(gzip.compress(b'{"text": "three"}\n')[:-8])
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "skip.txt").write_text("not matched")
    files = paths(spark, tmp_path, "*.jsonl*")
    assert len(files) == 4  # the 0-byte file is listed (and logged); it holds no records
    actual = read_records(spark, files, root=str(tmp_path), fmt="jsonl")
    expected = spark.createDataFrame(
        [
            ("a.jsonl", 1, '{"text": "one"}', None, None),
            ("a.jsonl", 2, "", None, None),
            ("sub/b.jsonl.gz", 1, '{"text": "two"}', None, None),
            ("sub/broken.jsonl.gz", 1, '{"text": "three"}', None, None),  # its trailer is cut, not its line
            (
                "sub/broken.jsonl.gz",
                None,
                None,
                "unreadable_file",
                "cannot decompress: EOFError: Compressed file ended before the end-of-stream marker was reached"
                " (after line 1)",
            ),
        ],
        SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_parquet_rows_keep_their_columns_with_row_positions(spark, tmp_path):
    df = spark.createDataFrame([("p1", "text one", 3), ("p2", None, 4)], "id string, text string, n int")
    df.coalesce(1).write.parquet(str(tmp_path / "pq"))
    files = paths(spark, tmp_path / "pq", "*.parquet")
    rows = read_parquet_rows(spark, files, root=str(tmp_path)).orderBy("_line").collect()
    assert [(r._line, r.id, r.text, r.n) for r in rows] == [(1, "p1", "text one", 3), (2, "p2", None, 4)]
    assert all(r._file.startswith("pq/part-") for r in rows)


def test_csv_and_text_sources(spark, tmp_path):
    (tmp_path / "t.csv").write_text('id,text\n1,"a, b"\n2\n')
    (tmp_path / "doc.txt").write_text("A whole document.\nTwo lines.")
    csv = read_records(spark, paths(spark, tmp_path, "*.csv"), root=str(tmp_path), fmt="csv")
    text = read_records(spark, paths(spark, tmp_path, "*.txt"), root=str(tmp_path), fmt="text")
    expected = spark.createDataFrame(
        [
            ("t.csv", 2, '{"id": "1", "text": "a, b"}', None, None),
            ("t.csv", 3, "2", "ragged_row", "1 fields, header has 2"),
            ("doc.txt", 1, '{"text": "A whole document.\\nTwo lines."}', None, None),
        ],
        SCHEMA,
    )
    assert_df_equality(csv.unionByName(text), expected, ignore_row_order=True, ignore_nullable=True)


def test_no_files_and_missing_path(spark, tmp_path):
    assert read_records(spark, [], root=str(tmp_path), fmt="jsonl").count() == 0
    with pytest.raises(RawPathError, match="does not exist"):
        list_files(spark, str(tmp_path / "nope"), glob="*")
