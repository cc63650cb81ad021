import bz2
import gzip

import pytest
from chispa import assert_df_equality

from refinery.io.lines import RawPathError, read_lines


def test_lines_carry_file_and_line_number(spark, tmp_path):
    (tmp_path / "a.jsonl").write_text("first\nsecond\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl").write_bytes(b"crlf one\r\n\r\ncrlf three")  # no final newline
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b"zipped\n"))
    (tmp_path / "d.jsonl.bz2").write_bytes(bz2.compress(b"bzipped\n"))
    (tmp_path / "ignored.txt").write_text("not matched by the glob\n")
    expected = spark.createDataFrame(
        [
            ("a.jsonl", 1, "first"),
            ("a.jsonl", 2, "second"),
            ("sub/b.jsonl", 1, "crlf one"),
            ("sub/b.jsonl", 2, ""),
            ("sub/b.jsonl", 3, "crlf three"),
            ("c.jsonl.gz", 1, "zipped"),
            ("d.jsonl.bz2", 1, "bzipped"),
        ],
        "_file string, _line bigint, value string",
    )
    actual = read_lines(spark, str(tmp_path), glob="*.jsonl*")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_missing_path_is_a_clear_error(spark, tmp_path):
    with pytest.raises(RawPathError, match=f"raw path {tmp_path / 'nope'} does not exist"):
        read_lines(spark, str(tmp_path / "nope"), glob="*")
