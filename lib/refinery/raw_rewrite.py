"""Forgetting in raw files: the records of a forgotten subject are blanked in place, so no byte of them stays.

A record is matched the way ingest would see it (`refinery.transforms.forgotten.row_hashes`): by its id, or
without one the id ingest hashes from the file's lineage name and position; its URL; its meta entries (meta
object plus undeclared fields, as strings); and the words of the whole record. Positions never move, so the
lineage of the records kept in bronze stays true:
- JSONL (plain or compressed, as the file's own name says): the line is emptied, its newline kept;
- Parquet: every column of the row is set to null (a re-ingest would reject it as `missing_field`).
The new file replaces the old one atomically, through a hidden staging name no ingest lists.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from refinery.deletion import Tombstones
from refinery.io.decode import compress, decompress
from refinery.transforms.forgotten import row_hashes
from refinery.transforms.params import RecordFields
from refinery.transforms.pii import lineage_safe


def matches(
    record: dict | None, whole: str, name: str, position: int, fields: RecordFields, tombstones: Tombstones, key: bytes
) -> bool:
    """Whether a raw record (parsed, or None when it is not an object) at 1-based `position` of the file with
    lineage name `name` holds a forgotten subject; `whole` is its full text."""
    doc_id = url = meta = None
    if isinstance(record, dict):
        given = record.get(fields.id)
        given = str(given).strip() if isinstance(given, (str, int)) and not isinstance(given, bool) else ""
        doc_id = lineage_safe(given) if given else hashlib.sha256(f"{name}:{position}".encode()).hexdigest()[:32]
        url = record.get(fields.url) if isinstance(record.get(fields.url), str) else None
        meta = _meta_as_ingested(record, fields)
    hashes = row_hashes(key, doc_id, url, meta, [whole], tombstones.ngram_sizes)
    return any(h in tombstones.hashes for h in hashes)


def empty_matching_lines(
    data: bytes, name: str, fields: RecordFields, tombstones: Tombstones, key: bytes
) -> tuple[bytes, int]:
    """A JSONL file's content (decompressed) with every line that holds a forgotten subject emptied, and how
    many lines were emptied."""
    lines = data.split(b"\n")
    emptied = 0
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        text = raw.decode("utf-8", "replace")
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if matches(record, text, name, index + 1, fields, tombstones, key):
            lines[index] = b""
            emptied += 1
    return b"\n".join(lines), emptied


def rewrite_jsonl_file(path: Path, name: str, fields: RecordFields, tombstones: Tombstones, key: bytes) -> int:
    """Empty the matching lines of a local JSONL raw file; `name` is its lineage name. Returns the lines emptied
    (0: the file is left as it was)."""
    content, emptied = empty_matching_lines(decompress(path.name, path.read_bytes()), name, fields, tombstones, key)
    if emptied:
        _replace(path, lambda staging: staging.write_bytes(compress(path.name, content)))
    return emptied


def rewrite_parquet_file(path: Path, name: str, fields: RecordFields, tombstones: Tombstones, key: bytes) -> int:
    """Null every column of the matching rows of a local Parquet raw file. Returns the rows blanked."""
    table = pq.read_table(path)
    rows = table.to_pylist(maps_as_pydicts="strict")  # a meta map reads as a dict, as Spark's JSON of it
    blank = [
        matches(row, json.dumps(row, default=str, ensure_ascii=False), name, index + 1, fields, tombstones, key)
        for index, row in enumerate(rows)
    ]
    if not any(blank):
        return 0
    schema = pa.schema([f.with_nullable(True) for f in table.schema])
    columns = [
        pa.array(
            [None if gone else value for value, gone in zip(table.column(i).to_pylist(), blank, strict=True)], f.type
        )
        for i, f in enumerate(schema)
    ]
    _replace(path, lambda staging: pq.write_table(pa.Table.from_arrays(columns, schema=schema), staging))
    return sum(blank)


REWRITERS: dict[str, Callable[[Path, str, RecordFields, Tombstones, bytes], int]] = {
    "jsonl": rewrite_jsonl_file,
    "parquet": rewrite_parquet_file,
}  # raw formats whose matching records forget blanks; files of other formats are reported, not rewritten


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    staging = path.with_name(f".{path.name}.forget")  # a hidden name: no ingest ever lists it
    write(staging)
    os.replace(staging, path)


def _meta_as_ingested(record: dict, fields: RecordFields) -> dict[str, str]:
    """A raw record's meta as bronze holds it: its meta object, plus fields beyond the named ones."""
    named = {fields.id, fields.text, fields.url, fields.source, fields.meta}
    given = record.get(fields.meta) if isinstance(record.get(fields.meta), dict) else {}
    extra = {k: v for k, v in record.items() if k not in named and k not in given}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in {**given, **extra}.items() if v is not None}
