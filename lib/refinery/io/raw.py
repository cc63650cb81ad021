"""Read raw files into records, distributed: one row per record with its file and position.

Byte formats (jsonl, json, csv, text; optionally compressed) are read with Spark's `binaryFile`
source and framed by `refinery.io.decode` inside `mapInArrow`, so a corrupt file becomes one
`unreadable_file` reject instead of a failed job; WARC is read by the `warc` Python data source.
These readers return RAW_RECORD columns:
`_file` (path relative to the source root), `_line` (position), `value` (the record as a JSON
object string), `_reject_rule`, `_reject_detail` (set when the record is already known to be bad).
Parquet keeps its own typed columns (`read_parquet_rows`), with the same `_file` and `_line`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from refinery.io.decode import (
    DEFAULT_LIMITS,
    MAX_DEPTH,
    CsvOptions,
    RawRecord,
    ReadLimits,
    file_records,
    jsonl_stream,
    line_record,
    trailing_text_record,
)
from refinery.paths import below_or_absolute, is_local, normalize
from refinery.rejects import EMPTY_MESSAGE

RAW_RECORD_SCHEMA = "_file string, _line bigint, value string, _reject_rule string, _reject_detail string"
_RAW_COLUMNS = ("_file", "_line", "value", "_reject_rule", "_reject_detail")
BYTE_FORMATS = ("jsonl", "json", "csv", "text")
_BATCH_ROWS = 4096
_BATCH_BYTES = 64 << 20  # a batch of lines is also cut at this many bytes
_EMPTY_MESSAGE = (EMPTY_MESSAGE.name, "the message has no value")  # rule, detail
# Read options for raw files: every file below the folder (the caller picks them by path), local files
# without the checksum file system, and files that vanish or break after listing skipped (then reported).
_ROBUST_READ = {
    "recursiveFileLookup": "true",
    "ignoreMissingFiles": "true",
    "ignoreCorruptFiles": "true",
    "fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "fs.file.impl.disable.cache": "true",
}


def read_records(
    spark: SparkSession,
    files: Sequence[str],
    *,
    root: str,
    fmt: str,
    folder: str | None = None,
    csv_options: CsvOptions | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    encoding: str | None = None,
    check_digests: bool = False,
) -> DataFrame:
    """Records of the given files (full paths as `refinery.io.listing` lists them, below `folder`, by default
    `root`) in RAW_RECORD columns.

    The folder is scanned and the files are picked by a `path IN (...)` filter that Spark pushes into the
    scan: handing Spark the paths themselves would parse them as globs (`[`, `{`, `:` break that). Local
    files are read without Hadoop's checksum layer, which fails on names holding a colon. A file that
    vanishes or cannot be opened after it was listed yields no rows; the ingest stage reports it. Files are
    decompressed and framed within `limits`; `text` and `csv` files and WARC payloads are decoded with
    `encoding` (None: UTF-8 for csv, the charset chain of `refinery.io.charsets` for text and WARC), WARC digests
    checked with `check_digests`.
    """
    if not files:
        return spark.createDataFrame([], RAW_RECORD_SCHEMA)
    if fmt == "warc":
        return _warc_records(spark, files, root, limits, encoding, check_digests)
    if fmt not in BYTE_FORMATS:
        raise ValueError(f"raw format '{fmt}' has no record reader (known: {', '.join((*BYTE_FORMATS, 'warc'))})")
    reader = spark.read.format("binaryFile").options(**_ROBUST_READ)
    contents = reader.load(folder or root).where(F.col("path").isin(list(files))).select("path", "content")
    return contents.mapInArrow(_frame_records(fmt, root, csv_options, limits, encoding), RAW_RECORD_SCHEMA)


def _frame_records(fmt: str, root: str, csv_options: CsvOptions | None, limits: ReadLimits, encoding: str | None):
    """A mapInArrow function: binaryFile batches (path, content) -> RAW_RECORD batches."""

    def frame(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending: list[tuple[str, RawRecord]] = []
        for batch in batches:
            for path, content in zip(
                batch.column("path").to_pylist(), batch.column("content").to_pylist(), strict=True
            ):
                name = below_or_absolute(path, root)
                if fmt == "jsonl":
                    yield from _jsonl_batches(name, content or b"", limits)
                    continue
                for record in file_records(name, content or b"", fmt, csv_options, limits, encoding):
                    pending.append((name, record))
                    if len(pending) >= _BATCH_ROWS:
                        yield _to_batch(pending)
                        pending = []
        if pending:
            yield _to_batch(pending)

    return frame


def _jsonl_batches(name: str, content: bytes, limits: ReadLimits) -> Iterator[pa.RecordBatch]:
    """A JSONL file's lines (`jsonl_stream`) as RAW_RECORD batches of at most _BATCH_ROWS lines or about
    _BATCH_BYTES bytes (positions are line numbers), its rejects after them."""
    numbers: list[int] = []
    lines: list[bytes] = []
    odd: list[tuple[str, RawRecord]] = []
    size = 0
    for line in jsonl_stream(name, content, limits):
        if isinstance(line, RawRecord):
            odd.append((name, line))
            continue
        numbers.append(line[0])
        lines.append(line[1])
        size += len(line[1])
        if len(lines) >= _BATCH_ROWS or size >= _BATCH_BYTES:
            yield _lines_batch(name, numbers, lines)
            numbers, lines, size = [], [], 0
    if lines:
        yield _lines_batch(name, numbers, lines)
    if odd:
        yield _to_batch(odd)


def _lines_batch(name: str, numbers: list[int], lines: list[bytes]) -> pa.RecordBatch:
    return json_lines_batch(pa.array([name] * len(lines), pa.string()), pa.array(numbers, pa.int64()), pa.array(lines))


def json_lines_batch(names: pa.Array, positions: pa.Array, lines: pa.Array) -> pa.RecordBatch:
    """One JSON object per line (a JSONL line, a Kafka message's value) as a RAW_RECORD batch, validated and
    converted by Arrow; only a batch holding a line that is not valid UTF-8 is framed line by line, to name
    that line. A null line (a message without a value) is rejected as `empty_message`."""
    try:
        values = lines.cast(pa.string())
    except pa.ArrowInvalid:
        records = [
            (name, line_record(position, raw) if raw is not None else RawRecord(position, None, *_EMPTY_MESSAGE))
            for name, position, raw in zip(names.to_pylist(), positions.to_pylist(), lines.to_pylist(), strict=True)
        ]
        return _to_batch(records)
    rules, details = _line_flags(values)
    if values.null_count:
        absent = pc.is_null(values)
        rules = pc.if_else(absent, _EMPTY_MESSAGE[0], rules)
        details = pc.if_else(absent, _EMPTY_MESSAGE[1], details)
    return pa.RecordBatch.from_arrays([names, positions, values, rules, details], names=list(_RAW_COLUMNS))


# A JSON object ends in `}`; inside one, `}` is followed by space, `,`, `]`, `}` or the end. A line that
# breaks either may have text after its value: only those lines are parsed in Python to be sure.
_AFTER_CLOSE = r"\}\s*[^\s,\]\}]"


def _line_flags(values: pa.StringArray) -> tuple[pa.Array, pa.Array]:
    """(rule, detail) arrays: `too_deep` for lines nested too deep to parse, `malformed_json` for lines with text
    after their JSON value, else null. Only lines that may be either are looked at in Python."""
    suspect = pc.or_(
        pc.or_(
            pc.invert(pc.ends_with(pc.utf8_rtrim_whitespace(values), "}")),
            pc.match_substring_regex(values, _AFTER_CLOSE),
        ),
        pc.greater(pc.count_substring_regex(values, r"[\[{]"), MAX_DEPTH),
    )
    rules: list[str | None] = [None] * len(values)
    details: list[str | None] = [None] * len(values)
    for index in pc.indices_nonzero(pc.fill_null(suspect, False)).to_pylist():
        record = trailing_text_record(0, values[index].as_py())
        rules[index], details[index] = record.rule, record.detail
    if not any(rules):
        return pa.nulls(len(values), pa.string()), pa.nulls(len(values), pa.string())
    return pa.array(rules, pa.string()), pa.array(details, pa.string())


def _to_batch(records: list[tuple[str, RawRecord]]) -> pa.RecordBatch:
    """(file name, record) pairs as one RAW_RECORD batch."""
    return pa.RecordBatch.from_arrays(
        [
            pa.array([name for name, _ in records], pa.string()),
            pa.array([r.position for _, r in records], pa.int64()),
            pa.array([r.value for _, r in records], pa.string()),
            pa.array([r.rule for _, r in records], pa.string()),
            pa.array([r.detail for _, r in records], pa.string()),
        ],
        names=list(_RAW_COLUMNS),
    )


def read_parquet_rows(spark: SparkSession, files: Sequence[str], *, root: str) -> DataFrame:
    """Parquet rows with their own typed columns, plus `_file` (relative path) and `_line` (row index + 1).

    Parquet is already typed, so its rows skip the JSON framing: `refinery.transforms.records.type_columns`
    checks their column types directly.
    """
    df = spark.read.parquet(*files)
    return df.select(
        relative_path_column(F.col("_metadata.file_path"), root).alias("_file"),
        (F.col("_metadata.row_index") + 1).alias("_line"),
        *[F.col(f"`{name}`") for name in df.columns],
    )


def _warc_records(
    spark: SparkSession, files: Sequence[str], root: str, limits: ReadLimits, encoding: str | None, check_digests: bool
) -> DataFrame:
    """WARC/WET/ARC document records as `{"id", "text", "url", "meta"}` objects; position = the record's byte
    offset; a rejected record keeps its rule and detail."""
    from refinery.io.warc import META_FIELDS, WarcDataSource

    spark.dataSource.register(WarcDataSource)
    options = {
        "paths": json.dumps(list(files)),
        "check_digests": str(check_digests).lower(),
        "max_record_bytes": str(limits.max_line_bytes),
        "max_inflation": str(limits.max_inflation),
        "encoding": encoding or "",
    }
    warc = spark.read.format("warc").options(**options).load()
    pairs = [part for key, column in META_FIELDS.items() for part in (F.lit(key), F.col(column).cast("string"))]
    meta = F.map_filter(F.create_map(*pairs), lambda _key, value: value.isNotNull())
    record = F.struct(F.col("record_id").alias("id"), F.col("payload").alias("text"), F.col("url"), meta.alias("meta"))
    rejected = F.col("rule").isNotNull()
    return warc.select(
        relative_path_column(F.col("path"), root).alias("_file"),
        F.col("offset").alias("_line"),
        F.when(~rejected, F.to_json(record)).alias("value"),
        F.col("rule").alias("_reject_rule"),
        F.col("detail").alias("_reject_detail"),
    )


def relative_path_column(path: Column, root: str) -> Column:
    """The Column version of `refinery.paths.below_or_absolute`: the path below `root`, else the path."""
    prefix = normalize(root).rstrip("/") + "/"
    plain = F.regexp_replace(path, r"^file:(//)?", "") if is_local(root) else path
    return F.when(plain.startswith(prefix), plain.substr(len(prefix) + 1, 1 << 30)).otherwise(path)
