"""Turn one raw file's bytes into records: decompression, line splitting, UTF-8 checks, per-format framing.

Pure Python with no Spark, so every bad-input case is testable on its own. Each record is a
`RawRecord`: its position in the file, the record as a JSON string (or the raw text when it cannot
be framed), and, when the record is already known to be bad, the rule and detail that reject it.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from refinery.config.sources import CsvOptions, IngestConfig
from refinery.io.charsets import decode_text
from refinery.rejects import (
    EMPTY_LINE,
    INVALID_ENCODING,
    INVALID_UTF8,
    MALFORMED_CSV,
    MALFORMED_JSON,
    RAGGED_ROW,
    RECORD_TOO_LARGE,
    TOO_DEEP,
    UNREADABLE_FILE,
)

_DECODER = json.JSONDecoder()
MAX_DEPTH = 500  # JSON nesting levels a record may have: Python's parser recurses once per level (1,000 frames)
INFLATION_FLOOR = 16 << 20  # bytes any compressed file may inflate to, whatever its size
_CHUNK = 1 << 20  # bytes decompressed at a time
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on reading one raw file, so no file can exhaust a worker's memory or stop the batch.

    A line longer than `max_line_bytes` is passed over, not held (4 bytes per character: a longer one cannot be
    within `ingest.max_record_chars`); a compressed file stops inflating at `max_inflation` times its size plus
    INFLATION_FLOOR (a decompression bomb)."""

    max_line_bytes: int
    max_inflation: int

    @classmethod
    def of(cls, max_record_chars: int, max_inflation: int) -> ReadLimits:
        return cls(4 * max_record_chars, max_inflation)

    def inflated_cap(self, stored: int) -> int:
        return self.max_inflation * stored + INFLATION_FLOOR


DEFAULT_LIMITS = ReadLimits.of(IngestConfig.max_record_chars, IngestConfig.max_inflation)  # the config's defaults


@dataclass(frozen=True)
class RawRecord:
    position: int | None
    value: str | None
    rule: str | None = None
    detail: str | None = None


class UnreadableFileError(ValueError):
    """The file cannot be decompressed or decoded as a whole."""


@dataclass(frozen=True)
class Codec:
    """A compression a raw file's name suffix stands for: whole-buffer functions and a streaming reader."""

    decompress: Callable[[bytes], bytes]
    compress: Callable[[bytes], bytes]
    reader: Callable[[BinaryIO], BinaryIO]


def _zstd() -> Codec:
    import zstandard  # a dependency, imported where a .zst file needs it

    return Codec(
        lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
        lambda data: zstandard.ZstdCompressor().compress(data),
        lambda raw: zstandard.ZstdDecompressor().stream_reader(raw, closefd=True),
    )


# Suffix -> codec: the one table that ingest, WARC reading and forget's raw rewrite decode and encode by.
CODECS: dict[str, Callable[[], Codec]] = {
    ".gz": lambda: Codec(gzip.decompress, gzip.compress, lambda raw: gzip.GzipFile(fileobj=raw)),
    ".bz2": lambda: Codec(bz2.decompress, bz2.compress, bz2.BZ2File),
    ".xz": lambda: Codec(lzma.decompress, lzma.compress, lzma.LZMAFile),
    ".zst": _zstd,
    ".zstd": _zstd,
}
COMPRESSED_SUFFIXES = tuple(CODECS)


def codec(name: str) -> Codec | None:
    """The codec a file's name says it is compressed with (None: not compressed)."""
    lower = name.lower()
    return next((make() for suffix, make in CODECS.items() if lower.endswith(suffix)), None)


def decompress(name: str, data: bytes) -> bytes:
    """Decompress by file suffix; a 0-byte compressed file is empty, a truncated one is unreadable."""
    found = codec(name)
    if found is None or not data:
        return data
    try:
        return found.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise UnreadableFileError(f"cannot decompress: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # zstandard.ZstdError and friends
        raise UnreadableFileError(f"cannot decompress: {type(exc).__name__}") from None


def compress(name: str, data: bytes) -> bytes:
    """Compress by file suffix, the way `decompress` reads it back (no suffix: as is)."""
    found = codec(name)
    return found.compress(data) if found else data


UTF8_BOM = b"\xef\xbb\xbf"


def inflate(name: str, data: bytes, limits: ReadLimits) -> Iterator[bytes]:
    """A raw file's content in chunks, decompressed by its suffix as it is read, without a leading UTF-8 byte
    order mark; `UnreadableFileError` at a decompression error or past the inflation cap (chunks before it were
    yielded)."""
    found = codec(name)
    if found is None or not data:
        yield _without_bom(data)
        return
    cap, total = limits.inflated_cap(len(data)), 0
    try:
        with found.reader(io.BytesIO(data)) as stream:
            while chunk := stream.read1(_CHUNK):  # read1: what one step inflated, kept if the next step fails
                if not total:
                    chunk = _without_bom(chunk)
                total += len(chunk)
                if total > cap:
                    raise UnreadableFileError(
                        f"inflates past {cap:,} bytes ({limits.max_inflation}x its {len(data):,} bytes, "
                        "ingest.max_inflation): read no further"
                    )
                yield chunk
    except UnreadableFileError:
        raise
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise UnreadableFileError(f"cannot decompress: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # zstandard.ZstdError and friends
        raise UnreadableFileError(f"cannot decompress: {type(exc).__name__}") from None


def bounded_content(name: str, data: bytes, limits: ReadLimits) -> bytes:
    """A file's whole content (the formats framed as a whole: json, csv, text), within the inflation cap."""
    return b"".join(inflate(name, data, limits))


def bounded_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(1-based number, line, its length in bytes) of a chunked byte stream, split as `jsonl_lines` splits; the
    line is None when longer than `max_line_bytes`: its bytes are passed over, never held whole."""
    held: list[bytes] = []
    size, number, after_cr = 0, 0, False
    for chunk in chunks:
        if after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split between two chunks
        after_cr = chunk.endswith(b"\r")
        for piece in chunk.splitlines(keepends=True):
            ended = piece.endswith((b"\n", b"\r"))
            body = piece.rstrip(b"\r\n") if ended else piece
            size += len(body)
            if size <= max_line_bytes:
                held.append(body)
            elif held:
                held = []
            if ended:
                number += 1
                yield number, (b"".join(held) if size <= max_line_bytes else None), size
                held, size = [], 0
    if size or held:
        yield number + 1, (b"".join(held) if size <= max_line_bytes else None), size


def jsonl_stream(name: str, data: bytes, limits: ReadLimits) -> Iterator[tuple[int, bytes] | RawRecord]:
    """A JSONL file's lines as (number, bytes), read as a stream within `limits`; a line too long to hold comes
    as a `record_too_large` reject instead, and a fault that stops the reading (a broken or bomb-sized
    compressed stream) as one `unreadable_file` reject after the lines read before it."""
    last = 0
    try:
        for last, line, size in bounded_lines(inflate(name, data, limits), limits.max_line_bytes):
            yield (last, line) if line is not None else too_large_record(last, size, limits.max_line_bytes)
    except UnreadableFileError as exc:
        yield RawRecord(None, None, UNREADABLE_FILE.name, f"{exc} (after line {last})" if last else str(exc))


def too_large_record(number: int, size: int, max_line_bytes: int) -> RawRecord:
    """A line passed over for its length, as a `record_too_large` reject."""
    return RawRecord(number, None, RECORD_TOO_LARGE.name, f"line of {size:,} bytes > {max_line_bytes:,} read at most")


def nesting_depth(text: str) -> int:
    """How deep the JSON in `text` nests arrays and objects (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def too_deep_record(number: int | None, text: str) -> RawRecord | None:
    """`too_deep` when `text` nests deeper than MAX_DEPTH, else None (checked before any parser recurses)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH or (depth := nesting_depth(text)) <= MAX_DEPTH:
        return None
    return RawRecord(number, text, TOO_DEEP.name, f"nested {depth:,} levels deep > {MAX_DEPTH}")


def _without_bom(content: bytes) -> bytes:
    return content[len(UTF8_BOM) :] if content.startswith(UTF8_BOM) else content


def file_content(name: str, data: bytes) -> bytes:
    """A raw file's content: decompressed, without a leading UTF-8 byte order mark (an encoding marker, not
    content: a documented skip)."""
    return _without_bom(decompress(name, data))


def jsonl_lines(data: bytes) -> list[bytes]:
    """The lines of `data`, ended by `\n`, `\r\n` or a lone `\r` (old Mac files); the newline ending a file adds
    no line. JSON strings cannot hold a raw CR or LF, so splitting on either never cuts a valid record."""
    return data.splitlines()


def trailing_text_at(line: str) -> int | None:
    """Where text starts after the JSON value that opens `line` (None when nothing follows it or it is no
    valid JSON: the parser that types records says why then)."""
    start = len(line) - len(line.lstrip())
    try:
        _, end = _DECODER.raw_decode(line, start)
    except ValueError:
        return None
    rest = line[end:]
    return end + (len(rest) - len(rest.lstrip())) if rest.strip() else None


def trailing_text_record(number: int, line: str) -> RawRecord:
    """A JSONL line as a record, rejected as `too_deep` when nested too deep to parse, as `malformed_json` when
    text follows its JSON value."""
    if deep := too_deep_record(number, line):
        return deep
    at = trailing_text_at(line)
    if at is None:
        return RawRecord(number, line)
    return RawRecord(number, line, MALFORMED_JSON.name, f"text after the JSON value at character {at + 1}")


def line_record(number: int, raw: bytes) -> RawRecord:
    """One JSONL line; a line that is not valid UTF-8 is rejected as `invalid_utf8`."""
    try:
        return trailing_text_record(number, raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return RawRecord(number, raw.decode("utf-8", "replace"), INVALID_UTF8.name, f"byte {exc.start}: {exc.reason}")


def json_records(data: bytes) -> Iterator[RawRecord]:
    """A whole-file JSON array (one record per element, position = 1-based index) or a single object."""
    if not data.strip():
        return
    text = _decode_whole(data)
    if deep := too_deep_record(None, text):
        yield deep
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        yield RawRecord(None, text, MALFORMED_JSON.name, f"line {exc.lineno} column {exc.colno}: {exc.msg}")
        return
    elements = document if isinstance(document, list) else [document]
    for index, element in enumerate(elements, start=1):
        yield RawRecord(index, json.dumps(element, ensure_ascii=False))


def csv_reader(lines: Iterable[str], options: CsvOptions):
    """A `csv.reader` over `lines` in the source's dialect: the one framing ingest reads CSV rows with and
    forget's raw rewrite finds them by (quoted newlines allowed)."""
    return csv.reader(
        lines,
        delimiter=options.delimiter,
        quotechar=options.quote,
        escapechar=options.escape,
        doublequote=options.escape is None,
        strict=False,
    )


def csv_records(data: bytes, options: CsvOptions, encoding: str | None = None) -> Iterator[RawRecord]:
    """One record per CSV row (quoted newlines allowed), as a JSON object of column -> string.

    Position is the line where the row starts. Rows whose field count differs from the header are
    rejected as `ragged_row`; rows with undecodable bytes as `invalid_utf8` (or, with a configured
    `encoding`, `invalid_encoding`).
    """
    if not data:
        return
    name = encoding if encoding and encoding.lower() not in ("auto", "utf-8", "utf8") else None
    invalid = (
        (INVALID_ENCODING.name, f"row is not valid {name}") if name else (INVALID_UTF8.name, "row is not valid UTF-8")
    )
    try:
        text, valid_utf8 = data.decode(name or "utf-8"), True
    except UnicodeDecodeError:
        text, valid_utf8 = data.decode(name or "utf-8", "replace"), False
    except LookupError:
        yield RawRecord(None, None, INVALID_ENCODING.name, f"unknown encoding {encoding!r}")
        return
    reader = csv_reader(io.StringIO(text, newline=""), options)
    names = list(options.column_names)
    start = 1
    try:
        for row in reader:
            position, start = start, reader.line_num + 1
            if options.header and not names:
                names = row
                continue
            raw = options.delimiter.join(row)
            if not row or row == [""]:
                yield RawRecord(position, raw, EMPTY_LINE.name, "blank line")
            elif not valid_utf8 and "\ufffd" in raw:
                yield RawRecord(position, raw, *invalid)
            elif names and len(row) != len(names):
                yield RawRecord(position, raw, RAGGED_ROW.name, f"{len(row)} fields, header has {len(names)}")
            else:
                columns = names or [f"_c{i}" for i in range(len(row))]
                yield RawRecord(position, json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
    except csv.Error as exc:
        yield RawRecord(start, None, MALFORMED_CSV.name, str(exc))


def text_records(data: bytes, max_bytes: int, encoding: str | None = None) -> Iterator[RawRecord]:
    """The whole file is one document (`{"text": ...}`, with `{"meta": {"charset": ...}}` when it was not
    UTF-8), decoded as `refinery.io.charsets.decode_text` decodes a page; an empty file has none."""
    if not data:
        return
    if len(data) > max_bytes:
        yield too_large_record(1, len(data), max_bytes)
        return
    decoded = decode_text(data, encoding=encoding)
    if decoded.text is None:
        yield RawRecord(1, None, INVALID_ENCODING.name, decoded.failed)
        return
    record: dict = {"text": decoded.text}
    if decoded.found_by != "utf-8":
        record["meta"] = {"charset": f"{decoded.encoding} ({decoded.found_by})"}
    yield RawRecord(1, json.dumps(record, ensure_ascii=False))


def _decode_whole(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(f"not valid UTF-8 at byte {exc.start}") from None


def file_records(
    name: str,
    data: bytes,
    fmt: str,
    csv_options: CsvOptions | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    encoding: str | None = None,
) -> Iterator[RawRecord]:
    """All records of one file, read within `limits` (`text` and `csv` decoded with `encoding`); a file that
    cannot be read to its end yields one `unreadable_file` record after the records read before the fault."""
    if fmt not in ("jsonl", "json", "csv", "text"):
        raise ValueError(f"format {fmt} is not decoded from bytes")
    try:
        if fmt == "jsonl":
            for line in jsonl_stream(name, data, limits):
                yield line if isinstance(line, RawRecord) else line_record(*line)
            return
        content = bounded_content(name, data, limits)
        if fmt == "json":
            yield from json_records(content)
        elif fmt == "csv":
            yield from csv_records(content, csv_options or CsvOptions(), encoding)
        else:
            yield from text_records(content, limits.max_line_bytes, encoding)
    except UnreadableFileError as exc:
        yield RawRecord(None, None, UNREADABLE_FILE.name, str(exc))
