"""WARC, WET and ARC files as a Spark Python data source (`spark.read.format("warc")`), one partition per file.

A document is a WARC `response` record (its HTTP body: Common Crawl's WARC files), a `conversion` record
(the extracted text of a WET file) or a `resource` record (a block stored as it is), and every ARC record
after the file header. Each becomes a row with the record id, target URI, date, byte offset, record type,
HTTP status and headers, content type, identified language (WET) and the payload decoded as
`refinery.io.charsets` decodes (configured encoding, BOM, HTTP and `<meta>` charsets, UTF-8, detection). ARC
records have no id: their doc_id is made from the file and offset. `request`, `metadata`, `warcinfo`,
`revisit` and `continuation` records hold no document and make no row.

Records are framed by `refinery.io.archive`: a record that is cut short, misframed, too large, in a gzip
member that does not inflate, or (with `check_digests`) whose digest does not match, is one row with its rule
and detail, and the records around it are read on. A file that cannot be opened or read on (a broken stream
compressed as a whole) ends with one `unreadable_file` row, after the records read before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import NamedTuple

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from refinery.io.archive import Framed, digest_problem, frame_records
from refinery.io.charsets import decode_text
from refinery.io.decode import DEFAULT_LIMITS, Codec, ReadLimits, codec
from refinery.paths import is_local, local_path
from refinery.rejects import EMPTY_RECORD, INVALID_ENCODING, MALFORMED_RECORD, RECORD_TOO_LARGE, UNREADABLE_FILE
from refinery.transforms.params import RecordFields

DOCUMENT_TYPES = ("response", "resource", "conversion")


class WarcRow(NamedTuple):
    """One row of the data source (WARC_SCHEMA): a document, or a rejected record (`rule`, `detail`)."""

    path: str
    offset: int | None
    record_id: str | None = None
    url: str | None = None
    warc_date: str | None = None
    record_type: str | None = None
    http_status: int | None = None
    http_headers: dict | None = None
    content_type: str | None = None
    language: str | None = None
    charset: str | None = None
    payload: str | None = None
    rule: str | None = None
    detail: str | None = None


WARC_SCHEMA = (
    "path string, offset bigint, record_id string, url string, warc_date string, record_type string, "
    "http_status int, http_headers map<string,string>, content_type string, language string, charset string, "
    "payload string, rule string, detail string"
)
# A document's meta entries and the row fields they come from: ingest and forget's raw rewrite build it alike.
META_FIELDS = {
    "warc_date": "warc_date",
    "warc_type": "record_type",
    "content_type": "content_type",
    "http_status": "http_status",
    "content_language": "language",
    "charset": "charset",
}


class WarcDataSource(DataSource):
    """Options: `paths` (a JSON list of file paths or URIs: file:/..., or any fsspec URL when fsspec is
    installed), `check_digests` (true/false), `encoding` (a source's configured one), `max_record_bytes` and
    `max_inflation` (`ReadLimits`)."""

    @classmethod
    def name(cls) -> str:
        return "warc"

    def schema(self) -> str:
        return WARC_SCHEMA

    def reader(self, schema) -> DataSourceReader:
        options = self.options
        limits = ReadLimits(
            int(options.get("max_record_bytes", DEFAULT_LIMITS.max_line_bytes)),
            int(options.get("max_inflation", DEFAULT_LIMITS.max_inflation)),
        )
        return WarcReader(
            json.loads(options.get("paths", "[]")),
            WarcOptions(options.get("check_digests", "false") == "true", options.get("encoding") or None, limits),
        )


class WarcOptions:
    """How one source's archives are read."""

    def __init__(self, check_digests: bool = False, encoding: str | None = None, limits: ReadLimits = DEFAULT_LIMITS):
        self.check_digests, self.encoding, self.limits = check_digests, encoding, limits


class WarcReader(DataSourceReader):
    def __init__(self, paths: list[str], options: WarcOptions):
        self.paths, self.options = paths, options

    def partitions(self) -> list[InputPartition]:
        return [InputPartition(path) for path in self.paths]

    def read(self, partition: InputPartition) -> Iterator[tuple]:
        yield from read_warc(partition.value, self.options)


def read_warc(path: str, options: WarcOptions | None = None) -> Iterator[tuple]:
    """Rows in WARC_SCHEMA order for every document record of one file, and one per record that is rejected."""
    options = options or WarcOptions()
    last = None
    try:
        stream, size = _open(path)
        with stream:
            cap = options.limits.inflated_cap(size) if codec(path) else 1 << 62
            records = frame_records(stream, path, max_record_bytes=options.limits.max_line_bytes, cap=cap)
            for framed in records:
                last = framed.offset
                row = document_row(path, framed, options)
                if row is not None:
                    yield row
    except Exception as exc:  # cannot be opened, or a stream compressed as a whole breaks: after what was read
        after = f" (after the record at {last:,})" if last is not None else ""
        yield _rejected(path, last, UNREADABLE_FILE.name, f"{type(exc).__name__}: {exc}"[:400] + after)


def document_row(path: str, framed: Framed, options: WarcOptions) -> WarcRow | None:
    """The row of one framed record: a document, a rejected record, or None for a record that is no document."""
    if framed.rule:
        return _rejected(path, framed.offset, framed.rule, framed.detail)
    record_type = "response" if framed.format == "arc" else (framed.warc_header("WARC-Type") or "").lower()
    if record_type not in DOCUMENT_TYPES:
        return None
    if framed.format == "arc" and framed.header.startswith(b"filedesc://"):
        return None  # the ARC file header
    http = _http_message(framed.block) if record_type == "response" else None
    if options.check_digests and framed.format == "warc":
        problem = digest_problem(framed, http.body_start if http else None)
        if problem:
            return _rejected(path, framed.offset, *problem)
    try:
        body = _body(framed, http, options.limits.max_line_bytes + 1)
    except Exception as exc:  # a chunked or compressed body that does not decode
        return _rejected(path, framed.offset, MALFORMED_RECORD.name, f"{type(exc).__name__}: {exc}"[:300])
    if len(body) > options.limits.max_line_bytes:
        return _rejected(
            path, framed.offset, RECORD_TOO_LARGE.name, f"payload > {options.limits.max_line_bytes:,} bytes"
        )
    content_type = http.header("Content-Type") if http else framed.warc_header("Content-Type")
    row = WarcRow(
        path,
        framed.offset,
        *_identity(framed),
        record_type,
        http.status if http else None,
        http.headers if http else {},
        content_type,
        framed.warc_header("WARC-Identified-Content-Language"),
    )
    decoded = decode_text(body, content_type=content_type, encoding=options.encoding)
    if decoded.text is None:
        return row._replace(rule=INVALID_ENCODING.name, detail=decoded.failed)
    if not decoded.text.strip():
        return row._replace(rule=EMPTY_RECORD.name, detail=f"{record_type} record with no text")
    charset = None if decoded.found_by == "utf-8" else f"{decoded.encoding} ({decoded.found_by})"
    return row._replace(charset=charset, payload=decoded.text)


def as_document(row: WarcRow, fields: RecordFields) -> dict:
    """A document row as the raw record ingest types (`fields` names its id, text, url and meta fields)."""
    meta = {key: str(value) for key, column in META_FIELDS.items() if (value := getattr(row, column)) is not None}
    return {fields.id: row.record_id, fields.text: row.payload, fields.url: row.url, fields.meta: meta}


@dataclass(frozen=True)
class _HttpMessage:
    """A response record's HTTP status line and headers, and where its body starts in the block."""

    status: int | None
    headers: dict[str, str]
    body_start: int

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


def _http_message(block: bytes) -> _HttpMessage | None:
    """The HTTP message at the start of a response block (None: the block holds no HTTP headers)."""
    if not block.startswith(b"HTTP/"):
        return None
    start = next((at + len(end) for end in (b"\r\n\r\n", b"\n\n") if (at := block.find(end)) >= 0), len(block))
    lines = block[:start].decode("latin-1").splitlines()
    parts = lines[0].split(" ", 2) if lines else []
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip()] = value.strip()
    return _HttpMessage(status, headers, start)


def _body(framed: Framed, http: _HttpMessage | None, limit: int) -> bytes:
    """The payload: the block after the HTTP headers, de-chunked and decompressed by warcio when the headers
    say it is chunked or compressed (at most `limit` bytes read)."""
    if http is None:
        return framed.block[:limit]
    encoded = (http.header("Transfer-Encoding") or "").lower() == "chunked" or (
        (http.header("Content-Encoding") or "identity").lower() not in ("", "identity")
    )
    if not encoded:
        return framed.block[http.body_start : http.body_start + limit]
    from warcio.archiveiterator import ArchiveIterator

    record = next(iter(ArchiveIterator(BytesIO(framed.as_bytes()), check_digests=False)))
    return record.content_stream().read(limit)


def _identity(framed: Framed) -> tuple[str | None, str | None, str | None]:
    """(record id, url, date): a WARC record's headers; an ARC record's url and date (no id: its doc_id then
    comes from the file and offset)."""
    if framed.format == "arc":
        url, _, date, *_ = framed.header.decode("utf-8", "replace").split(" ")
        return None, url, date
    return framed.warc_header("WARC-Record-ID"), framed.warc_header("WARC-Target-URI"), framed.warc_header("WARC-Date")


def _rejected(path: str, offset: int | None, rule: str, detail: str | None) -> WarcRow:
    return WarcRow(path, offset, rule=rule, detail=detail)


def whole_file_codec(name: str) -> Codec | None:
    """The codec of a WARC compressed as a whole (`.bz2`, `.xz`, `.zst`); None for a plain file or a `.warc.gz`,
    which is gzipped record by record and inflated member by member."""
    found = codec(name)
    return None if found is None or name.lower().endswith(".gz") else found


def _open(path: str):
    """The file's bytes as a stream (inflated when compressed as a whole; gzip is inflated per member by the
    framer) and its size on storage."""
    if is_local(path):
        local = local_path(path)
        raw, size = open(local, "rb"), os.path.getsize(local)  # noqa: SIM115 - closed by the caller's `with`
    else:
        import fsspec  # remote storage needs fsspec and its filesystem package (s3fs, adlfs, gcsfs ...)

        opened = fsspec.open(path, "rb")
        raw = opened.open()
        size = opened.fs.size(opened.path)
    whole = whole_file_codec(path)
    return (whole.reader(raw) if whole else raw), size
