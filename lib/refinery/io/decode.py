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
from collections.abc import Iterator
from dataclasses import dataclass

from refinery.errors import ParameterError

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zst", ".zstd", ".xz")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class RawRecord:
    position: int | None
    value: str | None
    rule: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class CsvOptions:
    """How CSV sources are framed. Without a header, `column_names` names the columns (else _c0, _c1 ...)."""

    header: bool = True
    delimiter: str = ","
    quote: str = '"'
    escape: str | None = None
    column_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in ("delimiter", "quote"):
            if len(getattr(self, key)) != 1:
                raise ParameterError(key, f"must be one character, got {getattr(self, key)!r}")


class UnreadableFileError(ValueError):
    """The file cannot be decompressed or decoded as a whole."""


def decompress(name: str, data: bytes) -> bytes:
    """Decompress by file suffix; a 0-byte compressed file is empty, a truncated one is unreadable."""
    lower = name.lower()
    if not lower.endswith(COMPRESSED_SUFFIXES) or not data:
        return data
    try:
        if lower.endswith(".gz"):
            return gzip.decompress(data)
        if lower.endswith(".bz2"):
            return bz2.decompress(data)
        if lower.endswith(".xz"):
            return lzma.decompress(data)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise UnreadableFileError(f"cannot decompress: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # zstandard.ZstdError and friends
        raise UnreadableFileError(f"cannot decompress: {type(exc).__name__}") from None


def compress(name: str, data: bytes) -> bytes:
    """Compress by file suffix, the way `decompress` reads it back (no suffix: as is)."""
    lower = name.lower()
    if lower.endswith(".gz"):
        return gzip.compress(data)
    if lower.endswith(".bz2"):
        return bz2.compress(data)
    if lower.endswith(".xz"):
        return lzma.compress(data)
    if lower.endswith((".zst", ".zstd")):
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


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
    return RawRecord(number, line, "malformed_json", f"text after the JSON value at character {at + 1}")


def split_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for each line of `data` (see `jsonl_lines`)."""
    return enumerate(jsonl_lines(data), start=1)


def line_record(number: int, raw: bytes) -> RawRecord:
    """One JSONL line; a line that is not valid UTF-8 is rejected as `invalid_utf8`."""
    try:
        return trailing_text_record(number, raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return RawRecord(number, raw.decode("utf-8", "replace"), "invalid_utf8", f"byte {exc.start}: {exc.reason}")


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
        yield RawRecord(None, text, "malformed_json", f"line {exc.lineno} column {exc.colno}: {exc.msg}")
        return
    elements = document if isinstance(document, list) else [document]
    for index, element in enumerate(elements, start=1):
        yield RawRecord(index, json.dumps(element, ensure_ascii=False))


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
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=options.delimiter,
        quotechar=options.quote,
        escapechar=options.escape,
        doublequote=options.escape is None,
        strict=False,
    )
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
                yield RawRecord(position, raw, "empty_line", "blank line")
            elif not valid_utf8 and "\ufffd" in raw:
                yield RawRecord(position, raw, "invalid_utf8", "row is not valid UTF-8")
            elif names and len(row) != len(names):
                yield RawRecord(position, raw, "ragged_row", f"{len(row)} fields, header has {len(names)}")
            else:
                columns = names or [f"_c{i}" for i in range(len(row))]
                yield RawRecord(position, json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
    except csv.Error as exc:
        yield RawRecord(start, None, "malformed_csv", str(exc))


def text_records(data: bytes) -> Iterator[RawRecord]:
    """The whole file is one document (`{"text": ...}`); an empty file has none."""
    if not data:
        return
    try:
        yield RawRecord(1, json.dumps({"text": data.decode("utf-8")}, ensure_ascii=False))
    except UnicodeDecodeError as exc:
        yield RawRecord(1, None, "invalid_utf8", f"byte {exc.start}: {exc.reason}")


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
        yield RawRecord(None, None, "unreadable_file", str(exc))
