"""WARC and ARC files as a Spark Python data source (`spark.read.format("warc")`), one partition per file.

Each WARC `response` record (Common Crawl style) becomes a row: the WARC record id, target URI,
date, byte offset, HTTP status and headers, and the HTTP body decoded to text with its declared
charset. ARC files (the format before WARC) are read too: their `uri` is the url, their `archive-date`
the date, and, having no record id, their doc_id is made from the file and offset. Other record types
(request, metadata, warcinfo, the ARC file header) are not documents and are skipped. Files are
gzip-compressed per record (`.warc.gz`, read as they are) or whole (`.bz2`, `.zst`, `.xz`: decompressed
as a stream; offsets are then positions in the decompressed file). A file that cannot be read to its
end (bad compression, a record shorter than its Content-Length or whose digest does not match) yields
one row with `error` set, after the records it could read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from refinery.io.decode import Codec, codec
from refinery.paths import is_local, local_path

WARC_SCHEMA = (
    "path string, offset bigint, record_id string, url string, warc_date string, http_status int, "
    "http_headers map<string,string>, content_type string, payload string, error string"
)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)


class WarcDataSource(DataSource):
    """Options: `paths`, a JSON list of file paths or URIs (file:/..., or any fsspec URL when fsspec is installed)."""

    @classmethod
    def name(cls) -> str:
        return "warc"

    def schema(self) -> str:
        return WARC_SCHEMA

    def reader(self, schema) -> DataSourceReader:
        return WarcReader(json.loads(self.options.get("paths", "[]")))


class WarcReader(DataSourceReader):
    def __init__(self, paths: list[str]):
        self.paths = paths

    def partitions(self) -> list[InputPartition]:
        return [InputPartition(path) for path in self.paths]

    def read(self, partition: InputPartition) -> Iterator[tuple]:
        yield from read_warc(partition.value)


def read_warc(path: str) -> Iterator[tuple]:
    """Rows in WARC_SCHEMA order for every response record of one file."""
    from warcio.archiveiterator import ArchiveIterator

    offset = None
    try:
        with _open(path) as stream:
            # Digests are checked where the WARC has them (Common Crawl does): a truncated record fails.
            records = ArchiveIterator(stream, check_digests="raise")
            for record in records:
                if record.rec_type != "response":
                    continue
                headers = record.http_headers
                body = record.content_stream().read()
                offset = records.get_record_offset()  # only valid once the record was read
                missing = getattr(record.raw_stream, "limit", 0)
                if missing:
                    raise EOFError(f"record at offset {offset} is {missing} bytes short of its Content-Length")
                content_type = headers.get_header("Content-Type") if headers else None
                yield (
                    path,
                    offset,
                    *record_identity(record),
                    int(headers.get_statuscode()) if headers and headers.get_statuscode() else None,
                    dict(headers.headers) if headers else {},
                    content_type,
                    decode_payload(body, content_type),
                    None,
                )
            unread = stream.tell() - records.offset
            if unread > 0:  # a last record cut off inside its gzip member ends the iteration silently
                raise EOFError(f"{unread} bytes at the end of the file are not a complete WARC record")
    except Exception as exc:  # a truncated or corrupt file: say so, after the records that could be read
        yield (path, offset, None, None, None, None, None, None, None, f"{type(exc).__name__}: {exc}"[:500])


def record_identity(record) -> tuple[str | None, str | None, str | None]:
    """(record id, url, date) of a WARC record, or of an ARC record (no id: its doc_id then comes from the
    file and offset; `uri` and `archive-date` headers)."""
    headers = record.rec_headers
    if record.format == "arc":
        return None, headers.get_header("uri"), headers.get_header("archive-date")
    return headers.get_header("WARC-Record-ID"), headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Date")


def decode_payload(body: bytes, content_type: str | None) -> str:
    match = _CHARSET.search(content_type or "")
    for encoding in (match.group(1) if match else None, "utf-8"):
        if encoding:
            try:
                return body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return body.decode("utf-8", "replace")


def whole_file_codec(name: str) -> Codec | None:
    """The codec of a WARC compressed as a whole (`.bz2`, `.xz`, `.zst`); None for a plain file or a `.warc.gz`,
    which is gzipped record by record and read as it is."""
    found = codec(name)
    return None if found is None or name.lower().endswith(".gz") else found


def _open(path: str):
    """The file's bytes as a stream, decompressed when the whole file is (gzip is left to warcio)."""
    if is_local(path):
        raw = open(local_path(path), "rb")  # noqa: SIM115 - closed by the caller's `with`
    else:
        import fsspec  # remote storage needs fsspec and its filesystem package (s3fs, adlfs, gcsfs ...)

        raw = fsspec.open(path, "rb").open()
    whole = whole_file_codec(path)
    return whole.reader(raw) if whole else raw
