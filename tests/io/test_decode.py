import bz2
import gzip
import json
import lzma

import pytest
import zstandard

from refinery.io.decode import (
    MAX_DEPTH,
    CsvOptions,
    RawRecord,
    ReadLimits,
    bounded_lines,
    decompress,
    file_content,
    file_records,
    jsonl_lines,
    nesting_depth,
    trailing_text_at,
)


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("a.jsonl.gz", gzip.compress),
        ("a.jsonl.bz2", bz2.compress),
        ("a.jsonl.xz", lzma.compress),
        ("a.jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("a.jsonl", lambda b: b),
    ],
)
def test_decompress_by_suffix(name, compress):
    assert decompress(name, compress(b'{"text": "x"}\n')) == b'{"text": "x"}\n'


def test_zero_byte_and_truncated_gzip():
    assert list(file_records("empty.jsonl.gz", b"", "jsonl")) == []
    truncated = gzip.compress(b'{"text": "hello"}\n' * 100)[:-20]
    *before, record = file_records("cut.jsonl.gz", truncated, "jsonl")
    assert record.rule == "unreadable_file" and record.detail.startswith("cannot decompress")
    assert all(r.value == '{"text": "hello"}' for r in before)  # the lines read before the cut are kept
    [garbage] = file_records("not-gzip.jsonl.gz", b"plain text", "jsonl")
    assert garbage.rule == "unreadable_file"


def test_split_lines_positions_and_endings():
    def split_lines(data: bytes) -> list[tuple[int, bytes | None]]:
        return [(number, line) for number, line, _ in bounded_lines([data], len(data))]

    assert split_lines(b"a\r\nb\n\nc") == [(1, b"a"), (2, b"b"), (3, b""), (4, b"c")]
    assert split_lines(b"a\n") == [(1, b"a")]
    assert split_lines(b"") == []
    assert split_lines(b"\n") == [(1, b"")]


def test_jsonl_invalid_utf8_is_flagged_per_line():
    records = list(file_records("a.jsonl", b'{"text": "ok"}\n{"text": "bad \xff byte"}\n', "jsonl"))
    assert records[0] == RawRecord(1, '{"text": "ok"}')
    assert (records[1].position, records[1].rule) == (2, "invalid_utf8")
    assert "\ufffd" in records[1].value


def test_json_arrays_objects_and_errors():
    array = json.dumps([{"text": "a"}, {"text": "b"}]).encode()
    assert [r.position for r in file_records("a.json", array, "json")] == [1, 2]
    assert [r.value for r in file_records("o.json", b'{"text": "one"}', "json")] == ['{"text": "one"}']
    [bad] = file_records("b.json", b'[{"text": "a"},', "json")
    assert bad.rule == "malformed_json" and bad.detail.startswith("line 1 column")
    assert list(file_records("e.json", b"  \n", "json")) == []


def test_csv_rows_quoting_ragged_and_blank():
    data = b'id,text\n1,"hello, world"\n2,"two\nlines"\n3,too,many\n\n4,last\n'
    records = list(file_records("a.csv", data, "csv", CsvOptions()))
    assert records == [
        RawRecord(2, '{"id": "1", "text": "hello, world"}'),
        RawRecord(3, '{"id": "2", "text": "two\\nlines"}'),
        RawRecord(5, "3,too,many", "ragged_row", "3 fields, header has 2"),
        RawRecord(6, "", "empty_line", "blank line"),
        RawRecord(7, '{"id": "4", "text": "last"}'),
    ]


def test_csv_without_header_and_other_delimiter():
    options = CsvOptions(header=False, delimiter=";", column_names=("id", "text"))
    assert [r.value for r in file_records("a.csv", b"1;x\n", "csv", options)] == ['{"id": "1", "text": "x"}']
    unnamed = CsvOptions(header=False)
    assert [r.value for r in file_records("a.csv", b"1,x\n", "csv", unnamed)] == ['{"_c0": "1", "_c1": "x"}']


def test_text_documents():
    assert list(file_records("a.txt", b"whole\nfile", "text")) == [RawRecord(1, '{"text": "whole\\nfile"}')]
    assert list(file_records("e.txt", b"", "text")) == []
    assert next(iter(file_records("b.txt", b"\xff", "text", encoding="utf-8"))).rule == "invalid_encoding"
    binary = next(iter(file_records("b.bin", bytes(range(256)) * 4, "text")))
    assert binary.rule == "invalid_encoding" and binary.detail.startswith("utf-8: not valid utf-8 at byte 128; ")


def test_line_endings_bom_and_text_after_a_value():
    assert jsonl_lines(b'{"a": 1}\r{"a": 2}\r\n{"a": 3}\n\n') == [b'{"a": 1}', b'{"a": 2}', b'{"a": 3}', b""]
    assert jsonl_lines(file_content("a.jsonl", b"\xef\xbb\xbf" + b'{"a": 1}')) == [b'{"a": 1}']
    assert trailing_text_at('{"a": "}x"}  ') is None  # a brace inside a string is content
    assert trailing_text_at('{"a": 1} {"b": 2}') == 9
    assert trailing_text_at("{broken") is None  # not JSON at all: the typing step names that
    records = list(file_records("a.csv", b"\xef\xbb\xbfid,text\n7,x\n", "csv"))
    assert records == [RawRecord(2, '{"id": "7", "text": "x"}')]


def test_bounded_lines_split_as_jsonl_lines_do_across_any_chunking():
    data = b'{"a": 1}\r\n{"a": 2}\r{"a": 3}\n\n{"a": 4}'
    expected = [(n, line, len(line)) for n, line in enumerate(jsonl_lines(data), start=1)]
    for size in (1, 2, 3, 5, 8, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert list(bounded_lines(chunks, 100)) == expected, size


def test_a_line_too_long_is_passed_over_and_the_next_line_is_kept():
    lines = list(bounded_lines([b"short\n", b"x" * 40, b"x" * 40 + b"\nafter\n"], 50))
    assert lines == [(1, b"short", 5), (2, None, 80), (3, b"after", 5)]
    [kept, too_large, after] = file_records(
        "a.jsonl", b'{"a": 1}\n' + b"y" * 99 + b'\n{"a": 2}\n', "jsonl", None, ReadLimits(50, 200)
    )
    assert too_large == RawRecord(2, None, "record_too_large", "line of 99 bytes > 50 read at most")
    assert (kept.rule, after.rule) == (None, None)


def test_a_decompression_bomb_stops_at_the_inflation_cap_after_the_lines_before_it():
    bomb = gzip.compress(b'{"text": "before"}\n' + b"0" * (64 << 20), 9)  # 64 MiB that compress about 1000x
    records = list(file_records("bomb.jsonl.gz", bomb, "jsonl", None, ReadLimits(4_000_000, 200)))
    assert [r.rule for r in records] == [None, "unreadable_file"]
    assert "inflates past" in records[1].detail and "ingest.max_inflation" in records[1].detail
    # a truncated stream keeps the lines it could read
    cut = gzip.compress(b"".join(b'{"n": %d, "text": "%s"}\n' % (i, str(i * i).encode()) for i in range(5000)))
    partial = list(file_records("cut.jsonl.gz", cut[: len(cut) // 2], "jsonl"))
    assert partial[-1].rule == "unreadable_file" and partial[-1].detail.startswith("cannot decompress")
    assert [r.position for r in partial[:-1]] == list(range(1, len(partial))) and len(partial) > 1000


def test_json_nested_too_deep_is_a_reject_not_a_recursion_error():
    deep = "[" * 100_000 + "]" * 100_000
    assert nesting_depth('{"a": "[[[[", "b": [[1]]}') == 3  # brackets inside strings do not count
    [line] = file_records("a.jsonl", deep.encode() + b"\n", "jsonl")
    assert (line.rule, line.detail) == ("too_deep", f"nested 100,000 levels deep > {MAX_DEPTH}")
    [whole] = file_records("a.json", ('{"a": ' * 1000 + "1" + "}" * 1000).encode(), "json")
    assert whole.rule == "too_deep"
    at_limit = '{"a": ' * (MAX_DEPTH - 1) + "[1]" + "}" * (MAX_DEPTH - 1)
    assert [r.rule for r in file_records("b.jsonl", at_limit.encode(), "jsonl")] == [None]
    assert [r.rule for r in file_records("c.json", at_limit.encode(), "json")] == [None]
