"""List a source's raw files ourselves, so that nothing under it goes unseen; check that local inputs exist.

Spark's file listing silently leaves out names starting with `_` or `.` (and 0-byte files from scans).
Refinery lists every file below a source folder: local folders (`/path`, `file:/path`, FUSE mounts such
as `/dbfs` or `/Volumes`) with `os.walk`, other schemes through Hadoop's FileSystem on the driver. The
ingest stage then decides per file: ingest it, or skip it with a reason the run reports and logs.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from refinery.errors import InputNotFoundError
from refinery.paths import as_uri, is_local, local_path, shown

if TYPE_CHECKING:  # imported without Spark: the CLI checks raw paths before the JVM starts
    from pyspark.sql import SparkSession


class RawPathError(InputNotFoundError):
    """The raw input path is missing or unreadable."""


@dataclass(frozen=True)
class ListedFile:
    """One file below a source folder: its full path (as Spark's `path` column spells it), size and age."""

    path: str
    length: int
    modified_at: datetime
    hidden: bool  # a name below the folder starts with `_` or `.`: Spark's readers never open such files


def check_raw_path(path: str) -> None:
    """Fail with one clear line when a local raw path does not exist, or is a file (remote paths are checked when
    listed): a source's path names a folder, and its glob picks the files in it."""
    if not is_local(path):
        return
    local = Path(local_path(path))
    if not local.exists():
        raise RawPathError(
            f"raw path {shown(path)} does not exist; run `make run` to seed the sample or set the source path"
        )
    if not local.is_dir():
        raise RawPathError(f"raw path {shown(path)} is a file: point the source's path at its folder (glob: its name)")


def check_eval_set(name: str, location: str) -> None:
    """A local eval-set path must exist (a URI is checked when Spark reads it)."""
    if is_local(location) and not Path(local_path(location)).exists():
        raise InputNotFoundError(f"eval set '{name}': path {location} does not exist")


def list_files(spark: SparkSession, folder: str, *, glob: str) -> list[ListedFile]:
    """Every file below `folder` (recursively) whose name matches `glob` (`*`, `?`, `[...]`, `{a,b}`)."""
    check_raw_path(folder)
    matches = _glob_matcher(glob)
    listed = _list_local(folder) if is_local(folder) else _list_hadoop(spark, folder)
    return [f for f in listed if matches(f.path.rsplit("/", 1)[-1])]


def is_readable(spark: SparkSession, path: str) -> bool:
    """Whether the file at `path` (as listed) still exists and can be opened."""
    if is_local(path):
        return os.access(local_path(path), os.R_OK) and Path(local_path(path)).is_file()
    try:
        jpath = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path)
        fs = jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        fs.open(jpath).close()
        return True
    except Exception:  # a py4j error: missing, no permission, or a name Hadoop cannot parse
        return False


def _list_local(folder: str) -> list[ListedFile]:
    root = Path(local_path(folder)).resolve()
    files = []
    for directory, _dirs, names in os.walk(root, followlinks=True):
        below = Path(directory).relative_to(root).parts
        for name in names:
            hidden = any(part.startswith(("_", ".")) for part in (*below, name))
            files.append(_local_file(Path(directory) / name, hidden=hidden))
    return sorted(files, key=lambda f: f.path)


def _local_file(path: Path, *, hidden: bool) -> ListedFile:
    stat = path.stat()
    return ListedFile(as_uri(str(path)), stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC), hidden)


def _list_hadoop(spark: SparkSession, folder: str) -> list[ListedFile]:
    """Hadoop's recursive listing (s3a://, abfss://, dbfs:/, hdfs:// ...), a few py4j calls per file."""
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(folder)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(root):
        raise RawPathError(f"raw path {shown(folder)} does not exist; set the source path")
    prefix = fs.makeQualified(root).toString().rstrip("/") + "/"
    files, entries = [], fs.listFiles(root, True)
    while entries.hasNext():
        status = entries.next()
        path = status.getPath().toString()
        below = path[len(prefix) :].split("/") if path.startswith(prefix) else [path.rsplit("/", 1)[-1]]
        hidden = any(part.startswith(("_", ".")) for part in below)
        modified = datetime.fromtimestamp(status.getModificationTime() / 1000, UTC)
        files.append(ListedFile(path, status.getLen(), modified, hidden))
    return sorted(files, key=lambda f: f.path)


def _glob_matcher(glob: str):
    """A name matcher for Hadoop-style globs: fnmatch plus `{a,b}` alternatives."""
    patterns = _expand_braces(glob)
    return lambda name: any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _expand_braces(glob: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", glob)
    if not match:
        return [glob]
    head, tail = glob[: match.start()], glob[match.end() :]
    return [expanded for option in match.group(1).split(",") for expanded in _expand_braces(head + option + tail)]
