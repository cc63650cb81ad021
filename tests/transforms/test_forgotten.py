"""Tombstones: requests kept as keyed hashes, and rows matching them flagged without knowing the values."""

import pytest

from refinery.privacy.deletion import BadRequestError, Request, field_request, read_requests
from refinery.rejects import FORGOTTEN
from refinery.transforms.forgotten import (
    flag_forgotten,
    row_hashes,
    row_matches,
    url_prefix_candidates,
    word_sequences,
    words_of,
)

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
    gone = (FORGOTTEN.name, "matches a deletion request")
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


def test_an_address_inside_markup_is_a_word_and_a_literal_matches_as_a_substring():
    page = '<script>{"owner":"ada@example.org","id":7}</script><p>Hello.</p>'
    assert "ada@example.org" not in words_of(page)  # split at spaces only, the address is glued to its JSON
    assert word_sequences(page)[-1] >= ["owner", "ada@example.org", "id", "7"]
    request = Request("contains", "ada@example.org")
    expected = hashes(request)
    assert row_matches(KEY, "p1", None, None, [page], {1}, expected, {}) == expected  # the tombstone alone: ingest
    literal = {request.hash(KEY): "ada@example.org"}  # what a forget holds in memory: a substring anywhere
    assert row_matches(KEY, "p2", None, {"owner": "ada@example.org;bob"}, [None], set(), set(), literal) == expected
    assert row_matches(KEY, "p3", None, None, ["ada@example.com"], {1}, expected, literal) == set()
