"""Read raw line-oriented files (JSONL) into one row per line, with the file and 1-based line number."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from refinery.errors import InputNotFoundError


class RawPathError(InputNotFoundError):
    """The raw input path is missing or unreadable."""


def read_lines(spark: SparkSession, path: str, *, glob: str) -> DataFrame:
    """One row per line of every file under `path` matching `glob` (recursively).

    Columns: `_file` (path relative to `path`), `_line` (bigint, 1-based), `value` (the line without
    its line ending). The newline that ends a file does not make an extra empty line, so an empty
    file yields no rows. Compressed files (.gz, .bz2) are decompressed by extension.

    Each file is read whole (`wholetext`), which gives exact line numbers without a shuffle;
    a single file must therefore fit in an executor's memory (< 2 GB).
    """
    check_raw_path(path)
    files = (
        spark.read.format("text")
        .option("wholetext", True)
        .option("recursiveFileLookup", True)
        .option("pathGlobFilter", glob)
        .load(path)
        .select(F.col("_metadata.file_path").alias("_path"), F.split("value", "\n").alias("_lines"))
    )
    lines = files.select(
        relative_to(F.col("_path"), path).alias("_file"),
        F.posexplode("_lines").alias("_pos", "value"),
        F.size("_lines").alias("_n"),
    )
    is_final_newline = (F.col("_pos") == F.col("_n") - 1) & (F.col("value") == "")
    return lines.where(~is_final_newline).select(
        "_file",
        (F.col("_pos") + 1).cast("bigint").alias("_line"),
        F.regexp_replace("value", r"\r$", "").alias("value"),
    )


def check_raw_path(path: str) -> None:
    """Fail with one clear line when a local raw path does not exist (remote paths are checked by Spark)."""
    if "://" in path and not path.startswith("file:"):
        return
    local = Path(path.removeprefix("file:"))
    if not local.exists():
        raise RawPathError(f"raw path {path} does not exist; run `make run` to seed the sample or set ingest.path")
    if not local.is_dir() and not local.is_file():
        raise RawPathError(f"raw path {path} is not a file or folder")


def relative_to(file_uri: Column, root: str) -> Column:
    """`file_uri` relative to `root` (e.g. 'file:/lake/raw/p/a/b.jsonl' -> 'a/b.jsonl'); unchanged elsewhere."""
    marker = root.removeprefix("file:").rstrip("/") + "/"
    start = F.instr(file_uri, marker)
    relative = file_uri.substr(start + F.lit(len(marker)), F.lit(1 << 30))
    return F.when(start > 0, relative).otherwise(file_uri)
