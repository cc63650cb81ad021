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
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from refinery.config.sources import CsvOptions
from refinery.rejects import EMPTY_LINE, INVALID_UTF8, MALFORMED_CSV, MALFORMED_JSON, RAGGED_ROW, UNREADABLE_FILE

_DECODER = json.JSONDecoder()


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


def file_content(name: str, data: bytes) -> bytes:
    """A raw file's content: decompressed, without a leading UTF-8 byte order mark (an encoding marker, not
    content: a documented skip)."""
    content = decompress(name, data)
    return content[len(UTF8_BOM) :] if content.startswith(UTF8_BOM) else content


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
    """A JSONL line as a record, rejected as `malformed_json` when text follows its JSON value."""
    at = trailing_text_at(line)
    if at is None:
        return RawRecord(number, line)
    return RawRecord(number, line, MALFORMED_JSON.name, f"text after the JSON value at character {at + 1}")


def split_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for each line of `data` (see `jsonl_lines`)."""
    return enumerate(jsonl_lines(data), start=1)


def line_record(number: int, raw: bytes) -> RawRecord:
    """One JSONL line; a line that is not valid UTF-8 is rejected as `invalid_utf8`."""
    try:
        return trailing_text_record(number, raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return RawRecord(number, raw.decode("utf-8", "replace"), INVALID_UTF8.name, f"byte {exc.start}: {exc.reason}")


def jsonl_records(data: bytes) -> Iterator[RawRecord]:
    """One record per line; a line that is not valid UTF-8 is rejected as `invalid_utf8`."""
    for number, raw in split_lines(data):
        yield line_record(number, raw)


def json_records(data: bytes) -> Iterator[RawRecord]:
    """A whole-file JSON array (one record per element, position = 1-based index) or a single object."""
    if not data.strip():
        return
    text = _decode_whole(data)
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


def csv_records(data: bytes, options: CsvOptions) -> Iterator[RawRecord]:
    """One record per CSV row (quoted newlines allowed), as a JSON object of column -> string.

    Position is the line where the row starts. Rows whose field count differs from the header are
    rejected as `ragged_row`; rows with undecodable bytes as `invalid_utf8`.
    """
    if not data:
        return
    try:
        text, valid_utf8 = data.decode("utf-8"), True
    except UnicodeDecodeError:
        text, valid_utf8 = data.decode("utf-8", "replace"), False
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
                yield RawRecord(position, raw, INVALID_UTF8.name, "row is not valid UTF-8")
            elif names and len(row) != len(names):
                yield RawRecord(position, raw, RAGGED_ROW.name, f"{len(row)} fields, header has {len(names)}")
            else:
                columns = names or [f"_c{i}" for i in range(len(row))]
                yield RawRecord(position, json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
    except csv.Error as exc:
        yield RawRecord(start, None, MALFORMED_CSV.name, str(exc))


def text_records(data: bytes) -> Iterator[RawRecord]:
    """The whole file is one document (`{"text": ...}`); an empty file has none."""
    if not data:
        return
    try:
        yield RawRecord(1, json.dumps({"text": data.decode("utf-8")}, ensure_ascii=False))
    except UnicodeDecodeError as exc:
        yield RawRecord(1, None, INVALID_UTF8.name, f"byte {exc.start}: {exc.reason}")


def _decode_whole(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(f"not valid UTF-8 at byte {exc.start}") from None


def file_records(name: str, data: bytes, fmt: str, csv_options: CsvOptions | None = None) -> Iterator[RawRecord]:
    """All records of one file; a file that cannot be read at all yields one `unreadable_file` record."""
    try:
        content = file_content(name, data)
        if fmt == "jsonl":
            yield from jsonl_records(content)
        elif fmt == "json":
            yield from json_records(content)
        elif fmt == "csv":
            yield from csv_records(content, csv_options or CsvOptions())
        elif fmt == "text":
            yield from text_records(content)
        else:
            raise ValueError(f"format {fmt} is not decoded from bytes")
    except UnreadableFileError as exc:
        yield RawRecord(None, None, UNREADABLE_FILE.name, str(exc))
