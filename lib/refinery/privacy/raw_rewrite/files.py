"""Blanking a forgotten subject's records in raw files of the line, document and table formats.

A record is matched the way ingest would see it (`refinery.transforms.forgotten.row_hashes`): by its id, or
without one the id ingest hashes from the file's lineage name and position; its URL; its meta entries (meta
object plus undeclared fields, as strings); and the words of its text and of the whole record. Positions
never move, so the lineage of the records kept in bronze stays true:
- JSONL: the line is emptied, its line ending kept;
- CSV: every line of the row is emptied, so later rows start on the same line numbers;
- JSON (an array): the element becomes `null`; a file that is one matching object is emptied;
- text (one document per file): the file is emptied;
- Parquet: every column of the row is set to null (a re-ingest would reject it as `missing_field`).
Compressed files are read and written back as their own name says. The new file replaces the old one
atomically, through a hidden staging name no ingest lists.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from refinery.config import SourceConfig
from refinery.io.charsets import decode_text
from refinery.io.decode import compress, csv_reader, file_content
from refinery.privacy.deletion import Tombstones
from refinery.transforms.forgotten import row_matches
from refinery.transforms.params import RecordFields
from refinery.transforms.pii import lineage_safe


class CannotRewriteError(Exception):
    """The file may hold a match but cannot be rewritten with every other record's position kept."""


@dataclass
class RawMatcher:
    """What forget blanks in raw files: a record that matches a tombstone the way ingest would see it, or that
    holds one of this run's literals (request hash -> literal, in memory only) as a substring. It counts the
    records each request matched; with `write` off (a dry run) files are read, never rewritten."""

    tombstones: Tombstones
    key: bytes
    literals: Mapping[str, str] = field(default_factory=dict)
    write: bool = True
    hits: Counter = field(default_factory=Counter)

    def matches(
        self, record: dict | None, whole: str, name: str, position: int, fields: RecordFields, *, count: bool = True
    ) -> bool:
        """Whether a raw record (parsed, or None when it is not an object) at `position` of the file with lineage
        name `name` holds a forgotten subject; `whole` is its full text as the file holds it."""
        doc_id = url = meta = text = None
        if isinstance(record, dict):
            given = record.get(fields.id)
            given = str(given).strip() if isinstance(given, (str, int)) and not isinstance(given, bool) else ""
            doc_id = lineage_safe(given) if given else hashlib.sha256(f"{name}:{position}".encode()).hexdigest()[:32]
            url = record.get(fields.url) if isinstance(record.get(fields.url), str) else None
            meta = _meta_as_ingested(record, fields)
            text = record.get(fields.text) if isinstance(record.get(fields.text), str) else None  # unescaped
        tombstones = self.tombstones
        found = row_matches(
            self.key, doc_id, url, meta, [whole, text], tombstones.ngram_sizes, tombstones.hashes, self.literals
        )
        if count:
            self.hits.update(found)
        return bool(found)


def rewrite_jsonl_file(path: Path, name: str, source: SourceConfig, matcher: RawMatcher) -> int:
    """Empty the matching lines of a JSONL raw file; `name` is its lineage name. Returns the records blanked
    (0: the file is left as it was)."""
    lines = file_content(path.name, path.read_bytes()).splitlines(keepends=True)  # the line ends ingest splits
    blank = []
    for index, raw in enumerate(lines):
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if text.strip() and matcher.matches(_parsed(text), text, name, index + 1, source.fields):
            blank.append(index)
    return _write_blanked(path, lines, blank, matcher.write)


def rewrite_csv_file(path: Path, name: str, source: SourceConfig, matcher: RawMatcher) -> int:
    """Empty every line of the matching rows of a CSV raw file (a row may span lines inside quotes)."""
    encoding = source.encoding if source.encoding and source.encoding.lower() != "auto" else "utf-8"
    text = file_content(path.name, path.read_bytes()).decode(encoding, "surrogateescape")  # written back as read
    lines = list(io.StringIO(text, newline=""))  # the physical lines csv.reader counts
    options = source.csv
    reader = csv_reader(iter(lines), options)  # ingest's dialect: the rows it read are the rows found here
    names, start, blank, rows = list(options.column_names), 0, [], 0
    try:
        for row in reader:
            first, start = start, reader.line_num
            if options.header and not names:
                names = row
                continue
            record = dict(zip(names or [f"_c{i}" for i in range(len(row))], row, strict=False))
            whole = "".join(lines[first:start])
            if whole.strip() and matcher.matches(record, whole, name, first + 1, source.fields):
                blank += range(first, start)
                rows += 1
    except csv.Error:
        raise CannotRewriteError("the CSV cannot be parsed to its end") from None
    _write_blanked(path, [line.encode(encoding, "surrogateescape") for line in lines], blank, matcher.write)
    return rows


def rewrite_json_file(path: Path, name: str, source: SourceConfig, matcher: RawMatcher) -> int:
    """Null the matching elements of a JSON array file; empty a file that is one matching object."""
    content = file_content(path.name, path.read_bytes())
    if not content.strip():
        return 0
    try:
        document = json.loads(content.decode("utf-8"))
    except ValueError:
        raise CannotRewriteError("the file is not valid JSON") from None
    elements = document if isinstance(document, list) else [document]
    blank = [
        index
        for index, element in enumerate(elements)
        if matcher.matches(element, json.dumps(element, ensure_ascii=False), name, index + 1, source.fields)
    ]
    if not blank or not matcher.write:
        return len(blank)
    if not isinstance(document, list):
        _replace(path, lambda staging: staging.write_bytes(b""))
        return 1
    gone = set(blank)
    kept = [None if index in gone else element for index, element in enumerate(elements)]
    out = "[\n" + ",\n".join(json.dumps(element, ensure_ascii=False) for element in kept) + "\n]\n"
    _replace(path, lambda staging: staging.write_bytes(compress(path.name, out.encode())))
    return len(blank)


def rewrite_text_file(path: Path, name: str, source: SourceConfig, matcher: RawMatcher) -> int:
    """Empty a text raw file (one document, decoded as ingest decodes it) that holds a subject; an empty file
    yields no record."""
    content = file_content(path.name, path.read_bytes())
    text = decode_text(content, encoding=source.encoding).text or content.decode("utf-8", "replace")
    if not text or not matcher.matches({"text": text}, text, name, 1, source.fields):
        return 0
    if matcher.write:
        _replace(path, lambda staging: staging.write_bytes(b""))
    return 1


def rewrite_parquet_file(path: Path, name: str, source: SourceConfig, matcher: RawMatcher) -> int:
    """Null every column of the matching rows of a Parquet raw file, one row group at a time (memory holds one
    row group, and the file keeps its row groups). Returns the rows blanked."""
    parquet = pq.ParquetFile(path)
    schema = pa.schema([f.with_nullable(True) for f in parquet.schema_arrow], metadata=parquet.schema_arrow.metadata)
    staging = path.with_name(f".{path.name}.forget")
    try:
        blanked = _blank_row_groups(parquet, staging, schema, name, source, matcher)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    if blanked and matcher.write:
        os.replace(staging, path)
    else:
        staging.unlink()
    return blanked


def _blank_row_groups(
    parquet: pq.ParquetFile,
    staging: Path,
    schema: pa.Schema,
    name: str,
    source: SourceConfig,
    matcher: RawMatcher,
) -> int:
    """Copy `parquet` to `staging` row group by row group, the matching rows nulled; returns how many."""
    blanked, position = 0, 0
    codec = parquet.metadata.row_group(0).column(0).compression if parquet.num_row_groups else "SNAPPY"
    with pq.ParquetWriter(staging, schema, compression="none" if codec == "UNCOMPRESSED" else codec) as writer:
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group).cast(schema)
            rows = table.to_pylist(maps_as_pydicts="strict")  # a meta map reads as a dict, as Spark's JSON of it
            blank = [
                matcher.matches(row, _row_text(row), name, position + index + 1, source.fields)
                for index, row in enumerate(rows)
            ]
            position += len(rows)
            if any(blank):
                blanked += sum(blank)
                keep = pa.array([not gone for gone in blank])
                table = pa.Table.from_arrays(
                    [pc.if_else(keep, column, pa.scalar(None, column.type)) for column in table.columns],
                    schema=schema,
                )
            writer.write_table(table)
    return blanked


def replace_file(path: Path, content: bytes) -> None:
    """Write `content` as `path`, atomically."""
    _replace(path, lambda staging: staging.write_bytes(content))


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    staging = path.with_name(f".{path.name}.forget")  # a hidden name: no ingest ever lists it
    write(staging)
    os.replace(staging, path)


def _write_blanked(path: Path, lines: list[bytes], blank: list[int], write: bool) -> int:
    """Write the file back (when `write`) with the lines at `blank` reduced to their line ending; returns how many."""
    if not blank or not write:
        return len(blank)
    for index in blank:
        line = lines[index]
        lines[index] = line[len(line.rstrip(b"\r\n")) :]
    replace_file(path, compress(path.name, b"".join(lines)))
    return len(blank)


def _row_text(row: dict) -> str:
    return json.dumps(row, default=str, ensure_ascii=False)


def _parsed(text: str) -> dict | None:
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _meta_as_ingested(record: dict, fields: RecordFields) -> dict[str, str]:
    """A raw record's meta as bronze holds it: its meta object, plus fields beyond the named ones."""
    named = set(fields.named().values())
    given = record.get(fields.meta) if isinstance(record.get(fields.meta), dict) else {}
    extra = {k: v for k, v in record.items() if k not in named and k not in given}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in {**given, **extra}.items() if v is not None}
