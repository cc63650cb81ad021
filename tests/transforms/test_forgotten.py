"""Tombstones: requests kept as keyed hashes, and rows matching them flagged without knowing the values."""

import gzip
import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from refinery.deletion import BadRequestError, Request, Tombstones, field_request, read_requests
from refinery.raw_rewrite import rewrite_jsonl_file, rewrite_parquet_file
from refinery.stages.ingest import logged_name
from refinery.transforms.forgotten import (
    FORGOTTEN,
    flag_forgotten,
    row_hashes,
    url_prefix_candidates,
)
from refinery.transforms.params import RecordFields

KEY = b"a-key-of-at-least-16-bytes"
ROWS = "doc_id string, text string, url string, source string, meta map<string,string>"


def hashes(*requests: Request) -> set[str]:
    return {r.hash(KEY) for r in requests}


def test_requests_are_checked_without_echoing_their_values(tmp_path):
    assert field_request("meta.author=Ada Lovelace") == Request("field", "Ada Lovelace", field="author")
    assert Request("contains", "Ada  Lovelace.").words == 2
    with pytest.raises(BadRequestError, match="scheme://host"):
        Request("url_prefix", "ada.example/blog")
    file = tmp_path / "requests.jsonl"
    file.write_text('{"doc_id": "d1"}\n\n{"field": "meta.user=u-77"}\n{"contains": "ada@example.org"}\n')
    assert read_requests(file) == [
        Request("doc_id", "d1"),
        Request("field", "u-77", "user"),
        Request("contains", "ada@example.org"),
    ]
    file.write_text('{"doc_id": "d1"}\n{"email": "secret-value@example.org"}\n')
    with pytest.raises(BadRequestError, match="line 2") as error:
        read_requests(file)
    assert "secret-value" not in str(error.value)


def test_url_prefixes_are_cut_at_boundaries():
    assert url_prefix_candidates("https://site.example/blog/post?id=3") == [
        "https://site.example/blog/post?id=3",
        "https://site.example",
        "https://site.example/",
        "https://site.example/blog",
        "https://site.example/blog/",
        "https://site.example/blog/post",
    ]
    assert "https://site.example/blog" not in url_prefix_candidates("https://site.example/blogroll")
    assert url_prefix_candidates("not a url") == []


def test_hashes_depend_on_the_key():
    one = set(row_hashes(KEY, "d1", None, None, [], ()))
    other = set(row_hashes(b"another-key-of-16-bytes", "d1", None, None, [], ()))
    assert one and one.isdisjoint(other)


def test_rows_matching_a_tombstone_are_flagged_and_the_others_kept(spark):
    rows = [
        ("d1", "plain text", None, "web", None),
        ("d2", "plain text", "https://site.example/blog/a", "web", None),
        ("d3", "plain text", "https://site.example/blogroll", "web", None),
        ("d4", "plain text", None, "web", {"author": "Ada Lovelace"}),
        ("d5", "write to ada@example.org, thanks", None, "web", None),
        ("d6", "a note by Ada   Lovelace.", None, "web", None),
        ("d7", "Ada wrote; Lovelace read", None, "web", None),
    ]
    requests = [
        Request("doc_id", "d1"),
        Request("url_prefix", "https://site.example/blog"),
        field_request("meta.author=Ada Lovelace"),
        Request("contains", "ada@example.org"),
        Request("contains", "Ada Lovelace"),
    ]
    df = spark.createDataFrame(rows, ROWS)
    flagged = flag_forgotten(df, tombstones=hashes(*requests), key=KEY, ngram_sizes={r.words for r in requests})
    result = {row.doc_id: (row._reject_rule, row._reject_detail) for row in flagged.collect()}
    gone = (FORGOTTEN, "matches a deletion request")
    assert result == {
        "d1": gone,
        "d2": gone,
        "d3": (None, None),
        "d4": gone,
        "d5": gone,
        "d6": gone,
        "d7": (None, None),
    }
    assert flag_forgotten(df, tombstones=[], key=KEY).where("_reject_rule IS NOT NULL").count() == 0


def test_a_raw_file_is_rewritten_by_its_own_name_and_matched_by_its_lineage_name(tmp_path):
    """A file whose whole name is an address (`ada@example.org.jsonl.gz`) has a token as its lineage name; it
    is still read and written back gzip-compressed, and a record without an id is matched by that name."""
    path = tmp_path / "ada@example.org.jsonl.gz"
    lines = ['{"text": "first record, no id"}', '{"id": "keep-1", "text": "second"}', ""]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    name = logged_name(path.name)
    assert name.startswith("<EMAIL_") and name.endswith(">")
    position_id = hashlib.sha256(f"{name}:1".encode()).hexdigest()[:32]  # as ingest hashes an id-less record
    tombstones = Tombstones(frozenset({Request("doc_id", position_id).hash(KEY)}), frozenset())
    assert rewrite_jsonl_file(path, name, RecordFields(), tombstones, KEY) == 1
    assert gzip.decompress(path.read_bytes()).decode().split("\n") == ["", lines[1], ""]


def test_parquet_rows_of_a_subject_are_nulled_in_place(tmp_path):
    path = tmp_path / "dump.parquet"
    meta = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "id": ["keep-1", None, "p-3", "p-4"],
            "text": ["kept", "write to ada@example.org", "a post", "another post"],
            "url": [None, None, "https://forum.example/t/1", None],
            "meta": pa.array([None, None, [("author", "ada")], None], meta),
            "user": [1, 2, 3, 77],  # an undeclared column: ingest keeps it in meta as "77"
        }
    )
    pq.write_table(table, path)
    requests = [Request("contains", "ada@example.org"), field_request("meta.author=ada"), field_request("meta.user=77")]
    tombstones = Tombstones(frozenset(r.hash(KEY) for r in requests), frozenset(r.words for r in requests if r.words))
    assert rewrite_parquet_file(path, "dump.parquet", RecordFields(), tombstones, KEY) == 3
    rows = pq.read_table(path).to_pylist(maps_as_pydicts="strict")
    assert rows[0] == {"id": "keep-1", "text": "kept", "url": None, "meta": None, "user": 1}
    assert rows[1:] == [dict.fromkeys(rows[0])] * 3  # positions kept: the rows after a blank keep their index
    assert not list(tmp_path.glob(".*"))  # no staging file left behind
