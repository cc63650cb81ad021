import bz2
import json
import lzma
from io import BytesIO

import zstandard
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from refinery.io.listing import list_files
from refinery.io.raw import read_records

PAGE = "<html><head><title>Café</title></head><body><p>Grüße aus Köln.</p></body></html>"


def write_warc(path, pages, gzip=True):
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record("crawl.warc.gz", {"software": "test"}))
        for url, body, charset in pages:
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", f"text/html; charset={charset}")], protocol="HTTP/1.1"
            )
            writer.write_record(writer.create_warc_record("GET / HTTP/1.1", "request", payload=BytesIO(b"")))
            record = writer.create_warc_record(
                url, "response", payload=BytesIO(body.encode(charset)), http_headers=headers
            )
            writer.write_record(record)


def test_response_records_become_documents(spark, tmp_path):
    write_warc(
        tmp_path / "a.warc.gz", [("https://a.example.com/", PAGE, "utf-8"), ("https://b.example.de/", PAGE, "latin-1")]
    )
    files = [f.path for f in list_files(spark, str(tmp_path), glob="*.warc.gz")]
    rows = read_records(spark, files, root=str(tmp_path), fmt="warc").orderBy("_line").collect()
    assert len(rows) == 2 and all(r._reject_rule is None and r._file == "a.warc.gz" for r in rows)
    assert rows[0]._line < rows[1]._line  # byte offsets of the records
    first, second = (json.loads(r.value) for r in rows)
    assert first["url"] == "https://a.example.com/" and first["text"] == PAGE
    assert second["text"] == PAGE  # decoded with its declared charset
    assert first["id"].startswith("<urn:uuid:")
    assert first["meta"]["http_status"] == "200" and first["meta"]["content_type"].startswith("text/html")


def test_truncated_warc_keeps_what_it_read_and_says_why(spark, tmp_path):
    write_warc(tmp_path / "whole.warc.gz", [("https://a.example.com/", PAGE, "utf-8")] * 3)
    data = (tmp_path / "whole.warc.gz").read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(data[: len(data) - 200])
    files = [f.path for f in list_files(spark, str(tmp_path), glob="cut.warc.gz")]
    rows = read_records(spark, files, root=str(tmp_path), fmt="warc").collect()
    assert [r._reject_rule for r in rows][-1] == "truncated_record"
    assert all(r._reject_rule is None for r in rows[:-1])


def test_warcs_compressed_as_a_whole_read_like_plain_ones(spark, tmp_path):
    pages = [("https://a.example.com/", PAGE, "utf-8"), ("https://b.example.de/", PAGE, "latin-1")]
    write_warc(tmp_path / "plain.warc", pages, gzip=False)
    data = (tmp_path / "plain.warc").read_bytes()
    (tmp_path / "whole.warc.bz2").write_bytes(bz2.compress(data))
    (tmp_path / "whole.warc.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "whole.warc.xz").write_bytes(lzma.compress(data))
    files = [f.path for f in list_files(spark, str(tmp_path), glob="*.warc*")]
    rows = read_records(spark, files, root=str(tmp_path), fmt="warc").collect()
    assert {r._file for r in rows} == {"plain.warc", "whole.warc.bz2", "whole.warc.zst", "whole.warc.xz"}
    assert all(r._reject_rule is None for r in rows)
    documents = {}
    for row in rows:
        record = json.loads(row.value)
        documents.setdefault(row._file, []).append((row._line, record["url"], record["text"]))
    assert all(sorted(docs) == sorted(documents["plain.warc"]) for docs in documents.values())


def arc_record(fields: list[str], payload: bytes) -> bytes:
    """One ARC v1 record: a header line ending in the payload's length, the payload, a newline."""
    return (" ".join([*fields, str(len(payload))]) + "\n").encode() + payload + b"\n"


def test_arc_records_take_their_uri_and_empty_ones_are_rejected(spark, tmp_path):
    def http(body: bytes) -> bytes:
        return b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body

    header = b"1 0 Refinery\nURL IP-address Archive-date Content-type Archive-length\n"
    data = arc_record(["filedesc://crawl.arc", "0.0.0.0", "20260101000000", "text/plain"], header)
    data += arc_record(["http://a.example.com/x", "10.0.0.1", "20260101000000", "text/html"], http(PAGE.encode()))
    data += arc_record(["http://b.example.com/", "10.0.0.1", "20260102000000", "text/html"], http(b" \n"))
    (tmp_path / "crawl.arc").write_bytes(data)
    files = [f.path for f in list_files(spark, str(tmp_path), glob="*.arc")]
    kept, empty = read_records(spark, files, root=str(tmp_path), fmt="warc").orderBy("_line").collect()
    record = json.loads(kept.value)
    assert kept._reject_rule is None and record["url"] == "http://a.example.com/x" and record["text"] == PAGE
    assert "id" not in record  # no record id: doc_id comes from the file and offset
    assert record["meta"]["warc_date"] == "20260101000000"
    assert (empty._reject_rule, empty._reject_detail) == ("empty_record", "response record with no text")
