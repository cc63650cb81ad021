"""Blanking a forgotten subject's records in WARC files, with every other record at the same byte offset.

Bronze's lineage of a WARC document is the byte offset of its record, so a record cannot simply be cut
out. Each matching record is replaced by a `metadata` record (no document: ingest skips it) of exactly
the same length, its block blank: in a `.warc.gz` a gzip member of the same compressed length (padded
through the gzip header's extra field), in a plain file or one compressed as a whole the same number of
bytes. Records are framed as ingest frames them (`refinery.io.archive`); a document record matches as ingest
sees its document (`refinery.privacy.raw_rewrite.files.matches`); any record, a rejected span too, matches by
its target URI or its words; and the request and metadata records of a matching response (same target URI,
or naming its record id) go with it. ARC files are not rewritten.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import uuid
import zlib
from pathlib import Path

from refinery.config import SourceConfig
from refinery.io.archive import Framed, frame_records
from refinery.io.decode import compress, decompress
from refinery.io.warc import WarcOptions, as_document, document_row, whole_file_codec
from refinery.privacy.raw_rewrite.files import CannotRewriteError, RawMatcher, replace_file

_REFERENCES = ("WARC-Concurrent-To", "WARC-Refers-To")
_GZIP_OVERHEAD = 10 + 2 + 8  # header with the extra-field flag, the extra field's length, CRC and size
_MAX_EXTRA = 0xFFFF
_PLACEHOLDER_NAMESPACE = uuid.UUID("0e0c6d1c-5f0a-4d5e-9c3b-2f4e8a7b6c1d")


@dataclasses.dataclass(frozen=True)
class _Record:
    offset: int
    end: int
    document: bool  # a response record: a document to ingest
    matched: bool
    record_id: str | None
    url: str | None
    references: tuple[str, ...]
    date: str | None


def rewrite_warc_file(path: Path, name: str, source: SourceConfig, matcher: RawMatcher) -> int:
    """Replace the matching records of a WARC file (and their request and metadata records) by blank
    records of the same length. Returns the documents blanked."""
    whole = whole_file_codec(path.name) is not None
    data = decompress(path.name, path.read_bytes()) if whole else path.read_bytes()
    records = _records(data, name, source, matcher)
    gone = _with_companions(records)
    if not gone or not matcher.write:
        return sum(1 for record in gone if record.document)
    per_record_gzip = not whole and data[:2] == b"\x1f\x8b"
    parts, previous = [], 0
    for record in gone:
        length = record.end - record.offset
        seed = f"{name}:{record.offset}"
        blank = _gzip_member(length, seed, record.date) if per_record_gzip else _blank_record(length, seed, record.date)
        parts += [data[previous : record.offset], blank]
        previous = record.end
    rewritten = b"".join([*parts, data[previous:]])
    if [r.offset for r in _records(rewritten, name, source, matcher, count=False)] != [r.offset for r in records]:
        raise CannotRewriteError("the rewritten file would not keep its records' offsets")
    replace_file(path, compress(path.name, rewritten) if whole else rewritten)
    return sum(1 for record in gone if record.document)


def _records(data: bytes, name: str, source: SourceConfig, matcher: RawMatcher, *, count: bool = True) -> list[_Record]:
    """Every record of the file with its byte span (to the next record) and whether it matches itself."""
    options = WarcOptions(encoding=source.encoding)
    fields = source.fields
    framed = list(frame_records(io.BytesIO(data), name, max_record_bytes=1 << 62, cap=1 << 62))  # data is held
    if any(record.format != "warc" for record in framed):
        raise CannotRewriteError("ARC records are not rewritten")
    ends = [record.offset for record in framed[1:]] + [len(data)]
    if any(end <= record.offset for record, end in zip(framed, ends, strict=True)):
        # A .warc.gz compressed as one gzip stream (not a member per record) has no span per record.
        raise CannotRewriteError("the WARC's records have no byte spans of their own")
    found = []
    for record, end in zip(framed, ends, strict=True):
        row = document_row(name, record, options)
        document = as_document(row, fields) if row is not None and row.rule is None else None
        url = record.warc_header("WARC-Target-URI") if not record.rule else None
        whole = _span_text(data, record, end) + ("\n" + document[fields.text] if document else "")
        matched = matcher.matches(document or {fields.url: url}, whole, name, record.offset, fields, count=count)
        references = tuple(value for h in _REFERENCES if (value := record.warc_header(h)))
        record_id, date = record.warc_header("WARC-Record-ID"), record.warc_header("WARC-Date")
        found.append(_Record(record.offset, end, document is not None, matched, record_id, url, references, date))
    return found


def _span_text(data: bytes, record: Framed, end: int) -> str:
    """The text of a record's bytes as the file holds them (a gzip member inflated as far as it goes)."""
    span = data[record.offset : end]
    if span.startswith(b"\x1f\x8b"):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            span = inflater.decompress(span)
        except zlib.error:
            span = b""
    return span.decode("utf-8", "replace")


def _with_companions(records: list[_Record]) -> list[_Record]:
    """The matching records, plus the records that share a matching record's target URI or name its id (a
    response's request and metadata records)."""
    ids = {r.record_id for r in records if r.matched and r.record_id}
    urls = {r.url for r in records if r.matched and r.url}
    return [r for r in records if r.matched or r.url in urls or ids.intersection(r.references)]


def _blank_record(length: int, seed: str, date: str | None) -> bytes:
    """A WARC metadata record of exactly `length` bytes (its two closing CRLFs included), block all spaces.
    The Content-Length is written with 12 digits, leading zeros allowed, so the length is the header's plus
    the block's."""
    header = _header(0, seed, date)
    size = length - len(header) - 4
    if size < 0:
        raise CannotRewriteError("a record is shorter than the smallest blank record")
    return _header(size, seed, date) + b" " * size + b"\r\n\r\n"


def _header(size: int, seed: str, date: str | None) -> bytes:
    record_id = uuid.uuid5(_PLACEHOLDER_NAMESPACE, seed)  # the same on every rerun
    lines = [
        "WARC/1.0",
        "WARC-Type: metadata",
        f"WARC-Record-ID: <urn:uuid:{record_id}>",
        f"WARC-Date: {date or '1970-01-01T00:00:00Z'}",
        "Content-Type: text/plain",
        f"Content-Length: {size:012d}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _gzip_member(length: int, seed: str, date: str | None) -> bytes:
    """A gzip member of exactly `length` bytes holding a blank metadata record: small members carry a
    compressed record and pad the gzip header's extra field; large ones store a longer record uncompressed."""
    record = _blank_record(len(_header(0, seed, date)) + 4, seed, date)
    deflated = _deflate(record, 9)
    if length - _GZIP_OVERHEAD - len(deflated) > _MAX_EXTRA:
        record_length = length - _GZIP_OVERHEAD - _MAX_EXTRA // 2
        for _ in range(8):  # stored blocks: each byte of the record is a byte of the member, plus block headers
            record = _blank_record(record_length, seed, date)
            deflated = _deflate(record, 0)
            extra = length - _GZIP_OVERHEAD - len(deflated)
            if 0 <= extra <= _MAX_EXTRA:
                break
            record_length += extra - _MAX_EXTRA // 2
    extra = length - _GZIP_OVERHEAD - len(deflated)
    if not 0 <= extra <= _MAX_EXTRA:
        raise CannotRewriteError("no blank gzip member has this record's length")
    header = b"\x1f\x8b\x08\x04" + b"\x00\x00\x00\x00\x00\xff" + struct.pack("<H", extra) + b"\x00" * extra
    trailer = struct.pack("<II", zlib.crc32(record), len(record) & 0xFFFFFFFF)
    return header + deflated + trailer


def _deflate(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()
