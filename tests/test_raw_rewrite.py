"""Forgetting in raw files, per format: the subject's records lose every byte, and every other record keeps
its position, so a re-read finds the same records where bronze's lineage says they are."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import os
from io import BytesIO

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from refinery.config import SourceConfig
from refinery.io.decode import CsvOptions, csv_records, file_content, file_records, json_records
from refinery.io.warc import read_warc
from refinery.privacy.deletion import Request, Tombstones, field_request
from refinery.privacy.raw_rewrite import (
    RawMatcher,
    rewrite_csv_file,
    rewrite_json_file,
    rewrite_jsonl_file,
    rewrite_parquet_file,
    rewrite_text_file,
    rewrite_warc_file,
)
from refinery.stages.ingest_files import logged_name

KEY = b"a-key-of-at-least-16-bytes"
EMAIL = "ada@example.org"
SOURCE = SourceConfig()


def tombstones(*requests: Request) -> RawMatcher:
    """What forget matches raw records with: the requests' tombstones, under the test key."""
    found = Tombstones(frozenset(r.hash(KEY) for r in requests), frozenset(r.words for r in requests if r.words))
    return RawMatcher(found, KEY)


def positions(records) -> dict[int, str | None]:
    return {r.position: r.rule for r in records}


def test_a_jsonl_file_is_rewritten_by_its_own_name_and_matched_by_its_lineage_name(tmp_path):
    """A file whose whole name is an address (`ada@example.org.jsonl.gz`) has a token as its lineage name; it
    is still read and written back gzip-compressed, and a record without an id is matched by that name."""
    path = tmp_path / f"{EMAIL}.jsonl.gz"
    lines = ['{"text": "first record, no id"}', '{"id": "keep-1", "text": "second"}', ""]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    name = logged_name(path.name)
    assert name.startswith("<EMAIL_") and name.endswith(">")
    position_id = hashlib.sha256(f"{name}:1".encode()).hexdigest()[:32]  # as ingest hashes an id-less record
    assert rewrite_jsonl_file(path, name, SOURCE, tombstones(Request("doc_id", position_id))) == 1
    assert gzip.decompress(path.read_bytes()).decode().split("\n") == ["", lines[1], ""]


def test_jsonl_lines_ended_by_a_lone_cr_keep_their_numbers_and_escaped_text_still_matches(tmp_path):
    path = tmp_path / "old-mac.jsonl"
    first, third = '{"id": "a", "text": "one"}', '{"id": "c", "text": "three"}'
    path.write_bytes(f'{first}\r{{"id": "b", "text": "write\\nto {EMAIL}\\u0021"}}\r{third}\r'.encode())
    assert rewrite_jsonl_file(path, "old-mac.jsonl", SOURCE, tombstones(Request("contains", EMAIL))) == 1
    assert path.read_bytes() == f"{first}\r\r{third}\r".encode()
    assert [(r.position, r.value) for r in file_records(path.name, path.read_bytes(), "jsonl") if r.value] == [
        (1, first),
        (3, third),
    ]


def test_csv_rows_spanning_lines_are_emptied_line_for_line(tmp_path):
    path = tmp_path / "posts.csv.gz"
    content = (
        "id,text,author\r\n"
        "p-1,a first post,bob\r\n"
        f'p-2,"a post\r\nover two lines, mail {EMAIL}",carol\r\n'
        "p-3,by the author to forget,ada\r\n"
        "p-4,the last post,bob\r\n"
    )
    path.write_bytes(gzip.compress(content.encode()))
    before = positions(csv_records(content.encode(), CsvOptions()))
    forget = tombstones(Request("contains", EMAIL), field_request("meta.author=ada"))
    assert rewrite_csv_file(path, "posts.csv.gz", SOURCE, forget) == 2
    after = file_content(path.name, path.read_bytes())
    assert EMAIL.encode() not in after and b"forget" not in after
    records = list(csv_records(after, CsvOptions()))
    assert {r.position: json.loads(r.value)["id"] for r in records if r.rule is None} == {2: "p-1", 6: "p-4"}
    assert {r.position: r.rule for r in records if r.rule} == {3: "empty_line", 4: "empty_line", 5: "empty_line"}
    assert before.keys() == {2, 3, 5, 6}  # the kept rows start where they started
    assert rewrite_csv_file(path, "posts.csv.gz", SOURCE, forget) == 0  # nothing left: left as it is


def test_a_csv_dialect_of_its_own_is_framed_the_same_by_ingest_and_by_forget(tmp_path):
    """Semicolons, single quotes and a backslash escape, a quoted delimiter, an escaped quote and a quoted line
    break: forget finds the row ingest read (the source's one dialect, `io.decode.csv_reader`), blanks exactly
    its lines, and every other row is read back at the same position with the same fields."""
    options = CsvOptions(delimiter=";", quote="'", escape="\\")
    source = SourceConfig(name="posts", format="csv", csv=options)
    content = (
        f"id;text;author\np-1;'semi; colon inside';bob\np-2;'it\\'s two\nlines, mail {EMAIL}';carol\np-3;plain;dan\n"
    )
    path = tmp_path / "posts.csv"
    path.write_text(content)
    before = {r.position: r.value for r in csv_records(content.encode(), options)}
    assert list(before) == [2, 3, 5] and json.loads(before[3])["text"] == f"it's two\nlines, mail {EMAIL}"
    assert json.loads(before[2])["text"] == "semi; colon inside"
    assert rewrite_csv_file(path, "posts.csv", source, tombstones(Request("contains", EMAIL))) == 1
    after = {r.position: (r.rule, r.value) for r in csv_records(path.read_bytes(), options)}
    assert after[2] == (None, before[2]) and after[5] == (None, before[5])
    assert after[3][0] == after[4][0] == "empty_line"  # the row's two lines, emptied in place
    assert EMAIL not in path.read_text()


def test_json_array_elements_become_null_and_a_single_matching_document_is_emptied(tmp_path):
    array = tmp_path / "dump.json"
    elements = [{"id": "j-1", "text": "kept"}, {"id": "j-2", "text": f"mail {EMAIL}"}, {"id": "j-3", "text": "kept"}]
    array.write_text(json.dumps(elements, indent=2))
    forget = tombstones(Request("contains", EMAIL))
    assert rewrite_json_file(array, "dump.json", SOURCE, forget) == 1
    assert json.loads(array.read_text()) == [elements[0], None, elements[2]]
    assert [r.position for r in json_records(array.read_bytes()) if r.value != "null"] == [1, 3]

    single = tmp_path / "one.json"
    single.write_text(json.dumps(elements[1]))
    assert rewrite_json_file(single, "one.json", SOURCE, forget) == 1
    assert single.read_bytes() == b"" and list(json_records(b"")) == []


def test_a_text_file_holding_the_subject_is_emptied_and_others_are_untouched(tmp_path):
    forget = tombstones(Request("contains", EMAIL))
    (tmp_path / "note.txt").write_text(f"Dear all,\nwrite to {EMAIL} for the minutes.\n")
    (tmp_path / "other.txt").write_text("Nothing personal here.\n")
    before = os.stat(tmp_path / "other.txt").st_mtime_ns
    assert rewrite_text_file(tmp_path / "note.txt", "note.txt", SOURCE, forget) == 1
    assert rewrite_text_file(tmp_path / "other.txt", "other.txt", SOURCE, forget) == 0
    assert (tmp_path / "note.txt").read_bytes() == b""
    assert os.stat(tmp_path / "other.txt").st_mtime_ns == before


def test_parquet_rows_of_a_subject_are_nulled_in_place(tmp_path):
    path = tmp_path / "dump.parquet"
    meta = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "id": ["keep-1", None, "p-3", "p-4"],
            "text": ["kept", f"write to {EMAIL}", "a post", "another post"],
            "url": [None, None, "https://forum.example/t/1", None],
            "meta": pa.array([None, None, [("author", "ada")], None], meta),
            "user": [1, 2, 3, 77],  # an undeclared column: ingest keeps it in meta as "77"
        }
    )
    pq.write_table(table, path, row_group_size=2)  # positions count across row groups
    forget = tombstones(Request("contains", EMAIL), field_request("meta.author=ada"), field_request("meta.user=77"))
    assert rewrite_parquet_file(path, "dump.parquet", SOURCE, forget) == 3
    rows = pq.read_table(path).to_pylist(maps_as_pydicts="strict")
    assert rows[0] == {"id": "keep-1", "text": "kept", "url": None, "meta": None, "user": 1}
    assert rows[1:] == [dict.fromkeys(rows[0])] * 3  # positions kept: the rows after a blank keep their index
    assert pq.ParquetFile(path).num_row_groups == 2 and not list(tmp_path.glob(".*"))  # no staging file left


def write_crawl(path, pages: list[tuple[str, str]], gzip: bool = True) -> None:
    """A crawl as Common Crawl writes it: warcinfo, then a request and a response record per page."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
        for url, body in pages:
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", payload=BytesIO(b""), http_headers=request))
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=BytesIO(body.encode()), http_headers=headers)
            )


def documents(path) -> dict[int, str]:
    """offset -> url of the documents ingest reads (digests checked), failing on an unreadable file."""
    rows = list(read_warc(str(path)))
    assert all(row[-1] is None for row in rows), rows[-1][-1]
    return {row[1]: row[3] for row in rows}


def all_bytes(path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(data)  # every member
    return bz2.decompress(data) if path.name.endswith(".bz2") else data


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc", "crawl.warc.bz2"])
def test_warc_records_are_replaced_by_blank_records_of_the_same_length(tmp_path, name):
    pages = [
        ("https://news.example/a", "<p>an article</p>"),
        ("https://ada.example/blog/1", "<p>Ada's own blog</p>"),
        ("https://forum.example/t/9", f"<p>contact {EMAIL} today</p>"),
        ("https://news.example/b", "<p>another article</p>"),
    ]
    path = tmp_path / name
    write_crawl(tmp_path / "written", pages, gzip=name.endswith(".gz"))
    data = (tmp_path / "written").read_bytes()
    path.write_bytes(bz2.compress(data) if name.endswith(".bz2") else data)
    before, size = documents(path), path.stat().st_size
    forget = tombstones(Request("contains", EMAIL), Request("url_prefix", "https://ada.example/blog"))
    assert rewrite_warc_file(path, name, SOURCE, forget) == 2
    after = documents(path)
    assert after == {offset: url for offset, url in before.items() if "news" in url}  # same offsets
    assert b"ada.example" not in all_bytes(path) and EMAIL.encode() not in all_bytes(path)  # requests too
    assert name.endswith(".bz2") or path.stat().st_size == size
    assert rewrite_warc_file(path, name, SOURCE, forget) == 0


def test_a_large_gzip_member_is_replaced_by_a_stored_one_of_the_same_length(tmp_path):
    noise = hashlib.sha512(b"seed").hexdigest()
    body = "".join(hashlib.sha512(f"{noise}{i}".encode()).hexdigest() for i in range(2500))  # barely compresses
    path = tmp_path / "big.warc.gz"
    write_crawl(path, [("https://a.example/1", f"{body} {EMAIL}"), ("https://a.example/2", "<p>kept</p>")], True)
    before, size = documents(path), path.stat().st_size
    assert rewrite_warc_file(path, "big.warc.gz", SOURCE, tombstones(Request("contains", EMAIL))) == 1
    assert documents(path) == {offset: url for offset, url in before.items() if url.endswith("/2")}
    assert path.stat().st_size == size and EMAIL.encode() not in all_bytes(path)
