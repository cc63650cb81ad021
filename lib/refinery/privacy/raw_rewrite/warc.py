"""Blanking a forgotten subject's records in WARC files, with every other record at the same byte offset.

Bronze's lineage of a WARC document is the byte offset of its record, so a record cannot simply be cut
out. Each matching record is replaced by a `metadata` record (no document: ingest skips it) of exactly
the same length, its block blank: in a `.warc.gz` a gzip member of the same compressed length (padded
through the gzip header's extra field), in a plain file or one compressed as a whole the same number of
bytes. A response record matches as ingest sees its document (`refinery.privacy.raw_rewrite.files.matches`);
any record matches by its target URI or its words; and the request and metadata records of a matching
response (same target URI, or naming its record id) go with it. ARC files are not rewritten.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import uuid
import zlib
from pathlib import Path

from refinery.config import SourceConfig
from refinery.io.decode import compress, decompress
from refinery.io.warc import decode_payload, record_identity, whole_file_codec
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
    from warcio.archiveiterator import ArchiveIterator

    found, fields = [], source.fields
    records = ArchiveIterator(io.BytesIO(data))
    try:
        for record in records:
            if record.format != "warc":
                raise CannotRewriteError("ARC records are not rewritten")
            headers, http = record.rec_headers, record.http_headers
            body = record.content_stream().read()
            offset = records.get_record_offset()
            record_id, url, date = record_identity(record)
            content_type = http.get_header("Content-Type") if http else None
            text = decode_payload(body, content_type)
            whole = "\n".join(part for part in (headers.to_str(), http.to_str() if http else "", text) if part)
            if record.rec_type == "response":
                meta = {"warc_date": date, "content_type": content_type}
                if http and http.get_statuscode():
                    meta["http_status"] = str(int(http.get_statuscode()))
                document = {fields.id: record_id, fields.text: text, fields.url: url, fields.meta: meta}
            else:
                document = {fields.url: url}  # no document: only its URL and words can match
            matched = matcher.matches(document, whole, name, offset, fields, count=count)
            references = tuple(headers.get_header(h) for h in _REFERENCES if headers.get_header(h))
            found.append(_Record(offset, 0, record.rec_type == "response", matched, record_id, url, references, date))
    except CannotRewriteError:
        raise
    except Exception as exc:  # a file ingest reported unreadable: its readable records are not all known
        raise CannotRewriteError(f"the WARC cannot be read to its end ({type(exc).__name__})") from None
    ends = [r.offset for r in found[1:]] + [len(data)]
    # A .warc.gz compressed as one gzip stream (not a member per record) has no span per record.
    if any(end <= r.offset for r, end in zip(found, ends, strict=True)):
        raise CannotRewriteError("the WARC's records have no byte spans of their own")
    return [dataclasses.replace(r, end=end) for r, end in zip(found, ends, strict=True)]


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
