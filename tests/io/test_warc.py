from io import BytesIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from refinery.io.listing import list_files
from refinery.io.raw import read_records

PAGE = "<html><head><title>Café</title></head><body><p>Grüße aus Köln.</p></body></html>"


def write_warc(path, pages):
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
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
    import json

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
    assert [r._reject_rule for r in rows][-1] == "unreadable_file"
    assert all(r._reject_rule is None for r in rows[:-1])
