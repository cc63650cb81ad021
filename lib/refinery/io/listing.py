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
from collections.abc import Callable
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


HIDDEN_NAME = "hidden name (starts with _ or .): Spark's readers never open it; rename it to ingest it"
LINK_OUTSIDE = "symbolic link to a target outside the source folder: not followed (ingest.follow_links)"
LINK_NOT_FOLLOWED = "symbolic link: not followed (ingest.follow_links: none)"
LINK_BROKEN = "symbolic link whose target does not exist"
LINK_CYCLE = "symbolic link to a folder that holds it: not followed (a cycle)"


@dataclass(frozen=True)
class ListedFile:
    """One entry below a source folder: its full path (as Spark's `path` column spells it; a link's own path,
    never its target's), size and age, and why it is skipped (None: it is read)."""

    path: str
    length: int
    modified_at: datetime
    skip: str | None = None


def check_raw_path(path: str) -> None:
    """Fail with one clear line when a local raw path does not exist, or is a file (remote paths are checked when
    listed): a source's path names a folder, and its glob picks the files in it."""
    if not is_local(path):
        return
    local = Path(local_path(path))
    if not local.exists():
        raise RawPathError(
            f"raw path {shown(path)} does not exist: put your raw files there, or point the source's path at their "
            "folder (ingest.sources[].path)"
        )
    if not local.is_dir():
        raise RawPathError(f"raw path {shown(path)} is a file: point the source's path at its folder (glob: its name)")


def check_eval_set(name: str, location: str) -> None:
    """A local eval-set path must exist (a URI is checked when Spark reads it)."""
    if is_local(location) and not Path(local_path(location)).exists():
        raise InputNotFoundError(f"eval set '{name}': path {location} does not exist")


def list_files(spark: SparkSession, folder: str, *, glob: str, follow_links: str = "inside") -> list[ListedFile]:
    """Every file below `folder` (recursively) whose name matches `glob` (`*`, `?`, `[...]`, `{a,b}`), with the
    skipped ones (hidden names, symbolic links not followed: a link to a folder is one entry) and the reason."""
    check_raw_path(folder)
    matches = _glob_matcher(glob)
    if is_local(folder):
        return _list_local(folder, matches, follow_links)
    return [f for f in _list_hadoop(spark, folder) if matches(f.path.rsplit("/", 1)[-1])]


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


def _list_local(folder: str, matches: Callable[[str], bool], follow_links: str) -> list[ListedFile]:
    """The files below a local folder whose names `matches`. A symbolic link (to a file or a folder) is followed
    by `follow_links`: `inside` when its target resolves inside the folder, `all` always, `none` never; one not
    followed is a skipped entry under its own name (its target is never recorded), as is a link whose target
    is gone."""
    root = Path(local_path(folder)).resolve()
    files = []
    for directory, dirs, names in os.walk(root, followlinks=True):
        here = Path(directory)
        below = here.relative_to(root).parts
        for name in list(dirs):
            skip = _link_skip(here / name, root, follow_links)
            if skip is None and (here / name).is_symlink() and here.resolve().is_relative_to((here / name).resolve()):
                skip = LINK_CYCLE
            if skip is not None:
                dirs.remove(name)
                files.append(ListedFile(_uri(here / name), 0, _link_time(here / name), skip))
        for name in filter(matches, names):
            path = here / name
            if (skip := _link_skip(path, root, follow_links)) is not None:
                files.append(ListedFile(_uri(path), 0, _link_time(path), skip))
                continue
            hidden = any(part.startswith(("_", ".")) for part in (*below, name))
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            files.append(ListedFile(_uri(path), stat.st_size, modified, HIDDEN_NAME if hidden else None))
    return sorted(files, key=lambda f: f.path)


def _link_skip(path: Path, root: Path, follow_links: str) -> str | None:
    """Why a symbolic link is not followed (None: it is, or `path` is no link)."""
    if not path.is_symlink():
        return None
    if not path.exists():
        return LINK_BROKEN
    if follow_links == "none":
        return LINK_NOT_FOLLOWED
    if follow_links == "inside" and not path.resolve().is_relative_to(root):
        return LINK_OUTSIDE
    return None


def _uri(path: Path) -> str:
    """A listed file's URI under its own name (a link is not resolved to its target)."""
    return as_uri(str(path), resolve_links=False)


def _link_time(path: Path) -> datetime:
    return datetime.fromtimestamp(path.lstat().st_mtime, UTC)


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
        files.append(ListedFile(path, status.getLen(), modified, HIDDEN_NAME if hidden else None))
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
